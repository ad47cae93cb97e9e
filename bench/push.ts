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
import { layoutImageSize, machine, median, timed } from "./util.ts";

export async function run(): Promise<void> {
  const skopeo = needTool("skopeo", "skopeo");
  const layout = await ociLayout(IMAGES.debian, "minbase");
  const size = await layoutImageSize(layout);
  const work = await tmpdir("osless-bench-push-");
  const store = join(work, "store");
  const cli = new URL("../bin/osless.js", import.meta.url).pathname;
  await timed(process.execPath, [cli, "load", "-q", "-i", `oci:${layout}:minbase`], { OSLESS_ROOT: store });
  await timed(process.execPath, [cli, "tag", "minbase", "bench/debian:minbase"], {
    OSLESS_ROOT: store,
  }).catch(async () => {
    // Loaded untagged (its ref.name is only "minbase"): name it by ID.
    const { Store, listImages } = await import("../src/store/index.ts");
    const s = await Store.open(store);
    const id = (await listImages(s))[0]?.id as string;
    await timed(process.execPath, [cli, "tag", id, "bench/debian:minbase"], { OSLESS_ROOT: store });
  });
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const ours: number[] = [];
  const peer: number[] = [];
  const once = async (record: boolean) => {
    let reg = await startRegistry({ logLevel: "error" });
    let a: number;
    try {
      a = await timed(
        process.execPath,
        [cli, "push", "-q", "bench/debian:minbase", `${reg.host}/bench/debian:1`],
        {
          OSLESS_ROOT: store,
        },
      );
    } finally {
      await reg.stop();
      await rm(reg.root, { recursive: true, force: true });
    }
    reg = await startRegistry({ logLevel: "error" });
    let b: number;
    try {
      b = await timed(skopeo, [
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        `oci:${layout}:minbase`,
        `docker://${reg.host}/bench/debian:1`,
      ]);
    } finally {
      await reg.stop();
      await rm(reg.root, { recursive: true, force: true });
    }
    if (record) {
      ours.push(a);
      peer.push(b);
    }
  };
  await once(false);
  for (let i = 0; i < rounds; i++) await once(true);
  const o = median(ours);
  const p = median(peer);
  console.log(
    `push: ${(size / 1e6).toFixed(1)} MB image (Debian bookworm minbase, 1 gzip layer) to an empty docker-registry on 127.0.0.1, ${rounds} rounds, median wall time`,
  );
  console.log(
    `  osless push IMAGE REF                    ${o.toFixed(0)} ms   (${ours.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(
    `  skopeo copy oci:DIR:tag docker://REF     ${p.toFixed(0)} ms   (${peer.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(`  ratio osless/skopeo: ${(o / p).toFixed(2)}×  (goal ≤ 0.8×)`);
  console.log(`  machine: ${machine()}`);
}
