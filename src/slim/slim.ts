/**
 * `osless slim`: the OS-less version of an image, proven to behave as the original.
 *
 * 1. The image's layers become the runtime's snapshots; the analysis reads their union (UnionFiles): the verdict
 *    and attack surface before, and the static plan (plan.ts).
 * 2. The original runs once under the runtime with strace attached (trace.ts) while the probe runs: the command
 *    (the image's, or `--probe`'s arguments in place of its CMD) to its end, or, with `--http-probe PORT`, the
 *    image's server until it answers `GET /` on that port. Every file it named joins the plan.
 * 3. One layer, FROM scratch, of the kept files (metadata as in the image), with the original run config and a
 *    label naming the source: written untagged.
 * 4. The slim image runs with the same probe; exit status and output (or the HTTP answer) must equal the
 *    original's. Only then is it tagged; otherwise it is removed again and the difference is the error.
 * Every check that can fail before writing (no entrypoint, no tracer, a probe that fails on the original) fails
 * before anything is written.
 */

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import { join } from "node:path";
import { xattrSupport } from "../_internal/xattr.ts";
import { type Analysis, analyzeFiles } from "../analysis/analyze.ts";
import { type AnalyzedImage, analyzeStoreImage } from "../analysis/image.ts";
import { commitImage, type ImageState, putLayer, stackLayer } from "../build/image.ts";
import { OslessError } from "../errors.ts";
import { devNumbers, layerXattrs, readXattrs } from "../layer/diff-fs.ts";
import type { LayerEntry } from "../layer/write.ts";
import { runOnLayers } from "../runtime/ephemeral.ts";
import { lowerDirs, prepareSnapshots, UnionRoot } from "../runtime/rootfs.ts";
import type { ContainerConfig, ImageConfig } from "../spec/schemas.ts";
import type { Store } from "../store/layout.ts";
import { type ImageInfo, imageInfo, openImageSource } from "../transfer/open.ts";
import { type KeptPath, planSlim } from "./plan.ts";
import type { TracedPath } from "./strace.ts";
import { attachStrace, findStrace, type Trace } from "./trace.ts";
import { UnionFiles } from "./union-files.ts";

/** The label that names the image a slim image was made from (name@digest). */
export const SOURCE_LABEL = "org.osless.slim.source";
/** Output kept of each run for the comparison and the report. */
const OUTPUT_MAX = 1 << 20;

