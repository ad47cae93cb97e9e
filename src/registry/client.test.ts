import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { OslessError } from "../errors.ts";
import { RegistryClient } from "./client.ts";

/** A registry look-alike on 127.0.0.1: the ping answers 200, `handler` answers the rest. */
async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  body: (host: string) => Promise<void>,
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
    await body(host);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const blobBytes = Buffer.from("0123456789abcdefghij");
const blob = {
  digest: `sha256:${createHash("sha256").update(blobBytes).digest("hex")}`,
  size: blobBytes.length,
};

function isCode(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof OslessError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  };
}

describe("refused bodies are not read to their end", () => {
  // Each server below announces a body and then sends it slowly (or never): a client that reads what it has
  // already refused waits for the idle timeout (10 s here) instead of failing at once.
  const opts = { retry: { attempts: 1, baseDelayMs: 1 }, bodyTimeoutMs: 10_000 };

  test("a manifest whose Content-Length is over 4 MiB fails at once", async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, {
          "content-type": "application/vnd.oci.image.manifest.v1+json",
          "content-length": String(1 << 30),
        });
        res.write("{");
      },
      async (host) => {
        const c = new RegistryClient(host, opts);
        try {
          const start = Date.now();
          await assert.rejects(c.repository("x").getManifest("latest"), isCode("E_MANIFEST_TOO_LARGE"));
          assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
        } finally {
          await c.close();
        }
      },
    );
  });

  test("a blob whose Content-Length is not the descriptor's size fails at once", async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { "content-length": String(1 << 30) });
        res.write("x");
      },
      async (host) => {
        const c = new RegistryClient(host, opts);
        try {
          const start = Date.now();
          await assert.rejects(async () => {
            for await (const _ of c.repository("x").blob(blob)) {
              // nothing
            }
          }, isCode("E_SIZE_MISMATCH"));
          assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
        } finally {
          await c.close();
        }
      },
    );
  });

  test("a 206 with the wrong Content-Range is dropped, not read, before the next resume", async () => {
    await withServer(
      (req, res, n) => {
        if (n === 1) {
          // Half the blob, then the connection drops.
          res.writeHead(200, { "content-length": String(blob.size) });
          res.write(blobBytes.subarray(0, 10));
          setTimeout(() => res.destroy(), 20);
          return;
        }
        if (n === 2) {
          assert.equal(req.headers.range, "bytes=10-");
          // A wrong range whose body trickles: reading it would take the idle timeout.
          res.writeHead(206, { "content-range": `bytes 0-19/${blob.size}`, "content-length": "20" });
          res.write("0");
          return;
        }
        res.writeHead(206, { "content-range": `bytes 10-19/${blob.size}`, "content-length": "10" });
        res.end(blobBytes.subarray(10));
      },
      async (host) => {
        const c = new RegistryClient(host, opts);
        try {
          const start = Date.now();
          const chunks: Buffer[] = [];
          for await (const b of c.repository("x").blob(blob)) chunks.push(b);
          assert.deepEqual(Buffer.concat(chunks), blobBytes);
          assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
        } finally {
          await c.close();
        }
      },
    );
  });
});

describe("pushBlob", () => {
  test("an upload that fails with 503 is started again after a backoff, not at once", async () => {
    const puts: number[] = [];
    await withServer(
      (req, res) => {
        if (req.method === "HEAD") {
          res.writeHead(404, { "content-length": "0" });
          res.end();
        } else if (req.method === "POST") {
          res.writeHead(202, { location: `/v2/x/blobs/uploads/${Math.random()}`, "content-length": "0" });
          res.end();
        } else if (req.method === "PUT") {
          req.resume();
          req.on("end", () => {
            puts.push(Date.now());
            res.writeHead(puts.length < 3 ? 503 : 201, { "content-length": "0" });
            res.end();
          });
        } else {
          res.writeHead(405, { "content-length": "0" });
          res.end();
        }
      },
      async (host) => {
        const c = new RegistryClient(host, { retry: { attempts: 5, baseDelayMs: 300, factor: 1 } });
        try {
          const r = await c.repository("x").pushBlob(blob, async function* () {
            yield blobBytes;
          });
          assert.equal(r.status, "uploaded");
          assert.equal(puts.length, 3);
          for (let i = 1; i < puts.length; i++) {
            const gap = (puts[i] as number) - (puts[i - 1] as number);
            assert.ok(gap >= 250, `upload ${i + 1} started ${gap} ms after the failed one`);
          }
        } finally {
          await c.close();
        }
      },
    );
  });
});
