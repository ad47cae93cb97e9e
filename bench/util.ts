import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";

/**
 * Some machines set NODE_EXTRA_CA_CERTS system-wide (this one: the whole Debian bundle), which makes every Node
 * process parse ~140 certificates before its first line: ~45 ms here, more than the work some benchmarks time.
 * Benchmarks of whole osless processes say whether it is set and run with it unset, as a user's shell has it.
 */
export function withoutExtraCaCerts(): void {
  if (process.env.NODE_EXTRA_CA_CERTS) {
    console.log(
      `  (NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS} is set here: unset for the timed processes)`,
    );
    delete process.env.NODE_EXTRA_CA_CERTS;
  }
}

/** Run a command to completion; reject on failure. Returns wall time in ms. */
export function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(performance.now() - t0)
        : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${err.slice(-2000)}`)),
    );
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Bytes of an OCI layout's blobs (manifest, config, layers): what a pull or push moves. */
export async function layoutImageSize(layout: string): Promise<number> {
  const { readdir, stat } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const dir = join(layout, "blobs", "sha256");
  let total = 0;
  for (const n of await readdir(dir)) total += (await stat(join(dir, n))).size;
  return total;
}

/**
 * Run `round(record)` once as a warm-up and then `rounds` times; each round times osless and its peer (in that
 * order) and hands back both times. Prints the medians, every time and the ratio against `goal`.
 */
export async function compare(opts: {
  title: string;
  rounds: number;
  ours: string;
  peer: string;
  goal: number;
  round: () => Promise<[number, number]>;
}): Promise<void> {
  const ours: number[] = [];
  const peer: number[] = [];
  await opts.round();
  for (let i = 0; i < opts.rounds; i++) {
    const [a, b] = await opts.round();
    ours.push(a);
    peer.push(b);
  }
  const o = median(ours);
  const p = median(peer);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(`${opts.title}, ${opts.rounds} rounds, median wall time`);
  console.log(`  ${opts.ours.padEnd(40)} ${o.toFixed(0).padStart(6)} ms   (${list(ours)})`);
  console.log(`  ${opts.peer.padEnd(40)} ${p.toFixed(0).padStart(6)} ms   (${list(peer)})`);
  console.log(`  ratio osless/peer: ${(o / p).toFixed(2)}×  (goal ≤ ${opts.goal}×)`);
  console.log(`  machine: ${machine()}`);
}

export interface Run {
  ms: number;
  maxRssMB: number;
  /** The floor's own time from its first blob read (view-child's line). */
  innerMs?: number;
}

/**
 * Run `node ARGS` under /usr/bin/time (`time`, the path of GNU time; `out`, a file for its report): wall time of
 * the whole process, its peak RSS and its stdout.
 */
export function measured(
  time: string,
  out: string,
  args: string[],
  env: Record<string, string>,
): Promise<Run & { stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(time, ["-f", "%M", "-o", out, process.execPath, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", async (code) => {
      const ms = performance.now() - t0;
      if (code !== 0)
        return reject(new Error(`node ${args.join(" ")} failed (${code}): ${stderr.slice(-2000)}`));
      const kb = Number((await readFile(out, "utf8")).trim().split("\n").at(-1));
      resolve({ ms, maxRssMB: kb / 1024, stdout });
    });
  });
}

/** Print one row (median time, highest peak RSS, every time) and return the medians. */
export function row(label: string, runs: Run[]): Run {
  const ms = median(runs.map((r) => r.ms));
  const rss = Math.max(...runs.map((r) => r.maxRssMB));
  console.log(
    `  ${label.padEnd(40)} ${ms.toFixed(0).padStart(6)} ms  peak RSS ${rss.toFixed(0).padStart(4)} MB   (${runs.map((r) => r.ms.toFixed(0)).join(", ")})`,
  );
  return { ms, maxRssMB: rss };
}
