import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { selfSignedCert } from "./testkit.ts";
import { Transport } from "./transport.ts";

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

const v2 = (_req: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(200, {
    "content-type": "application/json",
    "docker-distribution-api-version": "registry/2.0",
  });
  res.end("{}");
};

test("a loopback registry: plain http is asked first; a TLS-only one is reached over https (its certificate unchecked)", async () => {
  const { keyPath, certPath } = selfSignedCert("127.0.0.1");
  const tls = createHttpsServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, v2);
  const plain = createHttpServer(v2);
  const [tlsHost, plainHost] = [await listen(tls), await listen(plain)];
  try {
    const a = new Transport(plainHost, { retry: { attempts: 2, baseDelayMs: 10 } });
    assert.equal(await a.base(), `http://${plainHost}`);
    await a.close();
    const t0 = Date.now();
    const b = new Transport(tlsHost, { retry: { attempts: 2, baseDelayMs: 10 } });
    assert.equal(await b.base(), `https://${tlsHost}`);
    await b.close();
    assert.ok(Date.now() - t0 < 5000, "falling back from http to https does not wait out retries");
    // Not loopback and not marked insecure: https only, so a plain-http registry is an error, never a downgrade.
    const c = new Transport("registry.invalid:5000");
    assert.equal(c.insecure, false);
    await c.close();
  } finally {
    tls.close();
    plain.close();
  }
});

test("Basic credentials the registry refused are not sent a second time", async () => {
  let withAuth = 0;
  const server = createHttpServer((req, res) => {
    if (req.headers.authorization) withAuth++;
    res.writeHead(401, { "www-authenticate": 'Basic realm="test"', "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
  });
  const host = await listen(server);
  try {
    const t = new Transport(host, {
      credentials: async () => ({ username: "u", password: "wrong", source: "test" }),
      retry: { attempts: 2, baseDelayMs: 10 },
    });
    await assert.rejects(
      t.request({ method: "GET", url: "/v2/x/manifests/1", scopes: ["repository:x:pull"] }),
      (e: Error & { code?: string }) => e.code === "E_UNAUTHORIZED" && /failed/.test(e.message),
    );
    assert.equal(withAuth, 1);
    await t.close();
  } finally {
    server.close();
  }
});
