import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { OslessError } from "../errors.ts";
import { RegistryClient } from "./client.ts";
import { selfSignedCert, withServer } from "./testkit.ts";

/** A registry look-alike on 127.0.0.1: the ping answers 200, `handler` answers the rest. */
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

describe("credentials never travel over plain http to a registry that is not marked insecure", () => {
  // A registry behind a TLS proxy that does not forward the scheme answers upload POSTs with
  // `Location: http://<its host>/…`: same host, so the Authorization header would go out in clear text. The
  // registry must be a non-loopback, TLS-verified one, so this runs in a child process that trusts a test CA
  // (NODE_EXTRA_CA_CERTS is read at start-up) and resolves registry.osless.test to 127.0.0.1.
  test("an upload Location on plain http is refused and gets no Authorization", async () => {
    const { spawnSync } = await import("node:child_process");
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { dir } = selfSignedCert("registry.osless.test", "registry.osless.test");
    const script = join(dir, "run.mts");
    writeFileSync(
      script,
      `
import dns from "node:dns";
import { readFileSync } from "node:fs";
import { createServer as httpServer } from "node:http";
import { createServer as httpsServer } from "node:https";
import { connect, createServer as netServer } from "node:net";
import { RegistryClient } from ${JSON.stringify(new URL("./client.ts", import.meta.url).pathname)};
const HOST = "registry.osless.test";
const lookup = dns.lookup;
(dns as any).lookup = (h: string, o: any, cb: any) => {
  if (typeof o === "function") [cb, o] = [o, {}];
  if (h !== HOST) return lookup(h, o, cb);
  return o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
};
const plainAuth: (string | null)[] = [];
let port = 0;
const tls = httpsServer({ key: readFileSync(${JSON.stringify(join(dir, "key.pem"))}), cert: readFileSync(${JSON.stringify(join(dir, "cert.pem"))}) }, (req, res) => {
  if (req.url === "/v2/" && !req.headers.authorization) {
    res.writeHead(401, { "www-authenticate": 'Basic realm="test"', "content-length": "0" });
  } else if (req.method === "HEAD") {
    res.writeHead(404, { "content-length": "0" });
  } else if (req.method === "POST") {
    res.writeHead(202, { location: \`http://\${HOST}:\${port}/v2/x/blobs/uploads/u1\`, "content-length": "0" });
  } else res.writeHead(200, { "content-length": "0" });
  res.end();
});
const plain = httpServer((req, res) => {
  plainAuth.push(req.headers.authorization ?? null);
  req.resume();
  res.writeHead(201, { "content-length": "0" });
  res.end();
});
// One port for both: a TLS handshake goes to the https server, anything else to the plain one.
const listen = (s: any) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)));
const [tlsPort, plainPort] = [await listen(tls), await listen(plain)];
const server = netServer((socket) => {
  socket.once("data", (b) => {
    const up = connect(b[0] === 0x16 ? tlsPort : plainPort, "127.0.0.1");
    up.write(b);
    socket.pipe(up).pipe(socket);
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
});
port = await listen(server);
const c = new RegistryClient(\`\${HOST}:\${port}\`, {
  retry: { attempts: 1 },
  credentials: async () => ({ username: "u", password: "s3cret", source: "test" }),
});
const bytes = Buffer.from("hello");
let code: string | undefined;
try {
  await c.repository("x").pushBlob({ digest: "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", size: 5 }, async function* () { yield bytes; });
} catch (e) {
  code = (e as any).code ?? String(e);
}
await c.close();
console.log(JSON.stringify({ code, plainAuth }));
process.exit(0);
`,
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as {
      code?: string;
      plainAuth: (string | null)[];
    };
    assert.deepEqual(
      out.plainAuth.filter((a) => a !== null),
      [],
      "credentials went out over plain http",
    );
    assert.equal(out.code, "E_REGISTRY");
  });
});
