/**
 * view: the squashed view of an image in the store (every layer streamed once into an in-memory tree, DiffIDs
 * verified) vs the floor, a plain Node gunzip + sha256 pass over the same blobs, each in a fresh process (time of
 * the pass itself, peak RSS of the process). Goals on the ~120 MB Debian minbase image: ≤ 1.3× the floor, ≤ 150 MB RSS. Also the
 * synthetic 2 GB, 200k-file, 4-layer image (time and RSS reported).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { syntheticLayout } from "../test/fixtures/synthetic.ts";
import { tmpdir } from "../test/fixtures/tools.ts";
import { machine, median } from "./util.ts";

interface Pass {
  ms: number;
  maxRssMB: number;
  nodes?: number;
}

/** Load an OCI layout into a fresh store with the osless CLI; returns [store, image ID]. */
function load(layout: string, store: string): [string, string] {
  const cli = new URL("../bin/osless.js", import.meta.url).pathname;
  const r = spawnSync(process.execPath, [cli, "load", "--json", "-i", `oci:${layout}:latest`], {
    env: { ...process.env, OSLESS_ROOT: store },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`osless load failed: ${r.stderr}`);
  return [store, JSON.parse(r.stdout).images[0].id as string];
}

function pass(mode: string, [store, id]: [string, string]): Pass {
  const child = new URL("./view-child.mjs", import.meta.url).pathname;
  const r = spawnSync(process.execPath, [child, mode, store, id], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`view-child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Pass;
}

function row(label: string, runs: Pass[]): Pass {
  const ms = median(runs.map((r) => r.ms));
  const rss = Math.max(...runs.map((r) => r.maxRssMB));
  console.log(
    `  ${label.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms  peak RSS ${rss.toFixed(0).padStart(4)} MB   (${runs.map((r) => r.ms.toFixed(0)).join(", ")})`,
  );
  return { ms, maxRssMB: rss };
}

export async function run(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const work = await tmpdir("osless-bench-view");
  const debian = load(await ociLayout(IMAGES.debian), join(work, "debian"));
  const synthetic = load(await syntheticLayout(), join(work, "synthetic"));
  for (const [name, layout, n] of [
    ["Debian bookworm minbase (1 layer, ~120 MB)", debian, rounds],
    ["synthetic 2 GB, 200k files, 4 layers", synthetic, Math.min(rounds, 3)],
  ] as const) {
    console.log(`view: ${name}, ${n} rounds, median`);
    pass("floor", layout);
    const runs: Record<string, Pass[]> = { floor: [], view: [], "view-digests": [] };
    for (let i = 0; i < n; i++) for (const m of Object.keys(runs)) runs[m]!.push(pass(m, layout));
    const f = row("gunzip + sha256 (floor)", runs.floor!);
    const v = row("buildView", runs.view!);
    const d = row("buildView { digests: true }", runs["view-digests"]!);
    console.log(`  nodes: ${runs.view![0]!.nodes}`);
    console.log(
      `  ratio view/floor: ${(v.ms / f.ms).toFixed(2)}×  (goal ≤ 1.3×)   with digests: ${(d.ms / f.ms).toFixed(2)}×`,
    );
  }
  console.log(`  machine: ${machine()}`);
}
