/**
 * push: the Debian minbase image (one ~50 MB gzip layer) to an empty local docker-registry, `osless push` from the
 * store vs `skopeo copy oci:DIR:tag docker://…` from an OCI layout, in the same run. Goal: ratio ≤ 0.8.
 * Each push goes to a fresh registry, so that no blob already exists there; rounds alternate.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { startRegistry } from "../test/fixtures/registry.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { compare, layoutImageSize, timed } from "./util.ts";

export async function run(): Promise<void> {
  const skopeo = needTool("skopeo", "skopeo");
  const layout = await ociLayout(IMAGES.debian, "minbase");
  const size = await layoutImageSize(layout);
  const work = await tmpdir("osless-bench-push-");
  const store = join(work, "store");
  const cli = new URL("../bin/osless.js", import.meta.url).pathname;
  await timed(process.execPath, [cli, "copy", "-q", `oci:${layout}:minbase`, "bench/debian:minbase"], {
    OSLESS_ROOT: store,
  });
  await compare({
    title: `push: ${(size / 1e6).toFixed(1)} MB image (Debian bookworm minbase, 1 gzip layer) to an empty docker-registry on 127.0.0.1`,
    rounds: Number(process.env.BENCH_ROUNDS ?? 5),
    ours: "osless push IMAGE REF",
    peer: "skopeo copy oci:DIR:tag docker://REF",
    goal: 0.8,
    round: async () => {
      const a = await withRegistry((host) =>
        timed(process.execPath, [cli, "push", "-q", "bench/debian:minbase", `${host}/bench/debian:1`], {
          OSLESS_ROOT: store,
        }),
      );
      const b = await withRegistry((host) =>
        timed(skopeo, [
          "--insecure-policy",
          "copy",
          "-q",
          "--dest-tls-verify=false",
          `oci:${layout}:minbase`,
          `docker://${host}/bench/debian:1`,
        ]),
      );
      return [a, b];
    },
  });
}

/** Each push goes to a fresh, empty registry, so that no blob is already there. */
async function withRegistry(fn: (host: string) => Promise<number>): Promise<number> {
  const reg = await startRegistry({ logLevel: "error" });
  try {
    return await fn(reg.host);
  } finally {
    await reg.stop();
    await rm(reg.root, { recursive: true, force: true });
  }
}
