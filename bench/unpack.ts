/**
 * unpack: `osless unpack IMAGE DIR` of the ~120 MB Debian minbase image vs `tar -xzf BLOB -C DIR` of the same
 * layer blob (the floor: GNU tar + gzip, no verification) and `umoci unpack --image LAYOUT:TAG BUNDLE`, all into
 * fresh directories on the same filesystem, as root (ownership kept by all three), page cache warm, runs
 * alternating. Goals: ≤ 1.0× tar, ≤ 0.4× umoci.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { layoutBlobPath } from "../test/fixtures/layout.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, median, timed } from "./util.ts";

export async function run(): Promise<void> {
  const umoci = needTool("umoci", "umoci");
  const tar = needTool("tar", "tar");
  const layout = await ociLayout(IMAGES.debian, "minbase");
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(layoutBlobPath(layout, index.manifests[0].digest), "utf8"));
  if (manifest.layers.length !== 1) throw new Error("expected a single-layer image");
  const blob = layoutBlobPath(layout, manifest.layers[0].digest);
  const work = await tmpdir("osless-bench-");
  const store = join(work, "store");
  const cli = new URL("../bin/osless.js", import.meta.url).pathname;
  const loaded = spawnSync(process.execPath, [cli, "load", "--json", "-i", `oci:${layout}:minbase`], {
    env: { ...process.env, OSLESS_ROOT: store },
    encoding: "utf8",
  });
  if (loaded.status !== 0) throw new Error(`osless load failed: ${loaded.stderr}`);
  const id: string = JSON.parse(loaded.stdout).images[0].id;
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  const size = (manifest.layers[0].size / 1e6).toFixed(0);
  // The disk (ext4 on this VM's virtio disk) and tmpfs: on the disk, creating files is most of the cost for all
  // three tools; tmpfs shows the tools' own work. Each round syncs after cleaning up so that one tool's deletes
  // are not charged to the next.
  const shm = await mkdtemp("/dev/shm/osless-bench-");
  try {
    for (const [fsName, base] of [
      ["ext4 (disk)", work],
      ["tmpfs", shm],
    ] as const) {
      const t: Record<"osless" | "tar" | "umoci", number[]> = { osless: [], tar: [], umoci: [] };
      const once = async (i: number, record: boolean) => {
        const o = join(base, `o-${i}`);
        const g = join(base, `t-${i}`);
        const u = join(base, `u-${i}`);
        const a = await timed(process.execPath, [cli, "unpack", "-q", id, o], { OSLESS_ROOT: store });
        await mkdir(g);
        const b = await timed(tar, ["-xzf", blob, "-C", g]);
        const c = await timed(umoci, ["unpack", "--image", `${layout}:minbase`, u]);
        if (record) {
          t.osless.push(a);
          t.tar.push(b);
          t.umoci.push(c);
        }
        for (const d of [o, g, u]) await rm(d, { recursive: true, force: true });
        await timed("sync", []);
      };
      await once(-1, false);
      for (let i = 0; i < rounds; i++) await once(i, true);
      const [o, g, u] = [median(t.osless), median(t.tar), median(t.umoci)];
      console.log(
        `unpack: Debian bookworm minbase (1 layer, ${size} MB gzip) onto ${fsName}, ${rounds} rounds, median wall time`,
      );
      console.log(
        `  osless unpack IMAGE DIR            ${o.toFixed(0).padStart(6)} ms   (${list(t.osless)})`,
      );
      console.log(`  tar -xzf BLOB -C DIR               ${g.toFixed(0).padStart(6)} ms   (${list(t.tar)})`);
      console.log(`  umoci unpack --image L:T BUNDLE    ${u.toFixed(0).padStart(6)} ms   (${list(t.umoci)})`);
      console.log(
        `  ratio osless/tar: ${(o / g).toFixed(2)}×  (goal ≤ 1.0×)   osless/umoci: ${(o / u).toFixed(2)}×  (goal ≤ 0.4×)`,
      );
    }
  } finally {
    await rm(shm, { recursive: true, force: true });
  }
  console.log(`  machine: ${machine()}`);
}
