/**
 * `osless build`: a Dockerfile's stages run step by step into images, with no daemon.
 *
 * - Stages: global ARGs before the first FROM; FROM scratch, a store image (pulled when missing), or an earlier
 *   stage; only the stages the target needs are built (FROM and COPY --from name them).
 * - Steps: metadata instructions change the config and add a history entry with `empty_layer`; COPY/ADD write a
 *   layer from the context (or a stage/image root); RUN runs through the runtime on an overlay of the layers so
 *   far and its upper dir becomes the layer. Layer blobs go into the store as they are made.
 * - Cache: a layer step's key is the parent (the image so far: config and layer DiffIDs), the instruction as
 *   expanded, and its content (the sources' digest for COPY/ADD); a hit reuses the layer and prints CACHED.
 * - Reproducible: with SOURCE_DATE_EPOCH the config's and history's times are that instant and layer mtimes are
 *   clamped to it, so the same context gives the same image digest on every run.
 * - Nothing is named until the last stage is committed: a failing build tags nothing.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, posix, resolve } from "node:path";
import { writeFileAtomic } from "../_internal/fs.ts";
import { OslessError } from "../errors.ts";
import { overlayUpperEntries } from "../layer/diff.ts";
import type { LayerEntry } from "../layer/write.ts";
import { runOnLayers } from "../runtime/ephemeral.ts";
import { lowerDirs, prepareSnapshots, UnionRoot } from "../runtime/rootfs.ts";
import type { RootReader } from "../runtime/types.ts";
import { hostPlatform, parsePlatform } from "../spec/platform.ts";
import type { ContainerConfig, Descriptor, HealthConfig, HistoryEntry } from "../spec/schemas.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import type { Store } from "../store/layout.ts";
import { addEntries, resolveAddSources } from "./add.ts";
import { DirTree, resolveSources, type SourceTree, UnionTree } from "./context.ts";
import { copyEntries, sourcesDigest } from "./copy.ts";
import { DOCKERFILE_ERROR_CODE } from "./dockerfile/errors.ts";
import { heredocFileContent, runHeredocCommand } from "./dockerfile/expand.ts";
import { parseDockerfile } from "./dockerfile/parser.ts";
import { ShellLex, ShellLexError, type VarEnv } from "./dockerfile/shell-lex.ts";
import {
  findStage,
  instructionsJson,
  type Stage,
  type Stages,
  stages,
  targetStage,
} from "./dockerfile/stages.ts";
import type { CommandLine, Dockerfile, Instruction, SourceLocation } from "./dockerfile/types.ts";
import { loadIgnore } from "./ignore.ts";
import {
  addLayer,
  type CommittedImage,
  commitImage,
  type ImageState,
  scratchImage,
  stackLayer,
  withConfig,
} from "./image.ts";

export interface BuildOptions {
  /** The context directory. */
  context: string;
  /** The Dockerfile: a path (default `<context>/Dockerfile`), or its text with `dockerfileText`. */
  dockerfile?: string | undefined;
  dockerfileText?: string | undefined;
  /** Canonical names to give the image. */
  tags?: string[] | undefined;
  /** The stage to build (default: the last). */
  target?: string | undefined;
  buildArgs?: Record<string, string> | undefined;
  noCache?: boolean | undefined;
  /** SOURCE_DATE_EPOCH (seconds): a reproducible image. */
  sourceDateEpoch?: number | undefined;
  runtime?: string | undefined;
  /** Pull a FROM image that is not in the store (the caller's registry settings); default: refuse. */
  pull?: ((ref: string) => Promise<void>) | undefined;
  /** Step lines (`STEP 2/5: COPY hello /`, `--> CACHED`, RUN's output). */
  log?: ((line: string) => void) | undefined;
  /** RUN's output, as it comes. */
  output?: ((stream: "stdout" | "stderr", chunk: Buffer) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface BuildStepReport {
  stage: string;
  step: number;
  instruction: string;
  cached: boolean;
  ms: number;
}

export interface BuildResult extends CommittedImage {
  steps: BuildStepReport[];
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];

interface StageState {
  image: ImageState;
  /** This stage set CMD itself (an ENTRYPOINT then keeps it; an inherited CMD is dropped, as Docker does). */
  cmdSet?: boolean;
  /** ARG values visible in this stage (declared in it; globals re-declared). */
  args: Map<string, string>;
  shell: string[];
}

function errorAt(
  loc: SourceLocation,
  message: string,
  hint?: string,
  details?: Record<string, unknown>,
): OslessError {
  return new OslessError(DOCKERFILE_ERROR_CODE, `${loc.file}:${loc.line}:${loc.column}: ${message}`, {
    ...(hint ? { hint } : {}),
    ...(details ? { details } : {}),
  });
}

/** Prefix an error from a step with where the step is (its own code kept). */
function located(e: unknown, loc: SourceLocation): unknown {
  if (!(e instanceof OslessError) || e.message.startsWith(`${loc.file}:`)) return e;
  return new OslessError(e.code, `${loc.file}:${loc.line}:${loc.column}: ${e.message}`, {
    hint: e.hint,
    details: e.details,
    cause: e,
  });
}

class Builder {
  readonly store: Store;
  readonly opts: BuildOptions;
  readonly lex: ShellLex;
  readonly df: Dockerfile;
  readonly stages: Stage[];
  readonly globalArgs: Map<string, string>;
  readonly parsed: Stages;
  readonly built = new Map<number, StageState>();
  readonly steps: BuildStepReport[] = [];
  readonly epoch: number | undefined;
  readonly buildArgs: Map<string, string>;
  readonly usedBuildArgs = new Set<string>();
  #context: DirTree | undefined;
  #prefix = "";

  constructor(store: Store, df: Dockerfile, opts: BuildOptions) {
    this.store = store;
    this.opts = opts;
    this.df = df;
    this.lex = new ShellLex({ escape: df.directives.escape });
    this.epoch = opts.sourceDateEpoch;
    this.buildArgs = new Map(Object.entries(opts.buildArgs ?? {}));
    const target = hostPlatform();
    const platform = `${target.os}/${target.architecture}${target.variant ? `/${target.variant}` : ""}`;
    // BuildKit's predefined platform ARGs (this build's target is the host's platform).
    const builtinArgs = {
      TARGETPLATFORM: platform,
      TARGETOS: target.os,
      TARGETARCH: target.architecture,
      TARGETVARIANT: target.variant ?? "",
      BUILDPLATFORM: platform,
      BUILDOS: target.os,
      BUILDARCH: target.architecture,
      BUILDVARIANT: target.variant ?? "",
    };
    const parsed = stages(df, { buildArgs: this.buildArgs, builtinArgs });
    // SOURCE_DATE_EPOCH as a build arg sets the build's epoch (BuildKit's rule): it is used even if no ARG names it.
    if (this.buildArgs.has("SOURCE_DATE_EPOCH")) this.usedBuildArgs.add("SOURCE_DATE_EPOCH");
    this.parsed = parsed;
    this.stages = parsed.stages;
    this.globalArgs = parsed.globalEnv;
    for (const g of parsed.globalArgs) if (this.buildArgs.has(g.key)) this.usedBuildArgs.add(g.key);
  }

  log(line: string): void {
    this.opts.log?.(line);
  }

  get created(): string {
    return new Date((this.epoch ?? Date.now() / 1000) * 1000).toISOString();
  }

  get context(): DirTree {
    if (!this.#context) {
      const { ignore } = loadIgnore(this.opts.context, this.opts.dockerfile);
      this.#context = new DirTree(this.opts.context, { ignore });
    }
    return this.#context;
  }

  word(text: string, env: VarEnv, loc: SourceLocation): string {
    try {
      return this.lex.processWord(text, env);
    } catch (e) {
      if (e instanceof ShellLexError) throw errorAt(loc, e.message);
      throw e;
    }
  }

  words(text: string, env: VarEnv, loc: SourceLocation): string[] {
    try {
      return this.lex.processWords(text, env);
    } catch (e) {
      if (e instanceof ShellLexError) throw errorAt(loc, e.message);
      throw e;
    }
  }

  stageByName(name: string): Stage | undefined {
    return findStage(this.parsed, name);
  }

  /** The stages the target needs, in order (FROM <stage> and COPY --from=<stage> make dependencies). */
  needed(target: Stage): Stage[] {
    const need = new Set<number>();
    const visit = (s: Stage) => {
      if (need.has(s.index)) return;
      need.add(s.index);
      if (s.baseStage !== undefined) visit(this.stages[s.baseStage]!);
      for (const ins of s.instructions) {
        if (ins.kind === "COPY" && ins.flags.from !== undefined) {
          const dep = this.stageByName(this.word(ins.flags.from, this.globalArgs, ins.loc));
          if (dep && dep.index < s.index) visit(dep);
        }
      }
    };
    visit(target);
    return this.stages.filter((s) => need.has(s.index));
  }

  async run(): Promise<BuildResult> {
    const target = targetStage(this.parsed, this.opts.target, this.df.file);
    const stages = this.needed(target);
    let last: StageState | undefined;
    for (const [i, s] of stages.entries()) {
      // buildah's step lines: "[2/3] STEP 1/4: ..." when there are several stages, "STEP 1/4: ..." otherwise.
      this.#prefix = stages.length > 1 ? `[${i + 1}/${stages.length}] ` : "";
      last = await this.buildStage(s);
      this.built.set(s.index, last);
    }
    const unused = [...this.buildArgs.keys()].filter((k) => !this.usedBuildArgs.has(k));
    if (unused.length > 0) {
      this.log(`[Warning] one or more build args were not consumed: [${unused.join(" ")}]`);
    }
    const names = this.opts.tags ?? [];
    this.log(`COMMIT${names.length ? ` ${names.join(" ")}` : ""}`);
    const committed = await commitImage(this.store, last!.image, names, this.created);
    this.log(`--> ${committed.id.slice(7, 19)}`);
    for (const n of names) this.log(`Successfully tagged ${n}`);
    return { ...committed, steps: this.steps };
  }

  /** A stage's FROM, or (`other`) an image a COPY --from names, reported at that instruction. */
  async baseImage(s: Stage, other?: { image: string; loc: SourceLocation }): Promise<StageState> {
    const loc = other?.loc ?? s.from.loc;
    const name = other?.image ?? s.image;
    const platform = !other && s.platform ? parsePlatform(s.platform) : hostPlatform();
    const fresh = (image: ImageState, shell = DEFAULT_SHELL): StageState => ({
      image,
      args: new Map(),
      shell,
    });
    if (name === "scratch") return fresh(scratchImage(platform));
    const stage = this.stageByName(name);
    if (stage && stage.index < s.index) {
      const b = this.built.get(stage.index)!;
      return { image: b.image, args: new Map(), shell: b.shell };
    }
    let img: Awaited<ReturnType<typeof openImage>>;
    try {
      img = await openImage(this.store, name, platform);
    } catch (e) {
      if (!(e instanceof OslessError && e.code === "E_NOT_FOUND") || !this.opts.pull) throw located(e, loc);
      this.log(`Pulling ${name}`);
      try {
        await this.opts.pull(name);
        img = await openImage(this.store, name, platform);
      } catch (pullError) {
        throw located(pullError, loc);
      }
    }
    const cfg = img.config.config;
    return fresh({
      config: {
        architecture: cfg.architecture,
        os: cfg.os,
        ...(cfg.variant ? { variant: cfg.variant } : {}),
        config: { ...(cfg.config ?? {}) },
        rootfs: { type: "layers", diff_ids: [...cfg.rootfs.diff_ids] },
        history: [...(cfg.history ?? [])],
      },
      layers: imageLayers(this.store, img),
    });
  }

  async buildStage(s: Stage): Promise<StageState> {
    const label = s.name ?? String(s.index);
    const count = s.instructions.length + 1;
    let step = 1;
    const t0 = performance.now();
    this.log(`${this.#prefix}STEP ${step}/${count}: ${s.from.raw}`);
    let st = await this.baseImage(s);
    this.steps.push({
      stage: label,
      step,
      instruction: s.from.raw,
      cached: false,
      ms: performance.now() - t0,
    });
    // ONBUILD triggers of the base image run first, as Docker runs them.
    const triggers = st.image.config.config?.OnBuild ?? [];
    if (triggers.length > 0) {
      st = {
        ...st,
        image: withConfig(st.image, { created: this.created, created_by: "" }, (c) => ({
          ...c,
          OnBuild: [],
        })),
      };
      st.image.config.history?.pop();
      for (const t of triggers) {
        const parsed = parseDockerfile(`${t}\n`, { file: `${this.df.file} (ONBUILD of ${s.from.image})` });
        for (const ins of parsed.instructions) st = await this.step(st, ins, s, label, 0, count, true);
      }
    }
    for (const ins of s.instructions) {
      step++;
      st = await this.step(st, ins, s, label, step, count, false);
    }
    return st;
  }

  async step(
    st: StageState,
    ins: Instruction,
    s: Stage,
    label: string,
    step: number,
    count: number,
    trigger: boolean,
  ): Promise<StageState> {
    this.opts.signal?.throwIfAborted();
    const t0 = performance.now();
    this.log(`${this.#prefix}${trigger ? "ONBUILD" : `STEP ${step}/${count}`}: ${ins.raw}`);
    const report = { stage: label, step, instruction: ins.raw, cached: false, ms: 0 };
    try {
      const next = await this.apply(st, ins, s, report);
      report.ms = performance.now() - t0;
      this.steps.push(report);
      if (report.cached) this.log("--> CACHED");
      else if (next.image.layers.length !== st.image.layers.length) {
        this.log(`--> ${(report.ms / 1000).toFixed(2)}s`);
      }
      return next;
    } catch (e) {
      throw located(e, ins.loc);
    }
  }

  /** Variables for expansion: the stage's ARGs, then its ENV (which wins). */
  vars(st: StageState): Map<string, string> {
    const m = new Map(st.args);
    for (const kv of st.image.config.config?.Env ?? []) {
      const i = kv.indexOf("=");
      if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return m;
  }

  history(text: string): HistoryEntry {
    return { created: this.created, created_by: text, comment: "buildkit.dockerfile.v0" };
  }

  meta(st: StageState, text: string, fn: (c: ContainerConfig) => ContainerConfig): StageState {
    return { ...st, image: withConfig(st.image, this.history(text), fn) };
  }

  async apply(st: StageState, ins: Instruction, s: Stage, report: BuildStepReport): Promise<StageState> {
    const vars = this.vars(st);
    const loc = ins.loc;
    switch (ins.kind) {
      case "ARG": {
        const args = new Map(st.args);
        for (const d of ins.definitions) {
          let v: string | undefined;
          if (this.buildArgs.has(d.key)) {
            v = this.buildArgs.get(d.key);
            this.usedBuildArgs.add(d.key);
          } else if (d.value !== undefined) v = this.word(d.value, vars, loc);
          else v = this.globalArgs.get(d.key);
          if (v !== undefined) args.set(d.key, v);
        }
        return { ...st, args };
      }
      case "ENV": {
        const pairs = ins.pairs.map((p) => [p.key, this.word(p.value, vars, loc)] as const);
        return this.meta(st, `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`, (c) => {
          const env = [...(c.Env ?? [])];
          for (const [k, v] of pairs) {
            const i = env.findIndex((e) => e.startsWith(`${k}=`));
            if (i >= 0) env[i] = `${k}=${v}`;
            else env.push(`${k}=${v}`);
          }
          return { ...c, Env: env };
        });
      }
      case "LABEL": {
        const pairs = ins.pairs.map(
          (p) => [this.word(p.key, vars, loc), this.word(p.value, vars, loc)] as const,
        );
        return this.meta(st, `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`, (c) => ({
          ...c,
          Labels: { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) },
        }));
      }
      case "MAINTAINER": {
        const image = withConfig(st.image, this.history(`MAINTAINER ${ins.maintainer}`));
        return { ...st, image: { ...image, config: { ...image.config, author: ins.maintainer } } };
      }
      case "WORKDIR": {
        const dir = this.word(ins.path, vars, loc);
        const cur = st.image.config.config?.WorkingDir || "/";
        // Relative to the current one, `.` and `..` resolved, no trailing slash (Docker's filepath.Join + Clean).
        const clean = posix.resolve(cur, dir);
        return this.meta(st, `WORKDIR ${clean}`, (c) => ({ ...c, WorkingDir: clean }));
      }
      case "USER": {
        const user = this.word(ins.user, vars, loc);
        return this.meta(st, `USER ${user}`, (c) => ({ ...c, User: user }));
      }
      case "EXPOSE": {
        const ports = ins.ports
          .flatMap((p) => this.words(p, vars, loc))
          .map((p) => (p.includes("/") ? p : `${p}/tcp`));
        return this.meta(st, `EXPOSE map[${ports.map((p) => `${p}:{}`).join(" ")}]`, (c) => ({
          ...c,
          ExposedPorts: { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) },
        }));
      }
      case "VOLUME": {
        const paths = ins.paths.map((p) => this.word(p, vars, loc));
        for (const p of paths)
          if (p === "") throw errorAt(loc, "VOLUME specified can not be an empty string");
        return this.meta(st, `VOLUME [${paths.join(" ")}]`, (c) => ({
          ...c,
          Volumes: { ...(c.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) },
        }));
      }
      case "STOPSIGNAL": {
        const sig = this.word(ins.signal, vars, loc);
        return this.meta(st, `STOPSIGNAL ${sig}`, (c) => ({ ...c, StopSignal: sig }));
      }
      case "SHELL":
        return {
          ...this.meta(st, `SHELL ${JSON.stringify(ins.shell)}`, (c) => ({ ...c, Shell: ins.shell })),
          shell: ins.shell,
        };
      case "CMD": {
        const cmd = this.command(ins.cmd, st);
        return { ...this.meta(st, `CMD ${JSON.stringify(cmd)}`, (c) => ({ ...c, Cmd: cmd })), cmdSet: true };
      }
      case "ENTRYPOINT": {
        const ep = this.command(ins.cmd, st);
        // Setting ENTRYPOINT drops a CMD inherited from the base (Docker's rule); one this stage set stays.
        return this.meta(st, `ENTRYPOINT ${JSON.stringify(ep)}`, (c) => {
          const { Cmd, ...rest } = c;
          return st.cmdSet && Cmd !== undefined
            ? { ...rest, Entrypoint: ep, Cmd }
            : { ...rest, Entrypoint: ep };
        });
      }
      case "HEALTHCHECK": {
        let hc: HealthConfig;
        if (ins.check.type === "NONE") hc = { Test: ["NONE"] };
        else {
          const cmd = ins.check.cmd;
          hc = { Test: cmd.form === "exec" ? ["CMD", ...cmd.args] : ["CMD-SHELL", cmd.command] };
          const f = ins.flags;
          if (f.interval !== undefined) hc.Interval = f.interval;
          if (f.timeout !== undefined) hc.Timeout = f.timeout;
          if (f.startPeriod !== undefined) hc.StartPeriod = f.startPeriod;
          if (f.startInterval !== undefined) hc.StartInterval = f.startInterval;
          if (f.retries !== undefined) hc.Retries = f.retries;
        }
        return this.meta(st, `HEALTHCHECK ${JSON.stringify(hc.Test)}`, (c) => ({
          ...c,
          Healthcheck: hc,
        }));
      }
      case "ONBUILD":
        return this.meta(st, `ONBUILD ${ins.expression}`, (c) => ({
          ...c,
          OnBuild: [...(c.OnBuild ?? []), ins.expression],
        }));
      case "FROM":
        throw errorAt(loc, "FROM inside a stage"); // splitStages makes this unreachable
      case "COPY":
      case "ADD":
        return this.copy(st, ins, s, report, vars);
      case "RUN":
        return this.runStep(st, ins, report);
    }
  }

  /** CMD/ENTRYPOINT/RUN as the argv the config stores: exec form as is, shell form behind the stage's SHELL. */
  command(cmd: CommandLine, st: StageState): string[] {
    return cmd.form === "exec" ? cmd.args : [...st.shell, cmd.command];
  }

  /** The image's filesystem so far, read from its layer snapshots (undefined for no layers). */
  async rootOf(image: ImageState): Promise<{ reader: RootReader; lower: string[] } | undefined> {
    if (image.layers.length === 0) return undefined;
    const snaps = await prepareSnapshots(join(this.store.root, "snapshots"), image.layers, {
      signal: this.opts.signal,
    });
    const lower = lowerDirs(snaps);
    return { reader: new UnionRoot(lower), lower };
  }

  /** The root COPY --from reads: an earlier stage, or an image (pulled when missing). */
  async fromTree(name: string, s: Stage, loc: SourceLocation): Promise<SourceTree> {
    const stage = this.stageByName(name);
    let image: ImageState;
    let label: string;
    if (stage) {
      if (stage.index >= s.index) throw errorAt(loc, `COPY --from=${name}: the stage is not before this one`);
      const built = this.built.get(stage.index);
      if (!built) throw errorAt(loc, `COPY --from=${name}: the stage "${name}" was not built`);
      image = built.image;
      label = `stage "${name}"`;
    } else {
      const state = await this.baseImage(s, { image: name, loc });
      image = state.image;
      label = `image ${name}`;
    }
    const root = await this.rootOf(image);
    if (!root) return new UnionTree([await this.emptyDir()], label);
    return new UnionTree(root.lower, label);
  }

  async emptyDir(): Promise<string> {
    const dir = join(this.store.root, "snapshots", "empty");
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async copy(
    st: StageState,
    ins: Extract<Instruction, { kind: "COPY" | "ADD" }>,
    s: Stage,
    report: BuildStepReport,
    vars: Map<string, string>,
  ): Promise<StageState> {
    const loc = ins.loc;
    const kind = ins.kind;
    const unsupported = [
      ...(ins.flags.exclude.length > 0 ? ["--exclude"] : []),
      ...(ins.kind === "COPY" && ins.flags.parents ? ["--parents"] : []),
      ...(ins.kind === "ADD" && ins.flags.keepGitDir !== undefined ? ["--keep-git-dir"] : []),
    ];
    if (unsupported.length > 0) {
      throw errorAt(
        loc,
        `${kind} ${unsupported.join(", ")} is not supported by osless yet`,
        "drop the flag (for --exclude, use .dockerignore)",
      );
    }
    const from =
      ins.kind === "COPY" && ins.flags.from !== undefined ? this.word(ins.flags.from, vars, loc) : undefined;
    const tree = from !== undefined ? await this.fromTree(from, s, loc) : this.context;
    const paths: string[] = [];
    const inline: { name: string; content: string }[] = [];
    const dest = this.word(ins.dest, vars, loc);
    for (const src of ins.sources) {
      if (src.kind === "heredoc")
        inline.push({ name: src.heredoc.name, content: heredocFileContent(src.heredoc, vars, loc) });
      else paths.push(...this.words(src.path, vars, loc));
    }
    // ADD downloads URLs and extracts local archives: their files live in a scratch directory until the layer
    // is written.
    const scratch =
      kind === "ADD" || inline.length > 0
        ? await mkdtemp(join(this.store.root, "ingest", `${process.pid}-copy-`))
        : undefined;
    try {
      const flags = ins.flags;
      // Here-documents become files (0644, owned by root) read from the scratch directory.
      const heredocSources = [];
      if (inline.length > 0) {
        const docs = join(scratch!, "heredocs");
        await mkdir(docs);
        for (const h of inline) await writeFile(join(docs, h.name), h.content, { mode: 0o644 });
        heredocSources.push(
          ...resolveSources(
            new DirTree(docs, { label: "the here-documents" }),
            inline.map((h) => h.name),
          ),
        );
      }
      const pathSources =
        paths.length === 0
          ? []
          : ins.kind === "ADD"
            ? await resolveAddSources(tree, paths, {
                scratchDir: scratch!,
                checksum:
                  ins.flags.checksum !== undefined ? this.word(ins.flags.checksum, vars, loc) : undefined,
                unpack: ins.flags.unpack,
                now: this.epoch,
                signal: this.opts.signal,
              })
            : resolveSources(tree, paths, { instruction: kind });
      const sources = [...pathSources, ...heredocSources];
      const chown = flags.chown !== undefined ? this.word(flags.chown, vars, loc) : undefined;
      const chmod = flags.chmod !== undefined ? this.word(flags.chmod, vars, loc) : undefined;
      const digest = await sourcesDigest(sources, { sourceDateEpoch: this.epoch });
      const text = `${kind} ${[...(chown ? [`--chown=${chown}`] : []), ...(chmod ? [`--chmod=${chmod}`] : []), ...(from !== undefined ? [`--from=${from}`] : []), ...paths, ...inline.map((h) => `<<${h.name}`), dest].join(" ")} # buildkit`;
      const key = this.cacheKey(st, text, digest);
      const hit = await this.cacheGet(key);
      if (hit && hit !== "empty") {
        report.cached = true;
        return {
          ...st,
          image: stackLayer(this.store, st.image, hit.descriptor, hit.diffId, this.history(text)),
        };
      }
      const root = flags.link ? undefined : await this.rootOf(st.image);
      const copyOpts = {
        dest,
        workdir: st.image.config.config?.WorkingDir || "/",
        destRoot: root?.reader,
        chown,
        chmod,
        sourceDateEpoch: this.epoch,
        now: this.epoch,
        instruction: kind,
        sourceArgs: paths.length + inline.length,
      };
      const entries =
        scratch !== undefined
          ? await addEntries(sources, { ...copyOpts, scratchDir: scratch, signal: this.opts.signal })
          : copyEntries(sources, copyOpts);
      return await this.layerStep(st, key, entries, text);
    } finally {
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    }
  }

  async runStep(
    st: StageState,
    ins: Extract<Instruction, { kind: "RUN" }>,
    report: BuildStepReport,
  ): Promise<StageState> {
    const loc = ins.loc;
    if (ins.flags.security !== undefined || ins.flags.devices.length > 0) {
      throw errorAt(loc, "RUN --security and --device are not supported by osless", "drop the flag");
    }
    if (ins.flags.mounts.length > 0)
      throw errorAt(loc, "RUN --mount is not supported", "drop --mount; COPY what the step needs");
    let args: string[];
    if (ins.cmd.form === "exec") args = ins.cmd.args;
    else if (ins.heredocs.length > 0) {
      const h = runHeredocCommand(ins)!;
      if (h.kind === "file") {
        throw errorAt(
          loc,
          "RUN with a here-document that starts with #! is not supported yet",
          "run the interpreter on a file COPY puts in place",
        );
      }
      args = [...st.shell, h.kind === "script" ? h.script : h.command];
    } else args = [...st.shell, ins.cmd.command];
    const network = ins.flags.network === "host" ? "host" : "none";
    // Build args are the step's environment (not the image's); ENV wins over an ARG of the same name.
    const argEnv = [...st.args].filter(
      ([k]) => !(st.image.config.config?.Env ?? []).some((e) => e.startsWith(`${k}=`)),
    );
    const argText =
      argEnv.length > 0 ? `|${argEnv.length} ${argEnv.map(([k, v]) => `${k}=${v}`).join(" ")} ` : "";
    const text = `RUN ${argText}${args.join(" ")} # buildkit`;
    const key = this.cacheKey(st, `${text}\u0000${network}`, "");
    const hit = await this.cacheGet(key);
    if (hit === "empty") {
      report.cached = true;
      return { ...st, image: withConfig(st.image, this.history(text)) };
    }
    if (hit) {
      report.cached = true;
      return {
        ...st,
        image: stackLayer(this.store, st.image, hit.descriptor, hit.diffId, this.history(text)),
      };
    }
    const config = {
      ...st.image.config,
      config: {
        ...st.image.config.config,
        Env: [...argEnv.map(([k, v]) => `${k}=${v}`), ...(st.image.config.config?.Env ?? [])],
      },
    };
    const tail: string[] = [];
    const r = await runOnLayers(this.store, {
      layers: st.image.layers,
      config,
      run: { entrypoint: "", args, network },
      runtime: this.opts.runtime,
      stdio: ["ignore", "pipe", "pipe"],
      onOutput: (stream, chunk) => {
        this.opts.output?.(stream, chunk);
        for (const line of chunk.toString("utf8").split("\n")) if (line) tail.push(line);
        if (tail.length > 20) tail.splice(0, tail.length - 20);
      },
      signal: this.opts.signal,
    });
    try {
      if (r.status !== 0) {
        throw new OslessError(
          "E_BUILD",
          `${loc.file}:${loc.line}:${loc.column}: RUN ${ins.cmd.form === "exec" ? JSON.stringify(args) : ins.cmd.command} failed with exit code ${r.status}${tail.length ? `; its last output:\n  ${tail.slice(-10).join("\n  ")}` : ""}`,
          {
            hint: "fix the command (its output above says why); nothing was tagged",
            details: { exitCode: r.status },
          },
        );
      }
      const skip = new Set(r.mountPoints.map((m) => m.replace(/^\//, "")));
      const entries = (
        await overlayUpperEntries(r.upper, this.opts.signal ? { signal: this.opts.signal } : {})
      ).filter((e) => ![...skip].some((m) => e.path === m || e.path.startsWith(`${m}/`)));
      if (entries.length === 0) {
        await this.cachePutEmpty(key);
        return { ...st, image: withConfig(st.image, this.history(text)) };
      }
      return await this.layerStep(st, key, entries, text);
    } finally {
      await r.cleanup();
    }
  }

  /** A step's layer written into the store, stacked on the stage and remembered under the step's cache key. */
  async layerStep(st: StageState, key: string, entries: LayerEntry[], text: string): Promise<StageState> {
    const image = await addLayer(this.store, st.image, entries, this.history(text), {
      sourceDateEpoch: this.epoch,
      signal: this.opts.signal,
    });
    await this.cachePut(key, image);
    return { ...st, image };
  }

  // --- cache -----------------------------------------------------------------------------------------------------

  cacheKey(st: StageState, instruction: string, content: string): string {
    const parent = JSON.stringify({
      diffIds: st.image.config.rootfs.diff_ids,
      config: st.image.config.config ?? {},
      platform: [st.image.config.os, st.image.config.architecture, st.image.config.variant ?? ""],
    });
    return createHash("sha256")
      .update(
        `osless-build-cache-v1\u0000${parent}\u0000${instruction}\u0000${content}\u0000${this.epoch ?? ""}`,
      )
      .digest("hex");
  }

  cachePath(key: string): string {
    return join(this.store.root, "build-cache", key);
  }

  /** A cached step: its layer (still in the store), "empty" for a RUN that changed nothing, or undefined. */
  async cacheGet(
    key: string,
  ): Promise<{ descriptor: Descriptor; diffId: `sha256:${string}` } | "empty" | undefined> {
    if (this.opts.noCache) return undefined;
    let hit: { descriptor: Descriptor; diffId: `sha256:${string}` } | { empty: true };
    try {
      hit = JSON.parse(await readFile(this.cachePath(key), "utf8"));
    } catch {
      return undefined;
    }
    if ("empty" in hit) return "empty";
    // The layer must still be in the store (prune may have collected it).
    return (await this.store.hasBlob({ digest: hit.descriptor.digest, size: hit.descriptor.size }))
      ? hit
      : undefined;
  }

  async cachePutEmpty(key: string): Promise<void> {
    await this.cacheWrite(key, { empty: true });
  }

  async cachePut(key: string, image: ImageState): Promise<void> {
    const layer = image.layers[image.layers.length - 1]!;
    await this.cacheWrite(key, { descriptor: layer.descriptor, diffId: layer.diffId });
  }

  async cacheWrite(key: string, value: unknown): Promise<void> {
    await mkdir(join(this.store.root, "build-cache"), { recursive: true });
    await writeFileAtomic(this.cachePath(key), JSON.stringify(value));
  }
}

/** Build the Dockerfile (see the module comment). */
export async function buildImage(store: Store, opts: BuildOptions): Promise<BuildResult> {
  const context = resolve(opts.context);
  const dfPath =
    opts.dockerfile === undefined || opts.dockerfile === ""
      ? join(context, "Dockerfile")
      : isAbsolute(opts.dockerfile)
        ? opts.dockerfile
        : resolve(opts.dockerfile);
  let text = opts.dockerfileText;
  if (text === undefined) {
    try {
      text = await readFile(dfPath, "utf8");
    } catch (e) {
      throw new OslessError(
        "E_NOT_FOUND",
        `cannot read the Dockerfile ${dfPath}: ${(e as NodeJS.ErrnoException).code ?? e}`,
        {
          hint: "give its path with -f, or put a Dockerfile in the context directory",
        },
      );
    }
  }
  const df = parseDockerfile(text, { file: opts.dockerfileText !== undefined ? "Dockerfile" : dfPath });
  await store.init();
  // A lease for the whole build: while this process is a live writer, prune spares recent unnamed blobs (the
  // layers written so far) and every layer snapshot (the stages' overlays).
  const lease = await store.begin();
  try {
    return await new Builder(store, df, { ...opts, context }).run();
  } finally {
    await lease.dispose();
  }
}

/**
 * The parsed Dockerfile as `osless build --print-instructions` prints it (the shape is documented in
 * dockerfile/stages.ts `instructionsJson`), with FROM expanded from the global ARGs and `buildArgs`.
 */
export function parsedInstructions(
  text: string,
  file: string,
  buildArgs: Record<string, string> = {},
): unknown {
  return instructionsJson(parseDockerfile(text, { file }), { buildArgs });
}
