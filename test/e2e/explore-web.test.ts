// `osless explore --web` in a real browser (Debian's chromium through playwright-core): the page on the server
// of src/explorer/web, first over a model built in the test (src/explorer/testkit.ts), then over the real
// model of an image built by umoci and copied into a store. One scenario for both: a base layer, then layers that
// add files, modify, chmod and delete files and a directory, and add more. The page must show the layers, the
// tree with dive's markers and colours in both compare modes, search and reveal, a treemap whose areas follow the
// sizes, and downloads with the file's exact bytes as of the layer shown; the server must refuse what it should.
// The real-image run takes the screenshots of docs/explore.md (written there with OSLESS_UPDATE_DOCS=1).
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { tmpdir as osTmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type FakeFile, type FakeLayer, fakeModel } from "../../src/explorer/testkit.ts";
import type { ExplorerModel } from "../../src/explorer/types.ts";
import { startWebServer, type WebServer } from "../../src/explorer/web/index.ts";
import { closeBrowser, launchBrowser, pageProblems } from "../fixtures/browser.ts";
import { httpRequest, noise } from "../fixtures/explore.ts";
import { type FileSpec, type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { busyboxRootfsPath } from "../fixtures/rootfs.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

// Runs in the page (the callbacks of evaluate are serialised); the project's TypeScript has no DOM library.
declare function getComputedStyle(e: unknown): { color: string; textDecorationLine: string };

/**
 * Screenshots go to the test output directory ($OSLESS_TEST_OUTPUT/explore-web, as the terminal captures do); with
 * OSLESS_UPDATE_DOCS=1 they replace docs/images/explore-web-*.png, the pictures of docs/explore.md. A test run
 * does not otherwise touch the repository.
 */
const SHOTS =
  process.env.OSLESS_UPDATE_DOCS === "1"
    ? new URL("../../docs/images/", import.meta.url).pathname
    : join(process.env.OSLESS_TEST_OUTPUT ?? join(osTmpdir(), "osless-test-output"), "explore-web");

const SERVER_V1 = noise(800_000, 1);
const SERVER_V2 = noise(820_000, 2);
const PASSWD_V2 =
  "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/app:/bin/sh\n";

/** Layers 1.. of the scenario, as image fixture files (`.wh.NAME` deletes NAME). */
const UPPER: Record<string, FileSpec>[] = [
  {
    "app/bin/server": { data: SERVER_V1, mode: 0o755 },
    "app/lib/libfoo.so": noise(300_000, 3),
    "app/lib/libbar.so": noise(120_000, 4),
    "app/static/index.html": "<!doctype html><title>app</title>\n",
    "app/static/app.css": "body { margin: 0 }\n",
    "app/config.json": '{"listen": ":8080"}\n',
    "var/cache/pkg/index.db": noise(500_000, 5),
    "var/cache/pkg/a.deb": noise(200_000, 6),
    "tmp/build.log": noise(50_000, 7),
  },
  {
    "etc/passwd": PASSWD_V2,
    "app/config.json": { data: '{"listen": ":8080"}\n', mode: 0o600 },
    "app/bin/server": { data: SERVER_V2, mode: 0o755 },
    "tmp/.wh.build.log": "",
    "var/cache/.wh.pkg": "",
  },
  {
    "app/static/big.js": noise(200_000, 8),
    "etc/motd": "welcome\n",
  },
];

/** The same layers for the test-built model, with a small base instead of busybox. */
function fakeLayers(): FakeLayer[] {
  const base: FakeLayer = {
    files: {
      "bin/busybox": { data: noise(1_000_000, 9), mode: 0o755 },
      "bin/sh": { symlink: "/bin/busybox" },
      "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
      "etc/group": "root:x:0:\n",
      tmp: { dir: true, mode: 0o1777 },
    },
  };
  const upper = UPPER.map((files, i): FakeLayer => {
    const out: Record<string, FakeFile | null> = {};
    for (const [p, spec] of Object.entries(files)) {
      const slash = p.lastIndexOf("/");
      const name = p.slice(slash + 1);
      if (name.startsWith(".wh.")) out[p.slice(0, slash + 1) + name.slice(4)] = null;
      else out[p] = spec as FakeFile;
    }
    return { command: `osless test fixture layer ${i + 1}`, files: out };
  });
  return [base, ...upper];
}

function imageSpec(): ImageSpec {
  return { layers: [{ dir: busyboxRootfsPath() }, ...UPPER.map((files) => ({ files }))], cmd: ["sh"] };
}

/** The real model of the scenario image, copied into a fresh store with `osless copy`. */
async function realModel(): Promise<ExplorerModel> {
  const root = join(await tmpdir("explore-web-"), "store");
  const r = await osless(root, [
    "copy",
    "-q",
    `oci:${await ociLayout(imageSpec(), "v1")}:v1`,
    "explore-web:v1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  // Imported here, not at the top, so that the test-built model's part runs on its own.
  const { exploreStoreImage } = await import("../../src/explorer/model.ts");
  const { Store } = await import("../../src/store/layout.ts");
  return exploreStoreImage(await Store.open(root), "explore-web:v1");
}

async function plainGet(
  url: string,
  opts: { method?: string; host?: string } = {},
): Promise<{ status: number; body: string }> {
  const r = await httpRequest(url, opts);
  return { status: r.status, body: r.body.toString("utf8") };
}

const row = (path: string) => `#tree .row[data-path="${path}"]`;

async function attr(page: Page, selector: string, name: string): Promise<string | null> {
  return page.locator(selector).first().getAttribute(name);
}

/** Waits for `selector` (the state the page must reach), failing with `what` and the page's tree. */
async function reach(page: Page, selector: string, what: string): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: 10_000 });
  } catch {
    const rows = await page
      .locator("#tree .row")
      .evaluateAll((els) =>
        els.map((e) => `${e.getAttribute("data-path")} ${e.getAttribute("data-marker")}`),
      );
    const err = await page.locator("#error").textContent();
    assert.fail(`${what}: ${selector} never appeared; tree rows: ${rows.join(", ")}; error banner: ${err}`);
  }
}

