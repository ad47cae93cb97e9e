import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { OslessError } from "../errors.ts";
import { withServer } from "./testkit.ts";
import { isNonPublicAddress, isTransportError, parseRetryAfter, Transport } from "./transport.ts";

describe("parseRetryAfter", () => {
  const now = Date.UTC(2024, 5, 1, 12, 0, 0); // a whole second, as HTTP-dates are

  test("delta-seconds", () => {
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("2", now), 2000);
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter(" 7 ", now), 7000);
  });

  test("the first of several header values", () => {
    assert.equal(parseRetryAfter(["3", "9"], now), 3000);
  });

  test("an HTTP-date in the future: the time until then", () => {
    const at = new Date(now + 30_000).toUTCString(); // IMF-fixdate: "Sat, 01 Jun 2024 12:00:30 GMT"
    assert.match(at, /GMT$/);
    assert.equal(parseRetryAfter(at, now), 30_000);
  });

  test("the obsolete RFC 850 HTTP-date form is read too", () => {
    assert.equal(parseRetryAfter("Saturday, 01-Jun-24 12:01:00 GMT", now), 60_000);
  });

  test("an HTTP-date in the past: no wait (never negative)", () => {
    assert.equal(parseRetryAfter(new Date(now - 3_600_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
  });

  test("absent or blank: undefined", () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter("", now), undefined);
    assert.equal(parseRetryAfter("   ", now), undefined);
    assert.equal(parseRetryAfter([], now), undefined);
  });

  test("garbage: undefined (the caller then backs off), never a date the JS parser guessed", () => {
    // V8's Date.parse reads "1.5" as 2001-01-05 and "foo 1" as 2001-01-01: those must not become "retry now".
    for (const v of [
      "soon",
      "tomorrow",
      "5s",
      "2 minutes",
      "1.5",
      "-5",
      "+3",
      "1e3",
      "0x10",
      "foo 1",
      "abc 2025",
      "12abc",
      "NaN",
      "Infinity",
    ]) {
      assert.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
    }
  });
});

describe("isNonPublicAddress", () => {
  test("loopback", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]", "localhost", "LocalHost"]) {
      assert.equal(isNonPublicAddress(h), true, h);
    }
  });

  test("private ranges (RFC 1918, CGNAT, unique local IPv6)", () => {
    for (const h of [
      "10.0.0.1",
      "10.255.255.255",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.0.1",
      "192.168.1.100",
      "100.64.0.1",
      "fc00::1",
      "fd12:3456::1",
      "[fd00::53]",
    ]) {
      assert.equal(isNonPublicAddress(h), true, h);
    }
  });

  test("link-local, including the cloud metadata address", () => {
    for (const h of [
      "169.254.169.254",
      "169.254.0.1",
      "fe80::1",
      "[fe80::1]",
      "fe80::abcd:1234",
      "febf::1",
    ]) {
      assert.equal(isNonPublicAddress(h), true, h);
    }
  });

  test("unspecified and 'this network' addresses (they reach the local host)", () => {
    for (const h of ["0.0.0.0", "0.1.2.3", "::", "[::]"]) assert.equal(isNonPublicAddress(h), true, h);
  });

  test("IPv4-mapped IPv6 addresses are not a way around the checks", () => {
    for (const h of [
      "::ffff:127.0.0.1",
      "[::ffff:169.254.169.254]",
      "::ffff:a9fe:a9fe",
      "[::ffff:10.0.0.1]",
    ]) {
      assert.equal(isNonPublicAddress(h), true, h);
    }
  });

  test("host names as URL parsing leaves them: odd IPv4 spellings are normalised to a literal first", () => {
    for (const u of [
      "http://0x7f000001/",
      "http://127.1/",
      "http://2130706433/",
      "http://0251.0376.0251.0376/",
      "http://[::ffff:169.254.169.254]/",
      "http://[0:0:0:0:0:0:0:1]/",
    ]) {
      const host = new URL(u).hostname;
      assert.equal(isNonPublicAddress(host), true, `${u} -> ${host}`);
    }
  });

  test("public addresses", () => {
    for (const h of [
      "8.8.8.8",
      "1.1.1.1",
      "11.0.0.1",
      "9.255.255.255",
      "172.15.255.255",
      "172.32.0.1",
      "169.255.0.1",
      "192.169.0.1",
      "100.128.0.1",
      "128.0.0.1",
      "2001:4860:4860::8888",
      "[2606:4700:4700::1111]",
      "fec0::1",
    ]) {
      assert.equal(isNonPublicAddress(h), false, h);
    }
  });

  test("host names are not resolved: they are not judged non-public (except localhost)", () => {
    for (const h of [
      "registry-1.docker.io",
      "auth.docker.io",
      "ghcr.io",
      "example.com",
      "10.example.com",
      "metadata",
    ]) {
      assert.equal(isNonPublicAddress(h), false, h);
    }
  });

  test("malformed bracketed or partial literals are not crashes", () => {
    for (const h of ["[", "[]", "[::1", "", "999.1.1.1", "1.2.3"]) {
      assert.equal(typeof isNonPublicAddress(h), "boolean", h);
    }
  });
});

