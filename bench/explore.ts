/**
 * explore: `osless explore --ci` (the CI gate: one verified pass into the model, dive's and osless's figures, the
 * rules) on the ~120 MB Debian minbase image vs the floor, a plain Node process doing gunzip + sha256 over the
 * same layer (bench/view-child.mjs floor), both whole processes with their peak RSS (/usr/bin/time, Debian
 * package `time`); and the synthetic 2 GB, 200k-file, 4-layer image opened the same way (its peak RSS).
 * Goals: Debian ≤ 1.3× the floor; the synthetic image opens with peak RSS ≤ 300 MB.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { syntheticLayout } from "../test/fixtures/synthetic.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, measured, type Run, row } from "./util.ts";

const CLI = new URL("../bin/osless.js", import.meta.url).pathname;
const CHILD = new URL("./view-child.mjs", import.meta.url).pathname;

export async function run(): Promise<void> {
  const time = needTool("/usr/bin/time", "time");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const work = await tmpdir("osless-bench-explore");
  const store = join(work, "store");
  const env = { OSLESS_ROOT: store, CI: "" };
  for (const [from, to] of [
    [`oci:${await ociLayout(IMAGES.debian, "minbase")}:minbase`, "debian:minbase"],
    [`oci:${await syntheticLayout()}:latest`, "synthetic:2g"],
  ]) {
    const r = spawnSync(process.execPath, [CLI, "copy", "-q", from!, to!], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`osless copy ${from} ${to} failed: ${r.stderr}`);
  }
  const rssFile = join(work, "rss");
  const floor = (image: string) => measured(time, rssFile, [CHILD, "floor", store, image], {});
  // Rules that pass, so that the exit status says the run worked (the figures are printed, not judged here).
  const ci = (image: string) =>
    measured(
      time,
      rssFile,
      [CLI, "explore", "--ci", "-q", "--lowestEfficiency", "0", "--highestUserWastedPercent", "off", image],
      env,
    );
  const runs: Record<"floor" | "explore", Run[]> = { floor: [], explore: [] };
  await floor("debian:minbase");
  await ci("debian:minbase");
  for (let i = 0; i < rounds; i++) {
    runs.floor.push(await floor("debian:minbase"));
    runs.explore.push(await ci("debian:minbase"));
  }
  console.log(`explore: Debian bookworm minbase (1 layer, ~120 MB), ${rounds} rounds, median`);
  const f = row("gunzip + sha256 (floor process)", runs.floor);
  const e = row("osless explore --ci debian:minbase", runs.explore);
  console.log(`  ratio explore/floor: ${(e.ms / f.ms).toFixed(2)}×  (goal ≤ 1.3×)`);
  const big: Record<"floor" | "explore", Run[]> = { floor: [], explore: [] };
  const n = Math.min(rounds, 2);
  for (let i = 0; i < n; i++) {
    big.floor.push(await floor("synthetic:2g"));
    big.explore.push(await ci("synthetic:2g"));
  }
  console.log(`explore: synthetic 2 GB, 200k files, 4 layers, ${n} rounds, median`);
  row("gunzip + sha256 (floor process)", big.floor);
  const s = row("osless explore --ci synthetic:2g", big.explore);
  console.log(`  peak RSS opening the synthetic image: ${s.maxRssMB.toFixed(0)} MB  (goal ≤ 300 MB)`);
  console.log(`  machine: ${machine()}`);
}
