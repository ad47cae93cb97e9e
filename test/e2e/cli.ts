/** Run the osless CLI from source against a given store, for e2e tests. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
/** tsx's loader by absolute URL, so that a test may run the CLI in any working directory. */
const TSX = import.meta.resolve("tsx");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function osless(
  root: string,
  args: string[],
  opts: { input?: Buffer; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX, MAIN, ...args], {
      env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1", ...opts.env },
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout, stderr }));
    if (opts.input) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Every path under `dir` with its type, mode, size and content hash: equal snapshots mean an unchanged tree. */
export async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = await lstat(p);
      const rel = relative(dir, p);
      if (st.isDirectory()) {
        out.push(`d ${rel} ${st.mode.toString(8)}`);
        await walk(p);
      } else if (st.isFile()) {
        const h = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
        out.push(`f ${rel} ${st.mode.toString(8)} ${st.size} ${h}`);
      } else out.push(`o ${rel}`);
    }
  };
  await walk(dir);
  return out;
}