describe("isTransportError", () => {
  const withCode = (code: string) => Object.assign(new Error(`x ${code}`), { code });

  test("connection-level failures are retryable", () => {
    for (const c of ["ECONNRESET", "EPIPE", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_BODY_TIMEOUT"]) {
      assert.equal(isTransportError(withCode(c)), true, c);
    }
    assert.equal(isTransportError(new Error("other side closed")), true);
    assert.equal(isTransportError(new Error("Premature close")), true);
    assert.equal(isTransportError(new Error("socket hang up")), true);
  });

  test("osless errors, aborts, unknown errors and non-errors are not", () => {
    assert.equal(isTransportError(new OslessError("E_NETWORK", "cannot reach x: ECONNRESET")), false);
    assert.equal(isTransportError(withCode("ENOTFOUND")), false);
    assert.equal(isTransportError(withCode("ABORT_ERR")), false);
    assert.equal(isTransportError(new Error("boom")), false);
    assert.equal(isTransportError(undefined), false);
    assert.equal(isTransportError("ECONNRESET"), false);
  });
});

describe("Transport retries honour Retry-After", () => {
  test("503 with Retry-After: 1 waits about a second although the backoff base is 10 ms", async () => {
    await withServer(
      (_req, res, n) => {
        if (n === 1) {
          res.writeHead(503, { "retry-after": "1", "content-length": "0" });
          res.end();
        } else {
          res.writeHead(200, { "content-length": "2" });
          res.end("ok");
        }
      },
      async (host, hits) => {
        const t = new Transport(host, { retry: { attempts: 3, baseDelayMs: 10 } });
        try {
          const start = Date.now();
          const res = await t.request({ method: "GET", url: "/v2/x/tags/list", scopes: [] });
          await res.body.dump();
          const took = Date.now() - start;
          assert.equal(res.statusCode, 200);
          assert.equal(hits(), 2);
          assert.ok(took >= 900, `waited only ${took} ms`);
          assert.ok(took < 5000, `waited ${took} ms`);
        } finally {
          await t.close();
        }
      },
    );
  });

  test("Retry-After beyond maxDelayMs is capped", async () => {
    await withServer(
      (_req, res, n) => {
        res.writeHead(n < 3 ? 429 : 200, { "retry-after": "3600", "content-length": "0" });
        res.end();
      },
      async (host, hits) => {
        const t = new Transport(host, { retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 } });
        try {
          const start = Date.now();
          const res = await t.request({ method: "GET", url: "/v2/x/tags/list", scopes: [] });
          await res.body.dump();
          assert.equal(res.statusCode, 200);
          assert.equal(hits(), 3);
          assert.ok(Date.now() - start < 2000);
        } finally {
          await t.close();
        }
      },
    );
  });

  test("the last retryable answer is returned once the attempts are used up", async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(500, { "content-length": "0" });
        res.end();
      },
      async (host, hits) => {
        const t = new Transport(host, { retry: { attempts: 3, baseDelayMs: 1 } });
        try {
          const res = await t.request({ method: "GET", url: "/v2/x/tags/list", scopes: [] });
          await res.body.dump();
          assert.equal(res.statusCode, 500);
          assert.equal(hits(), 3);
        } finally {
          await t.close();
        }
      },
    );
  });
});

describe("Transport: an unreachable registry", () => {
  test("a refused first contact fails at once with E_NETWORK naming host:port and ECONNREFUSED (no minute of backoff)", async () => {
    // A port that was just free: bind, read, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const t = new Transport(`127.0.0.1:${port}`, { retry: { attempts: 5, baseDelayMs: 1000 } });
    const start = Date.now();
    try {
      await assert.rejects(t.ping(), (e: unknown) => {
        assert.ok(e instanceof OslessError, String(e));
        assert.equal(e.code, "E_NETWORK");
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.match(e.message, /ECONNREFUSED/);
        assert.match(e.hint ?? "", /running on that host and port/);
        return true;
      });
    } finally {
      await t.close();
    }
    assert.ok(Date.now() - start < 900, `took ${Date.now() - start} ms: the refused connection was retried`);
  });
});

describe("Transport connection reuse", () => {
  test("dumped responses give their connection back: 40 HEAD and 40 small GETs on one transport are quick", async () => {
    await withServer(
      (req, res) => {
        res.writeHead(200, { "content-length": "5" });
        res.end(req.method === "HEAD" ? undefined : "hello");
      },
      async (host, hits) => {
        // A long idle timeout: a connection kept by an unread response would hold the pool (16) for that long.
        const t = new Transport(host, { retry: { attempts: 1 }, bodyTimeoutMs: 30_000 });
        try {
          const start = Date.now();
          for (let i = 0; i < 40; i++) {
            for (const method of ["HEAD", "GET"] as const) {
              const res = await t.request({ method, url: `/v2/x/blobs/${i}`, scopes: [] });
              assert.equal(res.statusCode, 200);
              await res.body.dump();
            }
          }
          assert.equal(hits(), 80);
          assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
        } finally {
          await t.close();
        }
      },
    );
  });
});

describe("Transport and the caller's AbortSignal", () => {
  test("many requests in flight on one signal print no MaxListenersExceededWarning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    await withServer(
      (_req, res) => {
        setTimeout(() => {
          res.writeHead(200, { "content-length": "2" });
          res.end("ok");
        }, 30);
      },
      async (host, hits) => {
        const ac = new AbortController();
        const t = new Transport(host, { retry: { attempts: 1 }, signal: ac.signal });
        try {
          await Promise.all(
            Array.from({ length: 24 }, async (_, i) => {
              const res = await t.request({ method: "GET", url: `/v2/x/blobs/${i}`, scopes: [] });
              await res.body.dump();
            }),
          );
          assert.equal(hits(), 24);
          await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
        } finally {
          await t.close();
          process.off("warning", onWarning);
        }
      },
    );
    assert.deepEqual(
      warnings.filter((w) => w.includes("MaxListeners")),
      [],
    );
  });
});
