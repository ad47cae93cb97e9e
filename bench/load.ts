/**
 * load: a ~120 MB single-layer Debian minbase docker-archive (debootstrap) into a fresh store,
 * `osless load -i FILE` vs `skopeo copy docker-archive:FILE oci:DIR:tag`. Goal: ratio ≤ 1.0.
 * Both write a verified OCI layout; runs alternate, page cache warm for both (one untimed warm-up each).
 */
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { dockerArchive, IMAGES } from "../test/fixtures/images.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, median, timed } from "./util.ts";

export async function run(): Promise<void> {
  const skopeo = needTool("skopeo", "skopeo");
  const archive = await dockerArchive(IMAGES.debian, "bench/debian:minbase");
  const size = (await stat(archive)).size;
  const work = await tmpdir("osless-bench-");
  const cli = new URL("../bin/osless.js", import.meta.url).pathname;
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const ours: number[] = [];
  const peer: number[] = [];
  const once = async (i: number, record: boolean) => {
    const store = join(work, `store-${i}`);
    const layout = join(work, `layout-${i}`);
    const a = await timed(process.execPath, [cli, "load", "-q", "-i", archive], { OSLESS_ROOT: store });
    const b = await timed(skopeo, [
      "--insecure-policy",
      "copy",
      "-q",
      `docker-archive:${archive}`,
      `oci:${layout}:minbase`,
    ]);
    if (record) {
      ours.push(a);
      peer.push(b);
    }
    await rm(store, { recursive: true, force: true });
    await rm(layout, { recursive: true, force: true });
  };
  await once(-1, false);
  for (let i = 0; i < rounds; i++) await once(i, true);
  const o = median(ours);
  const p = median(peer);
  console.log(
    `load: ${(size / 1e6).toFixed(0)} MB docker-archive (Debian bookworm minbase, 1 layer), ${rounds} rounds, median wall time`,
  );
  console.log(
    `  osless load -i FILE                        ${o.toFixed(0)} ms   (${ours.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(
    `  skopeo copy docker-archive:FILE oci:DIR    ${p.toFixed(0)} ms   (${peer.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(`  ratio osless/skopeo: ${(o / p).toFixed(2)}×  (goal ≤ 1.0×)`);
  console.log(`  machine: ${machine()}`);
}
