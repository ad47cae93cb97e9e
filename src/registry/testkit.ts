// Test helpers for the registry client's unit tests (not built into dist): a tiny registry look-alike server and
// a self-signed certificate made by the openssl CLI.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A tiny registry look-alike on 127.0.0.1: `handler` answers everything but the ping, which answers 200. */
export async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  body: (host: string, hits: () => number) => Promise<void>,
): Promise<void> {
  let n = 0;
  const server = createServer((req, res) => {
    if (req.url === "/v2/") {
      res.writeHead(200, { "content-length": "2" });
      res.end("{}");
      return;
    }
    handler(req, res, ++n);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await body(host, () => n);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * An EC P-256 key and a self-signed certificate for `cn` (with a DNS subjectAltName when `dnsName` is given),
 * valid one day, in a new temporary directory: `{ dir, keyPath, certPath }`.
 */
export function selfSignedCert(
  cn: string,
  dnsName?: string,
): { dir: string; keyPath: string; certPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "osless-cert-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
      ...(dnsName ? ["-addext", `subjectAltName=DNS:${dnsName}`] : []),
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  return { dir, keyPath, certPath };
}
