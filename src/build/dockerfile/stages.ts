/**
 * Stages of a parsed Dockerfile (global ARGs before the first FROM, then one stage per FROM with its
 * instructions), `FROM` expanded with the global ARGs, and the stable JSON of `osless build --print-instructions`.
 */

import { OslessError } from "../../errors.ts";
import { DOCKERFILE_ERROR_CODE, didYouMean, dockerfileError } from "./errors.ts";
import { type Expanded, expandWord } from "./expand.ts";
import { FLAG_TYPES } from "./parser.ts";
import type { VarEnv } from "./shell-lex.ts";
import type { Dockerfile, FromInstruction, Heredoc, Instruction, SourceLocation } from "./types.ts";

export interface GlobalArg {
  key: string;
  /** The default as written (unexpanded); undefined for `ARG NAME`. */
  default: string | undefined;
  /** The value in effect: the --build-arg, else the default expanded with the args before it; undefined if neither. */
  value: string | undefined;
  loc: SourceLocation;
}

export interface Stage {
  index: number;
  /** Lower-cased `AS name`. */
  name: string | undefined;
  from: FromInstruction;
  /** The base after expansion with the global ARGs: an image reference, `scratch`, or an earlier stage's name. */
  image: string;
  /** `--platform` after expansion. */
  platform: string | undefined;
  /** The earlier stage this one builds on (`FROM build`), when the image names one. */
  baseStage: number | undefined;
  /** `FROM scratch` (and no stage of that name). */
  scratch: boolean;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface Stages {
  globalArgs: GlobalArg[];
  /** The global ARGs with values, for `FROM` and for stages that redeclare them (`ARG NAME` inside a stage). */
  globalEnv: Map<string, string>;
  stages: Stage[];
}

export interface StagesOptions {
  /** `--build-arg K=V`: overrides global ARG defaults. */
  buildArgs?: VarEnv;
  /** Arguments defined before any ARG (BuildKit's TARGETPLATFORM, BUILDPLATFORM, ...). */
  builtinArgs?: VarEnv;
}

function entries(env: VarEnv | undefined): [string, string][] {
  if (env === undefined) return [];
  return env instanceof Map ? [...env.entries()] : Object.entries(env as Record<string, string>);
}

function lookup(env: VarEnv | undefined, key: string): string | undefined {
  if (env === undefined) return undefined;
  if (env instanceof Map) return env.get(key);
  const rec = env as Readonly<Record<string, string>>;
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/**
 * Groups the instructions into stages. Errors (`FILE:LINE:COL:`): an instruction other than ARG before the first
 * FROM, no FROM at all, a duplicate stage name, a FROM image or platform that expands to nothing or fails to
 * expand (`${BASE:?set it}`).
 */
export function stages(df: Dockerfile, opts: StagesOptions = {}): Stages {
  const lexOpts = { escape: df.directives.escape };
  const globalEnv = new Map<string, string>(entries(opts.builtinArgs));
  const globalArgs: GlobalArg[] = [];
  const out: Stage[] = [];
  const byName = new Map<string, Stage>();

  for (const ins of df.instructions) {
    if (ins.kind === "FROM") {
      const image = expandWord(ins.image, globalEnv, ins.loc, lexOpts);
      if (image === "") {
        throw dockerfileError(
          ins.loc,
          `base name (${ins.image}) should not be blank`,
          "Give the ARG used in FROM a default or pass it with --build-arg.",
        );
      }
      let platform: string | undefined;
      if (ins.flags.platform !== undefined) {
        platform = expandWord(ins.flags.platform, globalEnv, ins.loc, lexOpts);
        if (platform === "") {
          throw dockerfileError(
            ins.loc,
            `empty platform value from expression ${ins.flags.platform}`,
            "Give the ARG used in --platform a value, e.g. --build-arg TARGETPLATFORM=linux/amd64.",
          );
        }
      }
      if (ins.stageName !== undefined) {
        const prev = byName.get(ins.stageName);
        if (prev) {
          throw dockerfileError(
            ins.loc,
            `duplicate stage name "${ins.stageName}" (stage ${prev.index} on line ${prev.from.loc.line} has it)`,
            "Give every stage its own name.",
          );
        }
      }
      const base = byName.get(image);
      const stage: Stage = {
        index: out.length,
        name: ins.stageName,
        from: ins,
        image,
        platform,
        baseStage: base?.index,
        scratch: base === undefined && image === "scratch",
        instructions: [],
      };
      out.push(stage);
      if (stage.name !== undefined) byName.set(stage.name, stage);
      continue;
    }
    const current = out[out.length - 1];
    if (current) {
      current.instructions.push(ins);
      continue;
    }
    if (ins.kind !== "ARG") {
      throw dockerfileError(
        ins.loc,
        `${ins.kind} before the first FROM: no build stage in current context`,
        "Only ARG may come before the first FROM; start the stage with FROM IMAGE (or FROM scratch).",
      );
    }
    for (const d of ins.definitions) {
      const given = lookup(opts.buildArgs, d.key);
      const value =
        given ?? (d.value === undefined ? undefined : expandWord(d.value, globalEnv, ins.loc, lexOpts));
      if (value !== undefined) globalEnv.set(d.key, value);
      globalArgs.push({ key: d.key, default: d.value, value, loc: ins.loc });
    }
  }
  if (out.length === 0) {
    const last = df.instructions[df.instructions.length - 1] as Instruction;
    throw dockerfileError(
      last.loc,
      "the Dockerfile has no FROM",
      "Start a stage with FROM IMAGE (or FROM scratch).",
    );
  }
  return { globalArgs, globalEnv, stages: out };
}

/**
 * The stage `ref` names: a stage name (case-insensitive) or an index (`COPY --from=0`). Undefined when none does
 * (then `ref` is an image reference).
 */
export function findStage(st: Stages, ref: string): Stage | undefined {
  if (/^\d+$/.test(ref)) return st.stages[Number(ref)];
  const name = ref.toLowerCase();
  return st.stages.find((s) => s.name === name);
}

/** The stage `--target` names (the last stage without it). E_DOCKERFILE with a suggestion when there is none. */
export function targetStage(st: Stages, target: string | undefined, file: string): Stage {
  if (target === undefined || target === "") return st.stages[st.stages.length - 1] as Stage;
  const s = st.stages.find((x) => x.name === target.toLowerCase());
  if (s) return s;
  const names = st.stages.flatMap((x) => (x.name === undefined ? [] : [x.name]));
  throw new OslessError(
    DOCKERFILE_ERROR_CODE,
    `${file}: target stage "${target}" could not be found${didYouMean(target, names, true)}`,
    {
      hint:
        names.length > 0
          ? `The stages are named ${names.join(", ")}.`
          : "No stage has a name: write FROM IMAGE AS NAME.",
      details: { file, target },
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// osless build --print-instructions

/**
 * The JSON `osless build --print-instructions` prints (key order fixed, absent values are null):
 *
 * {
 *   "file": "Dockerfile",
 *   "directives": { "syntax": string|null, "escape": "\\" | "`", "check": { "skip": [string], "error": bool }|null },
 *   "globalArgs": [ { "name", "default": string|null, "value": string|null, "line", "column" } ],
 *   "stages": [ {
 *     "index": 0, "name": string|null, "line", "column",
 *     "from": { "image": as written, "platform": as written|null },
 *     "base": { "image": expanded, "platform": expanded|null, "stage": index of the stage built on|null, "scratch": bool },
 *     "instructions": [ Instruction ]
 *   } ]
 * }
 *
 * Instruction: {
 *   "kind": "COPY", "line", "column", "endLine", "raw": the logical line (continuations joined),
 *   "flags": { flag name: string | boolean | [string] } only the flags written (repeatable ones as arrays),
 *   "args": [string] unexpanded arguments: FROM [image] or [image, "AS", name]; RUN/CMD/ENTRYPOINT the exec array
 *           or [shell command]; COPY/ADD sources then dest (heredoc sources as written, `<<EOF`); ENV/LABEL
 *           ["KEY=VALUE"...]; ARG ["KEY" | "KEY=DEFAULT"...]; HEALTHCHECK ["NONE"] or ["CMD", ...command];
 *           ONBUILD [expression]; others their words,
 *   "form": "exec"|"shell"|null (RUN, CMD, ENTRYPOINT, HEALTHCHECK CMD; SHELL is always "exec"),
 *   "heredocs": [ { "name", "fd": number|null, "expand": bool, "chomp": bool, "content": body as written } ],
 *   "trigger": Instruction|null (ONBUILD's),
 *   "expanded": object|null: the values after variable expansion (the `Expanded` type minus "kind") where the
 *               build knows them: FROM always (global ARGs); others when the caller passes them in.
 * }
 */
export interface InstructionsJson {
  file: string;
  directives: { syntax: string | null; escape: string; check: { skip: string[]; error: boolean } | null };
  globalArgs: { name: string; default: string | null; value: string | null; line: number; column: number }[];
  stages: StageJson[];
}

export interface StageJson {
  index: number;
  name: string | null;
  line: number;
  column: number;
  from: { image: string; platform: string | null };
  base: { image: string; platform: string | null; stage: number | null; scratch: boolean };
  instructions: InstructionJson[];
}

export interface InstructionJson {
  kind: string;
  line: number;
  column: number;
  endLine: number;
  raw: string;
  flags: Record<string, string | boolean | string[]>;
  args: string[];
  form: "exec" | "shell" | null;
  heredocs: HeredocJson[];
  trigger: InstructionJson | null;
  expanded: Record<string, unknown> | null;
}

export interface HeredocJson {
  name: string;
  fd: number | null;
  expand: boolean;
  chomp: boolean;
  content: string;
}

export interface InstructionsJsonOptions extends StagesOptions {
  /** Expanded values the builder computed (expandInstruction's results), by instruction. */
  expanded?: ReadonlyMap<Instruction, Expanded>;
}

function heredocJson(h: Heredoc): HeredocJson {
  return { name: h.name, fd: h.fd, expand: h.expand, chomp: h.chomp, content: h.content };
}

function flagsJson(ins: Instruction): Record<string, string | boolean | string[]> {
  const types = FLAG_TYPES[ins.kind];
  const out: Record<string, string | boolean | string[]> = {};
  for (const w of ins.flagWords) {
    const t = types[w.name];
    if (t === "bool") out[w.name] = w.value === undefined || w.value.toLowerCase() === "true";
    else if (t === "strings") out[w.name] = [...((out[w.name] as string[] | undefined) ?? []), w.value ?? ""];
    else out[w.name] = w.value ?? "";
  }
  return out;
}

function argsJson(ins: Instruction): { args: string[]; form: "exec" | "shell" | null } {
  const cmd = (c: { form: "exec"; args: string[] } | { form: "shell"; command: string }) =>
    c.form === "exec" ? c.args : [c.command];
  switch (ins.kind) {
    case "RUN":
    case "CMD":
    case "ENTRYPOINT":
      return { args: cmd(ins.cmd), form: ins.cmd.form };
    case "SHELL":
      return { args: ins.shell, form: "exec" };
    case "HEALTHCHECK":
      return ins.check.type === "NONE"
        ? { args: ["NONE"], form: null }
        : { args: ["CMD", ...cmd(ins.check.cmd)], form: ins.check.cmd.form };
    case "ENV":
    case "LABEL":
      return { args: ins.pairs.map((p) => `${p.key}=${p.value}`), form: null };
    case "ARG":
      return {
        args: ins.definitions.map((d) => (d.value === undefined ? d.key : `${d.key}=${d.value}`)),
        form: null,
      };
    case "ONBUILD":
      return { args: [ins.expression], form: null };
    default:
      return { args: ins.args, form: null };
  }
}

function expandedJson(e: Expanded | undefined): Record<string, unknown> | null {
  if (e === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== "kind") out[k] = v === undefined ? null : v;
  return out;
}

function instructionJson(
  ins: Instruction,
  expanded: Expanded | undefined,
  map?: InstructionsJsonOptions["expanded"],
): InstructionJson {
  const { args, form } = argsJson(ins);
  const heredocs = "heredocs" in ins ? ins.heredocs.map(heredocJson) : [];
  return {
    kind: ins.kind,
    line: ins.loc.line,
    column: ins.loc.column,
    endLine: ins.loc.endLine,
    raw: ins.raw,
    flags: flagsJson(ins),
    args,
    form,
    heredocs,
    trigger: ins.kind === "ONBUILD" ? instructionJson(ins.trigger, map?.get(ins.trigger), map) : null,
    expanded: expandedJson(expanded),
  };
}

/** The `--print-instructions` JSON (see InstructionsJson for its shape); `JSON.stringify` it to print. */
export function instructionsJson(df: Dockerfile, opts: InstructionsJsonOptions = {}): InstructionsJson {
  const st = stages(df, opts);
  const check = df.directives.check;
  return {
    file: df.file,
    directives: {
      syntax: df.directives.syntax ?? null,
      escape: df.directives.escape,
      check: check ? { skip: check.skip, error: check.error } : null,
    },
    globalArgs: st.globalArgs.map((a) => ({
      name: a.key,
      default: a.default ?? null,
      value: a.value ?? null,
      line: a.loc.line,
      column: a.loc.column,
    })),
    stages: st.stages.map((s) => {
      const fromExpanded: Expanded = opts.expanded?.get(s.from) ?? {
        kind: "FROM",
        image: s.image,
        platform: s.platform,
      };
      return {
        index: s.index,
        name: s.name ?? null,
        line: s.from.loc.line,
        column: s.from.loc.column,
        from: { image: s.from.image, platform: s.from.flags.platform ?? null },
        base: {
          image: s.image,
          platform: s.platform ?? null,
          stage: s.baseStage ?? null,
          scratch: s.scratch,
        },
        instructions: [s.from, ...s.instructions].map((ins) =>
          instructionJson(ins, ins === s.from ? fromExpanded : opts.expanded?.get(ins), opts.expanded),
        ),
      };
    }),
  };
}