async function selectLayer(page: Page, i: number): Promise<void> {
  await page.click(`#layers tbody tr[data-layer="${i}"]`);
  await reach(page, `#layers tbody tr.selected[data-layer="${i}"]`, `layer ${i} selected`);
}

async function expand(page: Page, path: string, child: string): Promise<void> {
  // A click can land while the tree is being redrawn (after a layer was selected) and be lost with the old row:
  // click again while the row is still collapsed, then require the child as before.
  for (let i = 0; i < 3; i++) {
    const r = page.locator(row(path));
    if ((await r.getAttribute("aria-expanded")) !== "true") await r.locator(".toggle").click();
    if (
      await page
        .locator(row(child))
        .waitFor({ timeout: 2_000 })
        .then(
          () => true,
          () => false,
        )
    )
      return;
  }
  await reach(page, row(child), `${path}/ expanded`);
}

async function download(page: Page, path: string): Promise<Buffer> {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.locator(`${row(path)} a.dl`).click()]);
  assert.equal(dl.suggestedFilename(), path.slice(path.lastIndexOf("/") + 1));
  const file = await dl.path();
  return readFile(file);
}

interface Box {
  path: string;
  size: number;
  area: number;
}

async function treemapBoxes(page: Page): Promise<Box[]> {
  return page.locator("#treemap > .tm[data-path]").evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return {
        path: e.getAttribute("data-path") ?? "",
        size: Number(e.getAttribute("data-size")),
        area: r.width * r.height,
      };
    }),
  );
}

