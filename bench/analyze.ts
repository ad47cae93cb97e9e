/**
 * analyze: `osless analyze --json debian:minbase` (the ~120 MB Debian minbase image in a store: one pass over the
 * layer into a squashed view keeping what analysis reads, then OS, packages, inventory, the entrypoint's closure)
 * vs the floor, a plain Node process doing gunzip + sha256 over the same layer blob (bench/view-child.mjs floor),
 * both whole processes (start included) with their peak RSS (/usr/bin/time, Debian package `time`); and
 * `osless analyze hello` (the static hello program FROM scratch, the text report) end to end. Rounds alternate
 * after one warm-up of each. Goals: ≤ 1.3× the floor, ≤ 150 MB peak RSS, hello ≤ 150 ms.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { IMAGES, ociLayout } from "../test/fixtures/images.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, measured, median, type Run, row } from "./util.ts";

const CLI = new URL("../bin/osless.js", import.meta.url).pathname;
const CHILD = new URL("./view-child.mjs", import.meta.url).pathname;

export async function run(): Promise<void> {
  const time = needTool("/usr/bin/time", "time");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const work = await tmpdir("osless-bench-analyze");
  const store = join(work, "store");
  const env = { OSLESS_ROOT: store };
  for (const [from, to] of [
    [`oci:${await ociLayout(IMAGES.debian, "minbase")}:minbase`, "debian:minbase"],
    [`oci:${await ociLayout(IMAGES.hello)}:latest`, "hello"],
  ]) {
    const r = spawnSync(process.execPath, [CLI, "copy", "-q", from!, to!], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`osless copy ${from} ${to} failed: ${r.stderr}`);
  }
  const rssFile = join(work, "rss");
  const floor = async (): Promise<Run> => {
    const r = await measured(time, rssFile, [CHILD, "floor", store, "debian:minbase"], {});
    return { ...r, innerMs: (JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { ms: number }).ms };
  };
  const analyzeDebian = async (): Promise<Run> => {
    const r = await measured(time, rssFile, [CLI, "analyze", "--json", "debian:minbase"], env);
    const verdict = (JSON.parse(r.stdout) as { verdict: string }).verdict;
    if (verdict !== "full") throw new Error(`analyze debian:minbase: verdict ${verdict}, expected full`);
    return r;
  };
  // As people type it: the text report.
  const analyzeHello = async (): Promise<Run> => {
    const r = await measured(time, rssFile, [CLI, "analyze", "hello"], env);
    if (!r.stdout.startsWith("No operating system is inside.")) {
      throw new Error(`analyze hello: unexpected report: ${r.stdout.slice(0, 200)}`);
    }
    return r;
  };
  const nodeStart = () => measured(time, rssFile, ["-e", "0"], {});

  const runs: Record<"floor" | "debian" | "hello" | "node", Run[]> = {
    floor: [],
    debian: [],
    hello: [],
    node: [],
  };
  await floor();
  await analyzeDebian();
  await analyzeHello();
  for (let i = 0; i < rounds; i++) {
    runs.floor.push(await floor());
    runs.debian.push(await analyzeDebian());
    runs.hello.push(await analyzeHello());
    runs.node.push(await nodeStart());
  }
  console.log(
    `analyze: Debian bookworm minbase (1 layer, ~120 MB) and static hello, ${rounds} rounds, median`,
  );
  const f = row("gunzip + sha256 (floor process)", runs.floor);
  const inner = median(runs.floor.map((r) => r.innerMs!));
  console.log(`    (the floor's pass alone, from its first blob read: ${inner.toFixed(0)} ms)`);
  const d = row("osless analyze --json debian:minbase", runs.debian);
  const h = row("osless analyze hello", runs.hello);
  const n = row("node -e 0 (runtime start)", runs.node);
  console.log(`  ratio analyze/floor: ${(d.ms / f.ms).toFixed(2)}×  (goal ≤ 1.3×)`);
  console.log(
    `  peak RSS of analyze debian: ${d.maxRssMB.toFixed(0)} MB  (goal ≤ 150 MB; floor ${f.maxRssMB.toFixed(0)} MB)`,
  );
  console.log(
    `  analyze hello end to end: ${h.ms.toFixed(0)} ms  (goal ≤ 150 ms; node -e 0: ${n.ms.toFixed(0)} ms)`,
  );
  console.log(`  machine: ${machine()}`);
}