export interface SlimOptions {
  /** Names for the slim image (canonical references). */
  names: string[];
  include?: string[] | undefined;
  keepShell?: boolean | undefined;
  /** Arguments that replace the image's CMD for the probe runs. */
  probe?: string[] | undefined;
  /** Probe the image's server with `GET /` on this port (host network) instead of waiting for its end. */
  httpProbe?: number | undefined;
  /** false: the static plan alone, no traced run (the verification still runs). Default true. */
  trace?: boolean | undefined;
  /** How long a probe run may take (default 60 s). */
  timeoutMs?: number | undefined;
  runtime?: string | undefined;
  sourceDateEpoch?: number | undefined;
  onProgress?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface ProbeResult {
  /** Exit status of the first process (for an HTTP probe: how it ended once stopped). */
  status: number;
  /** The first MiB of each stream. */
  stdout: string;
  stderr: string;
  /** sha256 of all of stdout and of all of stderr ("OUT:ERR"): what the comparison compares. */
  outputDigest: string;
  outputBytes: number;
  http?: { status: number; body: string } | undefined;
}

export interface Surface {
  verdict: Analysis["verdict"];
  files: number;
  bytes: number;
  shells: string[];
  packageManagers: string[];
  setuid: string[];
}

export interface SlimReport {
  source: ImageInfo;
  /** The slim image, or null when there was nothing to remove. */
  image: { id: string; digest: string; names: string[] } | null;
  nothingToRemove: boolean;
  kept: { path: string; reasons: string[]; traced: boolean }[];
  traced: { files: number; processes: number } | null;
  before: Surface;
  after: Surface | null;
  probe: { original: ProbeResult; slim: ProbeResult | null };
  findings: { code: string; path: string; message: string }[];
}

function surface(a: Analysis): Surface {
  return {
    verdict: a.verdict,
    files: a.inventory.files,
    bytes: a.inventory.bytes,
    shells: a.inventory.shells.map((s) => s.path),
    packageManagers: a.inventory.packageManagers.map((p) => p.path),
    setuid: a.inventory.setuid.map((s) => s.path),
  };
}

/** The body of an HTTP answer kept for the comparison (a page, not a download). */
const BODY_MAX = 8 << 20;

/**
 * One GET / on 127.0.0.1:port, retried every 100 ms while nothing answers (the server is starting); `signal` ends
 * the tries. An answer that then fails (too large, cut off) is an error at once.
 */
async function httpGet(port: number, signal: AbortSignal): Promise<{ status: number; body: string }> {
  for (;;) {
    signal.throwIfAborted();
    let answered = false;
    try {
      return await new Promise((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, path: "/", method: "GET", timeout: 5000, signal },
          (res) => {
            answered = true;
            const chunks: Buffer[] = [];
            let n = 0;
            res.on("data", (c: Buffer) => {
              n += c.length;
              if (n > BODY_MAX) req.destroy(new Error(`the answer is over ${BODY_MAX} bytes`));
              else chunks.push(c);
            });
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
            );
            res.on("error", reject);
          },
        );
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", reject);
        req.end();
      });
    } catch (e) {
      if (signal.aborted || answered) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Refuse a port something on this host already listens on: it, not the image, would answer the probe. */
async function portFree(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new OslessError(
          "E_SLIM",
          `--http-probe ${port}: the port is in use on this host (${e.code ?? e.message})`,
          {
            hint: "stop what listens there, or run the image's server on another port and probe that one",
          },
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

interface RunInput {
  store: Store;
  layers: ImageState["layers"];
  config: ImageConfig;
  opts: SlimOptions;
  /** Set for the traced run: strace's path. */
  strace?: string | undefined;
}

/** A stream's output: its first OUTPUT_MAX bytes for people, and a hash of all of it for the comparison. */
class Captured {
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  readonly #hash = createHash("sha256");
  bytes = 0;

  add(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    if (this.#kept < OUTPUT_MAX) {
      const part = chunk.subarray(0, OUTPUT_MAX - this.#kept);
      this.#chunks.push(part);
      this.#kept += part.length;
    }
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8");
  }

  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** One probe run of an image's layers: output, status, the HTTP answer, and the trace when asked for. */
async function probeRun(input: RunInput): Promise<ProbeResult & { trace?: Trace | undefined }> {
  const { opts } = input;
  const out = { stdout: new Captured(), stderr: new Captured() };
  const seconds = (opts.timeoutMs ?? 60_000) / 1000;
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let http: ProbeResult["http"];
  let httpError: unknown;
  let trace: Promise<Trace> | undefined;
  if (opts.httpProbe !== undefined) await portFree(opts.httpProbe);
  // Under the store's runs/ like the run's own directory: named by this process, so prune removes it if we die.
  let traceDir: string | undefined;
  if (input.strace) {
    await mkdir(join(input.store.root, "runs"), { recursive: true, mode: 0o700 });
    traceDir = await mkdtemp(join(input.store.root, "runs", `${process.pid}-trace-`));
  }
  const noAnswer = () => {
    const why =
      httpError instanceof Error && !timeout.aborted ? httpError.message : `nothing within ${seconds} s`;
    const said = tail(out.stderr.text() || out.stdout.text());
    return new OslessError(
      "E_SLIM",
      `GET http://127.0.0.1:${opts.httpProbe}/ got no answer: ${why}${said ? `; the image's output ends: ${said}` : ""}`,
      {
        hint: "check the port the image's server listens on (--http-probe PORT), and that it listens on 127.0.0.1",
      },
    );
  };
  try {
    const res = await runOnLayers(input.store, {
      layers: input.layers,
      config: input.config,
      purpose: "slim's probe run",
      // A server as PID 1 often ignores SIGTERM (no handler): it is killed soon after the probe.
      stopTimeoutMs: 2000,
      run: {
        ...(opts.probe ? { args: opts.probe } : {}),
        network: opts.httpProbe !== undefined ? "host" : "none",
      },
      runtime: opts.runtime,
      stdio: ["ignore", "pipe", "pipe"],
      onOutput: (stream, chunk) => out[stream].add(chunk),
      signal,
      ...(input.strace && traceDir
        ? {
            attach: async (pid: number) => {
              const t = await attachStrace(input.strace!, traceDir, pid, {
                cwd: input.config.config?.WorkingDir || "/",
              });
              trace = t.trace;
              return { exited: t.exited };
            },
          }
        : {}),
      ...(opts.httpProbe !== undefined
        ? {
            whileRunning: async (ended: AbortSignal) => {
              try {
                http = await httpGet(opts.httpProbe!, AbortSignal.any([signal, ended]));
              } catch (e) {
                httpError = ended.aborted ? new Error("the image's process ended first") : e;
              }
            },
          }
        : {}),
    }).catch((e: unknown) => {
      if (timeout.aborted && !opts.signal?.aborted) {
        if (opts.httpProbe !== undefined && http === undefined) throw noAnswer();
        throw new OslessError("E_SLIM", `the probe run did not end within ${seconds} s`, {
          hint: "a server needs --http-probe PORT; otherwise raise --timeout",
        });
      }
      throw e;
    });
    await res.cleanup();
    if (opts.httpProbe !== undefined && http === undefined) throw noAnswer();
    return {
      status: res.status,
      stdout: out.stdout.text(),
      stderr: out.stderr.text(),
      outputDigest: `${out.stdout.digest()}:${out.stderr.digest()}`,
      outputBytes: out.stdout.bytes + out.stderr.bytes,
      ...(http ? { http } : {}),
      ...(trace ? { trace: await trace } : {}),
    };
  } finally {
    if (traceDir) await rm(traceDir, { recursive: true, force: true });
  }
}

function sameBehaviour(a: ProbeResult, b: ProbeResult): string | undefined {
  if (a.http || b.http) {
    if (a.http?.status !== b.http?.status) return `HTTP status ${a.http?.status} became ${b.http?.status}`;
    if (a.http?.body !== b.http?.body) return "the HTTP body differs";
    return undefined;
  }
  if (a.status !== b.status) return `exit status ${a.status} became ${b.status}`;
  const [ao, ae] = a.outputDigest.split(":");
  const [bo, be] = b.outputDigest.split(":");
  if (ao !== bo) return "standard output differs";
  if (ae !== be) return "standard error differs";
  return undefined;
}

function tail(text: string): string {
  const t = text.trimEnd();
  return t.length > 400 ? `…${t.slice(-400)}` : t;
}

/** Make the slim image of `input` (see the module comment). */
export async function slimImage(store: Store, input: string, opts: SlimOptions): Promise<SlimReport> {
  const progress = opts.onProgress ?? (() => {});
  const strace = opts.trace === false ? undefined : findStrace();
  const src = await openImageSource(input, { store: async () => store, signal: opts.signal });
  // A lease, as a build has: prune spares the snapshots this reads and the layer it writes until it is named.
  const lease = await store.begin();
  try {
    const source = imageInfo(src);
    const cfg: ContainerConfig = src.config.config ?? {};
    progress(`analysing ${source.name ?? source.digest}`);
    const snapshots = await prepareSnapshots(join(store.root, "snapshots"), src.layers, {
      signal: opts.signal,
    });
    const lower = lowerDirs(snapshots);
    if (lower.length === 0) {
      throw new OslessError("E_SLIM", `${input} has no files: there is nothing to slim`, {
        hint: "slim an image with layers",
      });
    }
    const files = new UnionFiles(new UnionRoot(lower));
    const before = await analyzeFiles(files, {
      entrypoint: cfg.Entrypoint ?? null,
      cmd: opts.probe ?? cfg.Cmd ?? null,
      env: cfg.Env ?? null,
      workingDir: cfg.WorkingDir,
    });
    if (before.entrypoint.path === null) {
      const argv0 = before.entrypoint.argv[0];
      throw new OslessError(
        "E_SLIM",
        argv0 === undefined
          ? `${input} has no ENTRYPOINT and no CMD: slim keeps what the entrypoint needs`
          : `the entrypoint ${argv0} of ${input} is not in the image`,
        {
          hint: "slim an image whose entrypoint runs (osless analyze IMAGE shows why it does not)",
          details: { findings: before.findings.filter((f) => /ENTRYPOINT|COMMAND|PROGRAM/.test(f.code)) },
        },
      );
    }
    progress(strace ? "running the original image with strace attached" : "running the original image");
    const original = await probeRun({ store, layers: src.layers, config: src.config, opts, strace });
    if (opts.httpProbe === undefined && original.status !== 0) {
      throw new OslessError(
        "E_SLIM",
        `the probe fails on the original image: exit status ${original.status}${original.stderr || original.stdout ? `; its output ends: ${tail(original.stderr || original.stdout)}` : ""}`,
        {
          hint: "give a --probe that succeeds on the original (its arguments replace the image's CMD), or --http-probe PORT for a server",
        },
      );
    }
    const traced: TracedPath[] = original.trace?.paths ?? [];
    const plan = await planSlim(files, cfg, {
      include: opts.include,
      keepShell: opts.keepShell,
      probe: opts.probe,
      traced,
    });
    // Everything but directories kept: nothing to remove.
    let removable = 0;
    for await (const e of files.walk()) {
      if (e.type !== "directory" && !plan.kept.has(`/${e.path}`)) removable++;
    }
    const report: SlimReport = {
      source,
      image: null,
      nothingToRemove: removable === 0,
      kept: [...plan.kept.values()]
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
        .map((k) => ({ path: k.path, reasons: k.reasons, traced: k.tracedOnly })),
      traced: original.trace ? { files: traced.length, processes: original.trace.processes } : null,
      before: surface(before),
      after: null,
      probe: { original: stripTrace(original), slim: null },
      findings: plan.findings,
    };
    if (report.nothingToRemove) return report;

    progress(`writing the slim image (${plan.kept.size} paths)`);
    const layer = await layerEntries(files, plan.kept);
    for (const f of layer.findings) report.findings.push(f);
    const labels = { ...(cfg.Labels ?? {}), [SOURCE_LABEL]: `${source.name ?? input}@${source.digest}` };
    const base: ImageState = {
      layers: [],
      config: {
        architecture: src.config.architecture,
        os: src.config.os,
        ...(src.config.variant ? { variant: src.config.variant } : {}),
        config: { ...cfg, Labels: labels },
        rootfs: { type: "layers", diff_ids: [] },
        history: [],
      },
    };
    const created = new Date(
      opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : Date.now(),
    ).toISOString();
    // The layer's blob is written (unnamed: the lease keeps it until the image is named), run, then named.
    const written = await putLayer(store, layer.entries, {
      sourceDateEpoch: opts.sourceDateEpoch,
      signal: opts.signal,
    });
    const state = stackLayer(store, base, written.descriptor, written.diffId, {
      created,
      created_by: `osless slim ${source.name ?? input}`,
      comment: `from ${source.digest}`,
    });
    progress("running the slim image with the same probe");
    // A failed check leaves the layer unnamed: prune collects it (another slim may share the same blob).
    const slim = await probeRun({
      store,
      layers: state.layers,
      config: { ...src.config, config: base.config.config ?? {} },
      opts,
    });
    const diff = sameBehaviour(original, slim);
    if (diff !== undefined) {
      throw new OslessError("E_SLIM", `the slim image does not behave as the original: ${diff}`, {
        hint: "keep what it misses with --include PATH, or give a --probe that exercises it while traced; nothing was tagged",
        details: { original: stripTrace(original), slim },
      });
    }

    // Analysed before it is named: an interruption here leaves nothing tagged.
    const untagged = await commitImage(store, state, [], created);
    const after: AnalyzedImage = await analyzeStoreImage(store, untagged.digest, { signal: opts.signal });
    const committed = await commitImage(store, state, opts.names, created);
    report.image = { id: committed.id, digest: committed.digest, names: committed.names };
    report.after = surface(after);
    report.probe.slim = slim;
    return report;
  } finally {
    await lease.dispose();
    await src.close();
  }
}

function stripTrace(r: ProbeResult & { trace?: Trace | undefined }): ProbeResult {
  const { trace: _t, ...rest } = r;
  return rest;
}

/**
 * The layer: each kept path with the directories above it, metadata as in the image (owner, mode, time, and the
 * extended attributes a layer carries, file capabilities included); devices and FIFOs as such. Hard links become
 * separate files (a finding says so).
 */
async function layerEntries(
  files: UnionFiles,
  kept: Map<string, KeptPath>,
): Promise<{ entries: LayerEntry[]; findings: SlimReport["findings"] }> {
  const entries = new Map<string, LayerEntry>();
  const findings: SlimReport["findings"] = [];
  const inodes = new Map<string, string>();
  const addOne = async (path: string, body?: Buffer): Promise<void> => {
    const rel = path.replace(/^\/+/, "");
    if (rel === "" || entries.has(rel)) return;
    const e = files.lstatHost(path);
    if (e === undefined) return;
    const st = e.stats;
    const xattrs = xattrSupport() ? layerXattrs(readXattrs(e.host)) : undefined;
    const common = {
      path: rel,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
      ...(xattrs ? { xattrs } : {}),
    };
    if (st.isDirectory()) entries.set(rel, { ...common, type: "directory" });
    else if (st.isSymbolicLink()) {
      entries.set(rel, { ...common, type: "symlink", linkpath: (await files.readlink(path)) ?? "" });
    } else if (st.isFile()) {
      entries.set(rel, { ...common, type: "file", ...(body ? { body } : { source: e.host }) });
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const other = inodes.get(key);
        if (other !== undefined) {
          findings.push({
            code: "HARDLINK_COPIED",
            path,
            message: `${path} and /${other} are one file in the image; the slim image has two copies`,
          });
        } else inodes.set(key, rel);
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isCharacterDevice() ? "char" : "block";
      entries.set(rel, { ...common, type, ...devNumbers(BigInt(st.rdev)) });
    } else if (st.isFIFO()) entries.set(rel, { ...common, type: "fifo" });
  };
  for (const k of kept.values()) {
    const parts = k.path.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) await addOne(`/${parts.slice(0, i).join("/")}`);
    await addOne(k.path, k.body);
  }
  return { entries: [...entries.values()], findings };
}
