// The web view's server and JSON API through plain HTTP requests (no browser): answers, paging, limits, the
// download stream, and what it refuses (other methods, other Host headers, bad parameters, non-files).
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { Script } from "node:vm";
import { type HttpReply, httpRequest } from "../../../test/fixtures/explore.ts";
import { isOslessError } from "../../errors.ts";
import { type FakeLayer, fakeModel } from "../testkit.ts";
import type { DiveMetrics, ExactMetrics, ExplorerImageInfo, ExplorerLayer } from "../types.ts";
import type { Entry, TreemapNode } from "./api.ts";
import { CONTENT_SECURITY_POLICY, startWebServer, type WebServer } from "./index.ts";
import { PAGE_HTML } from "./page.html.ts";
import { PAGE_JS } from "./page.js.ts";

function get(base: string, path: string, opts: { method?: string; host?: string } = {}): Promise<HttpReply> {
  return httpRequest(new URL(path, base), opts);
}

/** Every field any answer of the API has (each test reads those of the endpoint it asks). */
interface Body {
  error: { status: number; message: string; hint?: string };
  image: ExplorerImageInfo;
  layers: ExplorerLayer[];
  metrics: { dive: DiveMetrics & { inefficientCount: number }; exact: ExactMetrics & { wasteCount: number } };
  largest: { path: string; size: number; layer: number }[];
  node: Entry;
  children: Entry[];
  total: number;
  matches: Entry[];
  truncated: boolean;
  layer: number;
  root: TreemapNode;
}

async function json(base: string, path: string): Promise<{ status: number; body: Body }> {
  const r = await get(base, path);
  assert.match(String(r.headers["content-type"]), /^application\/json/, `${path}: ${r.body.toString()}`);
  return { status: r.status, body: JSON.parse(r.body.toString("utf8")) };
}

const BIG = Buffer.alloc(300_000);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919) & 0xff;

const LAYERS: FakeLayer[] = [
  {
    files: {
      "etc/passwd": "root:x:0:0::/root:/bin/sh\n",
      "etc/hosts": "127.0.0.1 localhost\n",
      "usr/lib/libbig.so": BIG,
      "usr/lib/libsmall.so": Buffer.alloc(1000, 1),
      "usr/bin/tool": { data: Buffer.alloc(5000, 2), mode: 0o4755 },
      bin: { symlink: "usr/bin" },
      "var/cache/a.bin": Buffer.alloc(20_000, 3),
      "var/cache/b.bin": Buffer.alloc(10_000, 4),
    },
  },
  { command: "COPY app /app", files: { "app/main.js": "console.log(1)\n", "app/Data.JSON": "{}" } },
  {
    command: "RUN rm -rf /var/cache && chmod 600 /etc/hosts",
    files: {
      "var/cache": null,
      "etc/hosts": { data: "127.0.0.1 localhost\n", mode: 0o600 },
      "etc/passwd": "changed\n",
    },
  },
];

