import assert from "node:assert/strict";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import { overlayUpperEntries } from "../layer/diff.ts";
import type { ImageConfig } from "../spec/schemas.ts";
import { Store } from "../store/layout.ts";
import { runOnLayers } from "./ephemeral.ts";

const CONFIG: ImageConfig = {
  architecture: "amd64",
  os: "linux",
  rootfs: { type: "layers", diff_ids: [] },
  config: { Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
};

test("runOnLayers: the process's output and status, and its changes left in the upper dir", async () => {
  needTool("runc", "runc");
  const store = await Store.open(join(await tmpdir("ephemeral-"), "store"));
  const layers = layoutLayerSources(await ociLayout(IMAGES.twoLayers));
  const out: string[] = [];
  const r = await runOnLayers(store, {
    layers,
    config: CONFIG,
    run: { args: ["sh", "-c", "echo new > /added; rm /bin/ls; cat /etc/motd; exit 3"] },
    stdio: ["ignore", "pipe", "pipe"],
    onOutput: (s, b) => out.push(`${s}:${b}`),
  });
  try {
    assert.equal(r.status, 3);
    assert.deepEqual(out, ["stdout:Hello from the second layer\n"]);
    assert.equal(readFileSync(join(r.upper, "added"), "utf8"), "new\n");
    const wh = lstatSync(join(r.upper, "bin/ls"));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, "a deleted lower file is an overlay whiteout");
    const entries = await overlayUpperEntries(r.upper);
    const paths = entries.map((e) => e.path).filter((p) => !r.mountPoints.includes(`/${p}`));
    assert.ok(paths.includes("added"));
    assert.ok(paths.includes("bin/.wh.ls"));
    // The runtime's mount points that the image lacks are reported, so a build leaves them out of the layer.
    for (const m of r.mountPoints) assert.ok(existsSync(join(r.upper, m)), m);
  } finally {
    await r.cleanup();
  }
  assert.ok(!existsSync(r.upper));
});

test("runOnLayers: a command the layers lack is refused before the runtime runs", async () => {
  const store = await Store.open(join(await tmpdir("ephemeral-"), "store"));
  const layers = layoutLayerSources(await ociLayout(IMAGES.hello));
  await assert.rejects(
    runOnLayers(store, { layers, config: CONFIG, run: { args: ["/bin/sh", "-c", "true"] } }),
    (e) => isOslessError(e, "E_COMMAND_NOT_FOUND") && /no OS inside/.test(e.message),
  );
});