/** The scenario on a served model. `shots`: write docs/images/explore-web-*.png. */
async function exercise(browser: Browser, model: ExplorerModel, shots: boolean): Promise<void> {
  const server: WebServer = await startWebServer(model);
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await page.goto(server.url);
    await reach(page, "body[data-ready=true]", "the page loads its model");

    // The layer list: one row per layer with dive's size, the change counts and the command; the last selected.
    const rows = page.locator("#layers tbody tr");
    assert.equal(await rows.count(), model.layers.length);
    for (const l of model.layers) {
      const r = page.locator(`#layers tbody tr[data-layer="${l.index}"]`);
      const cells = await r.locator("td").allTextContents();
      assert.equal(cells[0], String(l.index));
      assert.equal(
        await r.locator("td").nth(1).getAttribute("title"),
        `${l.size.toLocaleString("en-US")} bytes`,
      );
      assert.equal(cells[2], `+${l.added} ~${l.modified} -${l.removed}`);
      if (l.command) assert.equal(cells[3], l.command);
    }
    assert.equal(model.layers[3]!.command, "osless test fixture layer 3");
    assert.equal(await attr(page, "#layers tbody tr.selected", "data-layer"), "3");
    assert.match((await page.locator("#image-name").textContent()) ?? "", /\S/);
    assert.match(
      (await page.locator("#metrics-dive").textContent()) ?? "",
      /dive-compatible figures.*Efficiency/s,
    );
    assert.match(
      (await page.locator("#metrics-exact").textContent()) ?? "",
      /osless exact figures.*Wasted bytes/s,
    );
    const exactWasted = model.metrics.exact.wastedBytes.toLocaleString("en-US");
    assert.ok((await page.locator("#metrics-exact").textContent())?.includes(`${exactWasted} bytes`));

    // Layer 2 against the layers below: the chmod and the new server are modified, the removed directory and
    // file are marked removed, each in its colour.
    await selectLayer(page, 2);
    assert.match((await page.locator("#layer-details").textContent()) ?? "", /Index2/);
    await expand(page, "app", "app/config.json");
    await reach(page, `${row("app/config.json")}[data-marker="modified"]`, "chmod 600 is a modification");
    await expand(page, "app/bin", "app/bin/server");
    await reach(page, `${row("app/bin/server")}[data-marker="modified"]`, "the rewritten server is modified");
    await expand(page, "var", "var/cache");
    await expand(page, "var/cache", "var/cache/pkg");
    await reach(page, `${row("var/cache/pkg")}[data-marker="removed"]`, "rm -rf var/cache/pkg");
    await expand(page, "var/cache/pkg", "var/cache/pkg/index.db");
    await reach(
      page,
      `${row("var/cache/pkg/index.db")}[data-marker="removed"]`,
      "removal reaches the children",
    );
    await expand(page, "tmp", "tmp/build.log");
    await reach(page, `${row("tmp/build.log")}[data-marker="removed"]`, "the deleted log");
    await reach(page, `${row("etc")}[data-marker="modified"]`, "etc/ holds a modified file");
    await expand(page, "etc", "etc/passwd");
    await reach(page, `${row("etc/passwd")}[data-marker="modified"]`, "passwd rewritten");
    assert.equal(await page.locator(`${row("app/config.json")} .marker`).textContent(), "M");
    assert.equal(await page.locator(`${row("var/cache/pkg")} .marker`).textContent(), "D");
    assert.equal(await page.locator(`${row("app/config.json")} .perm`).textContent(), "-rw-------");
    const colour = (p: string) => page.locator(row(p)).evaluate((e) => getComputedStyle(e).color);
    assert.equal(await colour("app/config.json"), "rgb(154, 103, 0)", "modified: yellow");
    assert.equal(await colour("var/cache/pkg"), "rgb(207, 34, 46)", "removed: red");
    assert.equal(
      await page
        .locator(`${row("var/cache/pkg")} .name`)
        .evaluate((e) => getComputedStyle(e).textDecorationLine),
      "line-through",
    );
    assert.equal(
      await page.locator(`${row("var/cache/pkg/index.db")} a.dl`).count(),
      0,
      "no download of a removed file",
    );
    await page.locator(row("app/bin/server")).click();
    assert.match(
      (await page.locator("#selection").textContent()) ?? "",
      /\/app\/bin\/server · file · .*820,000 bytes/,
    );
    if (shots) await page.screenshot({ path: join(SHOTS, "explore-web-tree.png") });

    // Layer 1: everything of the layer is added; the open directories stay open.
    await selectLayer(page, 1);
    await reach(
      page,
      `${row("var/cache/pkg/a.deb")}[data-marker="added"]`,
      "layer 1 added the package cache",
    );
    await reach(page, `${row("app/config.json")}[data-marker="added"]`, "layer 1 added the config");
    assert.equal(await colour("app/config.json"), "rgb(26, 127, 55)", "added: green");
    assert.equal(await page.locator(row("tmp/build.log")).getAttribute("data-marker"), "added");

    // Aggregated at layer 3: what the image added on top of its base; layer 3 in layer mode: only its own files.
    await page.check("#mode-aggregated");
    await selectLayer(page, 3);
    await reach(
      page,
      `${row("app/bin/server")}[data-marker="added"]`,
      "aggregated: the server is added over the base",
    );
    await reach(
      page,
      `${row("etc/passwd")}[data-marker="modified"]`,
      "aggregated: passwd modified over the base",
    );
    assert.equal(
      await page.locator(row("var/cache/pkg")).count(),
      0,
      "aggregated: the cache came and went above the base",
    );
    const range = await page
      .locator("#layers tbody tr.in-range")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-layer")));
    assert.deepEqual(range, ["1", "2", "3"], "aggregated compares layers 1 to 3");
    if (shots) await page.screenshot({ path: join(SHOTS, "explore-web-aggregated.png") });
    await page.check("#mode-layer");
    await reach(
      page,
      `${row("app/bin/server")}[data-marker="unmodified"]`,
      "layer 3 did not touch the server",
    );
    await reach(page, `${row("etc/passwd")}[data-marker="unmodified"]`, "layer 3 did not touch passwd");
    await reach(page, `${row("etc/motd")}[data-marker="added"]`, "layer 3 added motd");

    // Downloads: the file's bytes as of the layer shown.
    assert.ok((await download(page, "app/bin/server")).equals(SERVER_V2), "layer 3: the rewritten server");
    await selectLayer(page, 1);
    await reach(page, `${row("app/bin/server")}[data-marker="added"]`, "layer 1 tree");
    assert.ok((await download(page, "app/bin/server")).equals(SERVER_V1), "layer 1: the first server");
    assert.equal((await download(page, "etc/passwd")).toString(), await downloadText(model, "etc/passwd", 1));
    await selectLayer(page, 3);
    await reach(page, `${row("etc/motd")}[data-marker="added"]`, "back at layer 3");

    // Search (regex on full paths) and reveal: the match is shown in the tree, its directories opened.
    await page.locator(row("app")).locator(".toggle").click();
    await reach(page, `${row("app")}[aria-expanded="false"]`, "app/ collapsed");
    await page.check("#regex");
    await page.fill("#search", "^/app/lib/.*\\.so$");
    await page.press("#search", "Enter");
    await reach(page, '#results button[data-path="app/lib/libfoo.so"]', "search results");
    const found = await page.locator("#results button").allTextContents();
    assert.deepEqual(found, ["/app/lib/libbar.so", "/app/lib/libfoo.so"]);
    assert.match((await page.locator("#search-status").textContent()) ?? "", /^2 matches as of layer 3/);
    await page.click('#results button[data-path="app/lib/libfoo.so"]');
    await reach(page, `${row("app/lib/libfoo.so")}.selected`, "the match is revealed and selected");
    assert.equal(await page.locator(row("app")).getAttribute("aria-expanded"), "true");
    assert.ok(await page.locator(row("app/lib/libfoo.so")).isVisible());
    if (shots) await page.screenshot({ path: join(SHOTS, "explore-web-search.png") });
    // dive's keys in the tree: up, left to the parent, left closes, right opens, j goes down.
    await page.locator(row("app/lib/libfoo.so")).click();
    await page.keyboard.press("ArrowUp");
    await reach(page, `${row("app/lib/libbar.so")}.selected:focus`, "up selects the row above");
    await page.keyboard.press("ArrowLeft");
    await reach(page, `${row("app/lib")}.selected:focus`, "left goes to the parent");
    await page.keyboard.press("ArrowLeft");
    await reach(page, `${row("app/lib")}[aria-expanded="false"]`, "left closes the directory");
    assert.equal(await page.locator(row("app/lib/libbar.so")).count(), 0);
    await page.keyboard.press("ArrowRight");
    await reach(page, `${row("app/lib")}[aria-expanded="true"]`, "right opens it");
    await page.keyboard.press("j");
    await reach(page, `${row("app/lib/libbar.so")}.selected`, "j goes down");
    await page.keyboard.press("/");
    assert.equal(await page.evaluate("document.activeElement.id"), "search", "/ goes to the search box");
    // A bad pattern: the server's reason under the box, no results.
    await page.fill("#search", "lib(");
    await page.press("#search", "Enter");
    await reach(page, "#search-error:not([hidden])", "a bad regex is reported");
    assert.match(
      (await page.locator("#search-error").textContent()) ?? "",
      /^bad regular expression: .*lib\(/,
    );
    assert.equal(await page.locator("#results li").count(), 0);
    // Plain text, case-insensitive.
    await page.uncheck("#regex");
    await page.fill("#search", "MOTD");
    await page.press("#search", "Enter");
    await reach(page, '#results button[data-path="etc/motd"]', "substring search");
    await page.click("#search-close");

    // Treemap: areas follow sizes (the largest entry is the largest box), a directory click zooms in.
    await page.click("#tab-treemap");
    await reach(page, "#treemap > .tm[data-path]", "the treemap is drawn");
    const boxes = await treemapBoxes(page);
    const top = model.tree(3, "layer").root.children!.filter((c) => c.marker !== "removed" && c.size > 0);
    assert.deepEqual(
      boxes.map((b) => b.path).sort(),
      top.map((c) => c.path).sort(),
      "one box per non-empty top-level entry",
    );
    const largest = boxes.reduce((a, b) => (b.size > a.size ? b : a));
    for (const b of boxes)
      if (b !== largest) assert.ok(largest.area > b.area, `${largest.path} bigger than ${b.path}`);
    const perByte = largest.area / largest.size;
    // Boxes too small to see are drawn at least as wide as their borders: only the visible ones are compared.
    for (const b of boxes)
      if (b.size * perByte > 1000)
        assert.ok(Math.abs(b.area / b.size / perByte - 1) < 0.02, `${b.path}: area proportional to size`);
    await reach(
      page,
      '#treemap > .tm[data-path="app"] > .tm[data-path="app/bin"]',
      "directories drawn with their children",
    );
    await reach(page, '#treemap .tm[data-path="app/bin/server"]', "two levels down");
    if (shots) await page.screenshot({ path: join(SHOTS, "explore-web-treemap.png") });
    await page.click('#treemap > .tm[data-path="app"]', { position: { x: 5, y: 5 } });
    await reach(page, '#crumbs button[data-path="app"]', "zoomed into app/");
    await reach(page, '#treemap > .tm[data-path="app/bin"]', "app/'s children drawn");
    const inApp = await treemapBoxes(page);
    assert.ok(
      inApp.every((b) => b.path.startsWith("app/")),
      inApp.map((b) => b.path).join(", "),
    );
    const bin = inApp.find((b) => b.path === "app/bin")!;
    for (const b of inApp) if (b !== bin) assert.ok(bin.area > b.area, "app/bin (the server) is the largest");
    await page.click('#crumbs button[data-path=""]');
    await reach(page, '#treemap > .tm[data-path="app"]', "back at the root");

    // The view lives in the URL's hash: a link to it (or a reload) shows the same layer, mode, file and tab.
    const entries = await page.evaluate("history.length");
    await page.click("#tab-files");
    await selectLayer(page, 1);
    await page.check("#mode-aggregated");
    await reach(page, "#tree-title:has-text('Aggregated contents: layers 1 to 1')", "aggregated at layer 1");
    await expand(page, "app", "app/bin");
    await expand(page, "app/bin", "app/bin/server");
    await page.locator(row("app/bin/server")).click();
    await reach(page, `${row("app/bin/server")}.selected`, "the server selected");
    const linked = "#layer=1&mode=aggregated&path=/app/bin/server&tab=files";
    assert.equal(await page.evaluate("location.hash"), linked);
    assert.equal(await page.evaluate("history.length"), entries, "replaceState: no history entry per click");
    await checkLinks(context, server.url, linked);

    // Refusals, from the browser where a browser can make the request, else over plain HTTP.
    const post = await page.evaluate(
      async (u) => (await fetch(u, { method: "POST" })).status,
      `${server.url}api/image`,
    );
    assert.equal(post, 405);
    const rebound = await plainGet(`${server.url}api/image`, {
      host: `attacker.example:${new URL(server.url).port}`,
    });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /is not this server/);
    const dir = await page.goto(`${server.url}api/file?path=app`);
    assert.equal(dir?.status(), 404);
    assert.match(await dir!.text(), /\/app is a directory, not a regular file/);

    // No script error, no failed request, no CSP violation: only the 400 and 405 asked for above.
    const unexpected = problems.filter(
      (p) => !/Failed to load resource: the server responded with a status of (400|404|405)/.test(p),
    );
    assert.deepEqual(unexpected, []);
    assert.ok(
      problems.some((p) => /status of 400/.test(p)),
      problems.join("\n"),
    );
    assert.equal(problems.filter((p) => /status of 405/.test(p)).length, 1, problems.join("\n"));
  } finally {
    await context.close();
    await server.close();
  }
}