describe("explore web API", () => {
  let server: WebServer;
  let base: string;
  before(async () => {
    server = await startWebServer(fakeModel(LAYERS, { name: "demo:1" }));
    base = server.url;
  });
  after(async () => {
    await server.close();
  });

  test("the URL is on 127.0.0.1 with the bound port", () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(new URL(base).port, "0");
  });

  test("/api/image: image, layers with their counts, both metric sets", async () => {
    const { status, body } = await json(base, "/api/image");
    assert.equal(status, 200);
    assert.equal(body.image.name, "demo:1");
    assert.deepEqual(
      body.layers.map((l) => [l.index, l.command, l.added, l.modified, l.removed]),
      [
        [0, "", 8, 0, 0],
        [1, "COPY app /app", 2, 0, 0],
        [2, "RUN rm -rf /var/cache && chmod 600 /etc/hosts", 0, 2, 3],
      ],
    );
    assert.equal(body.metrics.dive.inefficientCount, 2);
    assert.deepEqual(
      body.metrics.dive.inefficient.map((f) => f.file),
      ["/etc/hosts", "/etc/passwd"],
    );
    assert.equal(typeof body.metrics.exact.efficiency, "number");
    assert.equal(body.metrics.exact.wasteCount, body.metrics.exact.waste.length);
    assert.deepEqual(body.largest[0], { path: "usr/lib/libbig.so", size: BIG.length, layer: 0 });
  });

  test("/api/image: dive's NaN and Infinity are sent as strings, not null", async () => {
    const one = await startWebServer(fakeModel([{ files: { a: "x" } }]));
    try {
      const { body } = await json(one.url, "/api/image");
      assert.equal(body.metrics.dive.userWastedPercent, "NaN");
      assert.equal(body.metrics.exact.userWastedPercent, null);
    } finally {
      await one.close();
    }
  });

  test("/api/tree: one directory's children with markers, sizes, modes, owners and link targets", async () => {
    const root = await json(base, "/api/tree?layer=2&mode=layer");
    assert.equal(root.status, 200);
    assert.deepEqual(
      root.body.children.map((c) => [c.name, c.type, c.marker]),
      [
        ["app", "directory", "unmodified"],
        ["bin", "symlink", "unmodified"],
        ["etc", "directory", "modified"],
        ["usr", "directory", "unmodified"],
        ["var", "directory", "modified"],
      ],
    );
    assert.equal(root.body.children[1]?.linkTarget, "usr/bin");
    assert.equal(root.body.total, 5);
    assert.equal(root.body.node.path, "");
    const etc = await json(base, "/api/tree?layer=2&path=/etc/");
    assert.deepEqual(
      etc.body.children.map((c) => [c.path, c.marker, c.mode, c.size]),
      [
        ["etc/hosts", "modified", 0o600, 20],
        ["etc/passwd", "modified", 0o644, 8],
      ],
    );
    const cache = await json(base, "/api/tree?layer=2&path=var/cache");
    assert.equal(cache.body.node.marker, "removed");
    assert.equal(cache.body.node.size, 30_000, "a removed directory keeps the size of what it held");
    assert.deepEqual(
      cache.body.children.map((c) => c.marker),
      ["removed", "removed"],
    );
    const usr = await json(base, "/api/tree?layer=2&path=usr/bin");
    assert.deepEqual(usr.body.children[0], {
      name: "tool",
      path: "usr/bin/tool",
      type: "file",
      size: 5000,
      mode: 0o4755,
      uid: 0,
      gid: 0,
      marker: "unmodified",
      layer: 0,
    });
  });

  test("/api/tree: compare modes and layers change the markers", async () => {
    const agg = await json(base, "/api/tree?layer=2&mode=aggregated&path=app");
    assert.deepEqual(
      agg.body.children.map((c) => c.marker),
      ["added", "added"],
    );
    const l1 = await json(base, "/api/tree?layer=1&mode=layer&path=app");
    assert.deepEqual(
      l1.body.children.map((c) => c.marker),
      ["added", "added"],
    );
    const l2 = await json(base, "/api/tree?layer=2&mode=layer&path=app");
    assert.deepEqual(
      l2.body.children.map((c) => c.marker),
      ["unmodified", "unmodified"],
    );
    const l0 = await json(base, "/api/tree?layer=0&path=etc");
    assert.deepEqual(
      l0.body.children.map((c) => c.marker),
      ["unmodified", "unmodified"],
      "layer 0 marks nothing",
    );
  });

  test("/api/tree: bad parameters are 400, a missing or non-directory path 404, with messages", async () => {
    const cases: [string, number, RegExp][] = [
      ["/api/tree?layer=3", 400, /layer=3 is not a layer of this image/],
      ["/api/tree?layer=-1", 400, /layer=-1/],
      ["/api/tree?layer=1.5", 400, /layer=1.5/],
      ["/api/tree?mode=squashed", 400, /mode=squashed is not a compare mode/],
      ["/api/tree?limit=0", 400, /limit=0 is out of range/],
      ["/api/tree?offset=x", 400, /offset=x is not a whole number/],
      ["/api/tree?path=nope", 404, /\/nope is not in the image as of layer 2/],
      ["/api/tree?path=etc/passwd", 404, /\/etc\/passwd is not a directory/],
    ];
    for (const [path, status, message] of cases) {
      const r = await json(base, path);
      assert.equal(r.status, status, path);
      assert.equal(r.body.error.status, status);
      assert.match(r.body.error.message, message, path);
    }
  });

  test("/api/search: substring (case-insensitive) and regex on full paths, removed paths marked", async () => {
    const sub = await json(base, "/api/search?q=json");
    assert.deepEqual(
      sub.body.matches.map((m) => m.path),
      ["app/Data.JSON"],
    );
    const re = await json(base, `/api/search?regex=1&q=${encodeURIComponent("^/usr/lib/lib[a-z]+\\.so$")}`);
    assert.deepEqual(
      re.body.matches.map((m) => m.path),
      ["usr/lib/libbig.so", "usr/lib/libsmall.so"],
    );
    assert.equal(re.body.truncated, false);
    const caseSensitive = await json(base, "/api/search?regex=1&q=json");
    assert.deepEqual(caseSensitive.body.matches, []);
    const removed = await json(base, "/api/search?q=cache/&layer=2");
    assert.deepEqual(
      removed.body.matches.map((m) => [m.path, m.marker]),
      [
        ["var/cache/a.bin", "removed"],
        ["var/cache/b.bin", "removed"],
      ],
    );
    const before = await json(base, "/api/search?q=app&layer=0");
    assert.deepEqual(before.body.matches, [], "app/ is not there yet at layer 0");
  });

  test("/api/search: results are capped and say so", async () => {
    const r = await json(base, "/api/search?q=/&limit=3");
    assert.equal(r.body.matches.length, 3);
    assert.equal(r.body.truncated, true);
    assert.deepEqual(
      r.body.matches.map((m) => m.path),
      ["app", "app/Data.JSON", "app/main.js"],
      "in tree order",
    );
    const max = await json(base, "/api/search?q=a&limit=1001");
    assert.equal(max.status, 400);
  });

  test("/api/search: a bad regex or an empty search is a 400 with the reason", async () => {
    const bad = await json(base, `/api/search?regex=1&q=${encodeURIComponent("lib(")}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^bad regular expression: .*Unterminated group/);
    assert.ok(bad.body.error.hint);
    const asText = await json(base, `/api/search?q=${encodeURIComponent("lib(")}`);
    assert.equal(asText.status, 200, "as plain text the same string is fine");
    const empty = await json(base, "/api/search?q=");
    assert.equal(empty.status, 400);
    assert.match(empty.body.error.message, /empty/);
  });

  test("/api/treemap: largest first, removed and empty entries left out, the rest summed, depth bounded", async () => {
    const r = await json(base, "/api/treemap?layer=2&depth=2&limit=1");
    assert.equal(r.status, 200);
    const root = r.body.root;
    assert.equal(root.path, "");
    assert.equal(root.children?.length, 1);
    const usr = root.children![0]!;
    assert.equal(usr.path, "usr");
    assert.deepEqual(
      usr.children?.map((c) => c.path),
      ["usr/lib"],
    );
    assert.equal(usr.children![0]!.children, undefined, "depth 2 stops there");
    assert.deepEqual(root.rest, { count: 2, size: 8 + 20 + 15 + 2 });
    const full = await json(base, "/api/treemap?layer=2&depth=1");
    assert.deepEqual(
      full.body.root.children?.map((c) => [c.path, c.size]),
      [
        ["usr", BIG.length + 6000],
        ["etc", 28],
        ["app", 17],
      ],
      "var/ (everything in it removed) and the symlink (0 bytes) are not drawn",
    );
    const l0 = await json(base, "/api/treemap?layer=0&path=var&depth=1");
    assert.deepEqual(
      l0.body.root.children?.map((c) => c.path),
      ["var/cache"],
    );
    const gone = await json(base, "/api/treemap?layer=2&path=var/cache");
    assert.equal(gone.status, 404);
    const deep = await json(base, "/api/treemap?depth=5");
    assert.equal(deep.status, 400);
  });

  test("/api/file: a regular file's bytes as an attachment, as of the layer asked", async () => {
    const r = await get(base, "/api/file?path=/usr/lib/libbig.so");
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/octet-stream");
    assert.equal(
      r.headers["content-disposition"],
      `attachment; filename="libbig.so"; filename*=UTF-8''libbig.so`,
    );
    assert.ok(r.body.equals(BIG), "the bytes are the file's");
    const old = await get(base, "/api/file?path=etc/passwd&layer=0");
    assert.equal(old.body.toString(), "root:x:0:0::/root:/bin/sh\n");
    const now = await get(base, "/api/file?path=etc/passwd");
    assert.equal(now.body.toString(), "changed\n");
  });

  test("/api/file: directories, links, removed and absent files are 404 with a message", async () => {
    const cases: [string, RegExp][] = [
      ["/api/file?path=etc", /\/etc is a directory, not a regular file/],
      ["/api/file?path=", /\/ is a directory/],
      ["/api/file?path=bin", /\/bin is a symbolic link, not a regular file/],
      ["/api/file?path=var/cache/a.bin", /\/var\/cache\/a.bin is not in the image as of layer 2/],
      ["/api/file?path=var/cache/a.bin&layer=0", /^$/],
      ["/api/file?path=nothing/here", /is not in the image/],
    ];
    for (const [path, message] of cases) {
      const r = await get(base, path);
      if (message.source === "^$") {
        assert.equal(r.status, 200, path);
        assert.equal(r.body.length, 20_000);
        continue;
      }
      assert.equal(r.status, 404, path);
      assert.match(JSON.parse(r.body.toString()).error.message, message, path);
    }
  });

  test("/api/file: a non-ASCII name keeps its exact form in filename* and an ASCII fallback", async () => {
    const s = await startWebServer(fakeModel([{ files: { 'dir/résumé "v2".txt': "x" } }]));
    try {
      const r = await get(s.url, `/api/file?path=${encodeURIComponent('dir/résumé "v2".txt')}`);
      assert.equal(r.status, 200);
      assert.equal(
        r.headers["content-disposition"],
        `attachment; filename="r_sum_ _v2_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt`,
      );
    } finally {
      await s.close();
    }
  });

  test("refuses methods other than GET", async () => {
    for (const method of ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"]) {
      const r = await get(base, "/api/image", { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, "GET");
      if (method !== "HEAD")
        assert.match(JSON.parse(r.body.toString()).error.message, new RegExp(`${method} is not allowed`));
    }
  });

  test("refuses a Host header that is not this server (DNS rebinding)", async () => {
    const port = new URL(base).port;
    for (const host of [
      "evil.example",
      `evil.example:${port}`,
      "127.0.0.1",
      `127.0.0.1:${Number(port) + 1}`,
      `[::1]:${port}`,
    ]) {
      const r = await get(base, "/api/image", { host });
      assert.equal(r.status, 403, host);
      assert.match(JSON.parse(r.body.toString()).error.message, /is not this server/);
    }
    const page = await get(base, "/", { host: "rebound.example" });
    assert.equal(page.status, 403, "the page too");
    const ok = await get(base, "/api/image", { host: `localhost:${port}` });
    assert.equal(ok.status, 200, "localhost:PORT is this server");
  });

  test("anything outside the page and the API is a 404", async () => {
    for (const path of ["/api", "/api/", "/api/images", "/app.js.map", "/../etc/passwd", "/favicon.ico"]) {
      const r = await get(base, path);
      assert.equal(r.status, 404, path);
    }
  });

  test("the page and its assets: types, a strict CSP on every answer, no inline script or style", async () => {
    const page = await get(base, "/");
    assert.equal(page.status, 200);
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    const js = await get(base, "/app.js");
    assert.equal(js.headers["content-type"], "text/javascript; charset=utf-8");
    const css = await get(base, "/app.css");
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    for (const r of [page, js, css, await get(base, "/api/image"), await get(base, "/nothing")]) {
      assert.equal(r.headers["content-security-policy"], CONTENT_SECURITY_POLICY);
      assert.equal(r.headers["x-content-type-options"], "nosniff");
      assert.equal(r.headers["cache-control"], "no-store");
    }
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe/);
    const html = page.body.toString();
    for (const m of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      assert.match(m[0], /\ssrc="\/app\.js"/);
      assert.equal(m[1], "", "no inline script");
    }
    assert.doesNotMatch(html, /\sstyle=|<style|\son[a-z]+=/i, "no inline style or event handler");
    assert.equal(html, PAGE_HTML);
  });

  test("the page's script is valid JavaScript and never sets HTML from data", () => {
    assert.doesNotThrow(() => new Script(PAGE_JS, { filename: "app.js" }));
    assert.doesNotMatch(
      PAGE_JS,
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
    );
  });

  test("a large directory is read page by page, never whole", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12_000; i++) files[`data/f${String(i).padStart(5, "0")}`] = "x";
    const s = await startWebServer(fakeModel([{ files }]));
    try {
      const first = await json(s.url, "/api/tree?path=data");
      assert.equal(first.body.total, 12_000);
      assert.equal(first.body.children.length, 1000);
      assert.equal(first.body.children[0]?.name, "f00000");
      const page = await json(s.url, "/api/tree?path=data&offset=11500&limit=5000");
      assert.equal(page.body.children.length, 500);
      assert.equal(page.body.children[0]?.name, "f11500");
      const tooMany = await json(s.url, "/api/tree?path=data&limit=5001");
      assert.equal(tooMany.status, 400);
      const map = await json(s.url, "/api/treemap?path=data&limit=200");
      assert.equal(map.body.root.children?.length, 200);
      assert.deepEqual(map.body.root.rest, { count: 11_800, size: 11_800 });
    } finally {
      await s.close();
    }
  });
});

