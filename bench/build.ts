/**
 * build: the article's `FROM scratch` + `COPY hello /` + `CMD ["/hello"]` built by `osless build --no-cache` and by
 * `buildah bud` (private storage, the same context), alternating, whole processes; then a fully cached
 * `osless build` of the same context. Goals: ≤ 0.5× buildah; cached rebuild ≤ 150 ms.
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HELLO_C, staticProgram } from "../test/fixtures/programs.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, median, timed } from "./util.ts";

const CLI = new URL("../bin/osless.js", import.meta.url).pathname;

export async function run(): Promise<void> {
  const buildah = needTool("buildah", "buildah");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
  const work = await tmpdir("osless-bench-build");
  const ctx = join(work, "ctx");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(ctx);
  copyFileSync(await staticProgram("hello", HELLO_C), join(ctx, "hello"));
  writeFileSync(join(ctx, "Dockerfile"), 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n');
  const env = { OSLESS_ROOT: join(work, "store") };
  const osless = () =>
    timed(process.execPath, [CLI, "build", "-q", "--no-cache", "-t", "bench-hello", ctx], env);
  const cached = () => timed(process.execPath, [CLI, "build", "-q", "-t", "bench-hello", ctx], env);
  const storage = [
    "--root",
    join(work, "buildah", "root"),
    "--runroot",
    join(work, "buildah", "run"),
    "--storage-driver",
    "vfs",
  ];
  const peer = () => timed(buildah, [...storage, "bud", "-q", "--layers=false", "-t", "bench-hello", ctx]);
  const times: Record<"osless" | "buildah" | "cached", number[]> = { osless: [], buildah: [], cached: [] };
  await osless();
  await peer();
  await cached();
  for (let i = 0; i < rounds; i++) {
    times.osless.push(await osless());
    times.buildah.push(await peer());
    times.cached.push(await cached());
  }
  const o = median(times.osless);
  const b = median(times.buildah);
  const c = median(times.cached);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(
    `build: FROM scratch + COPY hello (a 0.7 MB static program), ${rounds} rounds, median wall time`,
  );
  console.log(
    `  ${"osless build --no-cache".padEnd(36)} ${o.toFixed(0).padStart(6)} ms   (${list(times.osless)})`,
  );
  console.log(
    `  ${"buildah bud (vfs storage)".padEnd(36)} ${b.toFixed(0).padStart(6)} ms   (${list(times.buildah)})`,
  );
  console.log(
    `  ${"osless build (fully cached)".padEnd(36)} ${c.toFixed(0).padStart(6)} ms   (${list(times.cached)})`,
  );
  console.log(`  ratio osless/buildah: ${(o / b).toFixed(2)}×  (goal ≤ 0.5×)`);
  console.log(`  cached rebuild: ${c.toFixed(0)} ms  (goal ≤ 150 ms)`);
  console.log(`  machine: ${machine()}`);
}