/**
 * Opens `linked` (the hash of a view: layer 1, aggregated, app/bin/server) in new pages: the same view; a hash
 * change shows the view it names; bad values fall back to the defaults without any error.
 */
async function checkLinks(context: BrowserContext, url: string, linked: string): Promise<void> {
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await page.goto(`${url}${linked}`);
    await reach(page, "body[data-ready=true]", "the linked page loads");
    await reach(page, `${row("app/bin/server")}.selected`, "the linked file is revealed and selected");
    assert.equal(await attr(page, "#layers tbody tr.selected", "data-layer"), "1");
    assert.equal(await page.isChecked("#mode-aggregated"), true);
    assert.equal(await page.locator(row("app/bin/server")).getAttribute("data-marker"), "added");
    assert.equal(await page.locator(row("app/bin")).getAttribute("aria-expanded"), "true");
    assert.match((await page.locator("#selection").textContent()) ?? "", /^\/app\/bin\/server · file/);
    assert.equal(await page.evaluate("location.hash"), linked);
    assert.equal(await page.isVisible("#view-files"), true);

    // A new hash (a link followed, the address bar edited): layer 2 on its own, passwd selected, the treemap.
    await page.evaluate('location.hash = "#layer=2&mode=layer&path=/etc/passwd&tab=treemap"');
    await reach(page, '#layers tbody tr.selected[data-layer="2"]', "the hash's layer");
    await reach(page, "#treemap > .tm[data-path]", "the hash's tab");
    assert.equal(await page.isChecked("#mode-layer"), true);
    assert.equal(await page.isVisible("#view-files"), false);
    await page.click("#tab-files");
    await reach(page, `${row("etc/passwd")}.selected[data-marker="modified"]`, "the hash's file, at layer 2");
    assert.equal(await page.evaluate("location.hash"), "#layer=2&mode=layer&path=/etc/passwd&tab=files");
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }

  const bad = await context.newPage();
  const badProblems = pageProblems(bad);
  try {
    await bad.goto(`${url}#layer=99&mode=x&path=/no/such/file&tab=nope&junk=%E0%A4%A`);
    await reach(bad, "body[data-ready=true]", "a page with bad values in its hash loads");
    assert.equal(
      await attr(bad, "#layers tbody tr.selected", "data-layer"),
      "3",
      "the default layer: the last",
    );
    assert.equal(await bad.isChecked("#mode-layer"), true, "the default mode");
    assert.equal(await bad.locator("#tree .row.selected").count(), 0, "nothing selected");
    assert.equal(await bad.isVisible("#view-files"), true, "the default tab");
    assert.equal(await bad.isVisible("#error"), false, "no error shown");
    assert.equal(await bad.evaluate("location.hash"), "#layer=3&mode=layer&tab=files", "the hash put right");
    // A path through a file, a layer that is not a number: ignored too.
    await bad.evaluate('location.hash = "#layer=1.5&mode=aggregated&path=/etc/passwd/x"');
    await reach(bad, "#tree-title:has-text('Aggregated contents: layers 1 to 3')", "the valid part applies");
    assert.equal(await bad.locator("#tree .row.selected").count(), 0);
    assert.equal(await bad.isVisible("#error"), false);
    assert.deepEqual(badProblems, []);
  } finally {
    await bad.close();
  }
}