describe("explore web server lifecycle", () => {
  test("close() stops it; a closed server refuses connections", async () => {
    const s = await startWebServer(fakeModel([{ files: { a: "x" } }]));
    assert.equal((await get(s.url, "/api/image")).status, 200);
    await s.close();
    await s.close();
    await assert.rejects(get(s.url, "/api/image"), /ECONNREFUSED/);
  });

  test("aborting the signal closes it", async () => {
    const ac = new AbortController();
    const s = await startWebServer(fakeModel([{ files: { a: "x" } }]), { signal: ac.signal });
    assert.equal((await get(s.url, "/")).status, 200);
    ac.abort();
    await s.close();
    await assert.rejects(get(s.url, "/"), /ECONNREFUSED/);
  });

  test("a given port is used; a port in use is E_IO with a hint; a bad port E_USAGE", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startWebServer(fakeModel([{ files: { a: "x" } }]), { port: taken }),
        (e) => isOslessError(e, "E_IO") && /127\.0\.0\.1:\d+: the port is in use/.test(e.message) && !!e.hint,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    const s = await startWebServer(fakeModel([{ files: { a: "x" } }]), { port: taken });
    try {
      assert.equal(s.url, `http://127.0.0.1:${taken}/`);
    } finally {
      await s.close();
    }
    for (const port of [-1, 65536, 1.5, Number.NaN])
      await assert.rejects(startWebServer(fakeModel([{ files: { a: "x" } }]), { port }), (e) =>
        isOslessError(e, "E_USAGE"),
      );
  });
});
