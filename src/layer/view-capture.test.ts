import assert from "node:assert/strict";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { buildView } from "./view.ts";

test("capture keeps the leading bytes of chosen files during the single pass; the top layer's version wins", async () => {
  const layout = await ociLayout(IMAGES.twoLayers);
  const seen: string[] = [];
  const view = await buildView(layoutLayerSources(layout), {
    digests: true,
    capture: (path, mode, size) => {
      seen.push(path);
      if (path === "etc/passwd") return 1 << 20;
      if (path === "bin/busybox") return 4;
      return (mode & 0o111) !== 0 && size > 0 ? 16 : 0;
    },
  });
  assert.ok(
    seen.includes("etc/motd") && seen.filter((p) => p === "etc/passwd").length === 2,
    "called per regular file entry",
  );
  const passwd = view.captured.get("etc/passwd");
  const whole = await view.readFileBuffer("etc/passwd", 1 << 20);
  assert.deepEqual(passwd, whole, "the second layer's passwd, whole");
  assert.match(passwd?.toString() ?? "", /^app:x:1000/m);
  assert.deepEqual(view.captured.get("bin/busybox"), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  assert.equal(view.captured.has("etc/motd"), false);
  // Capturing does not change the digests computed in the same pass.
  const plain = await buildView(layoutLayerSources(layout), { digests: true });
  assert.equal(view.get("bin/busybox")?.digest, plain.get("bin/busybox")?.digest);
  assert.equal(view.get("etc/passwd")?.digest, plain.get("etc/passwd")?.digest);
  // Without digests, capture reads only what it keeps and the view is still whole.
  const light = await buildView(layoutLayerSources(layout), {
    capture: (p) => (p === "bin/busybox" ? 4 : 0),
  });
  assert.equal(light.captured.size, 1);
  assert.equal(light.size, plain.size);
});