async function downloadText(model: ExplorerModel, path: string, layer: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of model.readFile(path, layer)) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

describe("explore --web in chromium", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
    await mkdir(SHOTS, { recursive: true });
  });
  after(async () => {
    await closeBrowser(browser);
  });

  test("on a model built in the test: layers, markers, compare modes, search, treemap, downloads, refusals", async () => {
    await exercise(browser, fakeModel(fakeLayers(), { name: "explore-web:fake" }), false);
  });

  test("a directory of 2,500 files comes page by page; search reveals an entry past the first page", async () => {
    const files: Record<string, FakeFile> = {};
    for (let i = 0; i < 2500; i++) files[`data/f${String(i).padStart(4, "0")}`] = "x";
    const server = await startWebServer(fakeModel([{ files }]));
    const page = await browser.newPage();
    const problems = pageProblems(page);
    try {
      await page.goto(server.url);
      await reach(page, "body[data-ready=true]", "the page loads");
      await expand(page, "data", "data/f0000");
      assert.equal(await page.locator('#tree .row[data-path^="data/"]').count(), 1000, "the first page only");
      assert.match(
        (await page.locator('#tree .row.more[data-more="data"]').textContent()) ?? "",
        /1500 more entries/,
      );
      await page.click('#tree .row.more[data-more="data"]');
      await reach(page, row("data/f1999"), "the second page");
      assert.equal(await page.locator('#tree .row[data-path^="data/"]').count(), 2000);
      await page.locator(row("data")).locator(".toggle").click();
      await reach(page, `${row("data")}[aria-expanded="false"]`, "data/ collapsed");
      await page.fill("#search", "f2450");
      await page.press("#search", "Enter");
      await page.click('#results button[data-path="data/f2450"]');
      await reach(page, `${row("data/f2450")}.selected`, "revealed past the loaded pages");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
      await server.close();
    }
  });

  test("on the real model of an image in the store (add, modify, chmod, delete); screenshots for the docs", async () => {
    await exercise(browser, await realModel(), true);
  });
});
