/**
 * pull: the Debian minbase image (one ~50 MB gzip layer) from a local docker-registry into an empty store,
 * `osless pull` vs `skopeo copy docker://… oci:DIR:tag` in the same run. Goal: ratio ≤ 0.8.
 * Both fetch the manifest, config and layer over loopback HTTP and verify the digests; rounds alternate.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { startRegistry } from "../test/fixtures/registry.ts";
import { needTool, run as runTool, tmpdir } from "../test/fixtures/tools.ts";
import { compare, layoutImageSize, timed } from "./util.ts";

export async function run(): Promise<void> {
  const skopeo = needTool("skopeo", "skopeo");
  const layout = await ociLayout(IMAGES.debian, "minbase");
  const size = await layoutImageSize(layout);
  const reg = await startRegistry({ logLevel: "error" });
  try {
    const ref = `${reg.host}/bench/debian:minbase`;
    await runTool(skopeo, [
      "--insecure-policy",
      "copy",
      "-q",
      "--dest-tls-verify=false",
      `oci:${layout}:minbase`,
      `docker://${ref}`,
    ]);
    const work = await tmpdir("osless-bench-pull-");
    const cli = new URL("../bin/osless.js", import.meta.url).pathname;
    const store = join(work, "store");
    const dest = join(work, "layout");
    await compare({
      title: `pull: ${(size / 1e6).toFixed(1)} MB image (Debian bookworm minbase, 1 gzip layer) from docker-registry on 127.0.0.1`,
      rounds: Number(process.env.BENCH_ROUNDS ?? 5),
      ours: "osless pull REF",
      peer: "skopeo copy docker://REF oci:DIR:tag",
      goal: 0.8,
      round: async () => {
        const a = await timed(process.execPath, [cli, "pull", "-q", ref], { OSLESS_ROOT: store });
        const b = await timed(skopeo, [
          "--insecure-policy",
          "copy",
          "-q",
          "--src-tls-verify=false",
          `docker://${ref}`,
          `oci:${dest}:minbase`,
        ]);
        await rm(store, { recursive: true, force: true });
        await rm(dest, { recursive: true, force: true });
        return [a, b];
      },
    });
  } finally {
    await reg.stop();
  }
}
