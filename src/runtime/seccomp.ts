/**
 * Seccomp profiles: reading a user's profile file (`--security-opt seccomp=FILE`, Docker's format) and turning a
 * profile template into the `linux.seccomp` block of an OCI runtime config, for the host's architecture and kernel
 * and the container's capabilities, the way Docker does it (moby `profiles/seccomp`, `setupSeccomp`).
 */
import { OslessError } from "../errors.ts";
import {
  DEFAULT_PROFILE,
  type SeccompAction,
  type SeccompArchEntry,
  type SeccompArg,
  type SeccompFilter,
  type SeccompOperator,
  type SeccompTemplate,
  type SeccompTemplateRule,
} from "./seccomp-profile.ts";

export type {
  SeccompAction,
  SeccompArchEntry,
  SeccompArg,
  SeccompFilter,
  SeccompOperator,
  SeccompTemplate,
  SeccompTemplateRule,
};
export { DEFAULT_PROFILE };

/** A rule of an OCI `linux.seccomp` block (runtime-spec config-linux.md). */
export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number | undefined;
  args?: SeccompArg[] | undefined;
}

/** The OCI `linux.seccomp` block (runtime-spec config-linux.md, "Seccomp"). */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number | undefined;
  architectures?: string[] | undefined;
  flags?: string[] | undefined;
  listenerPath?: string | undefined;
  listenerMetadata?: string | undefined;
  syscalls?: LinuxSyscall[] | undefined;
}

/** What a template's conditions are evaluated against. */
export interface SeccompContext {
  /** The host architecture: Node's `process.arch` (x64, arm64, ...); Go/OCI names (amd64, 386...) work too. */
  arch: string;
  /** The container's bounding capability set, `CAP_*` names. */
  caps: readonly string[];
  /** The host kernel release, `os.release()` ("6.1.0-18-amd64"); only major.minor counts. */
  kernel: string;
}

const ACTIONS: readonly SeccompAction[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];

const OPERATORS: readonly SeccompOperator[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

/** libseccomp's architectures as runtime-spec lists them. */
const SCMP_ARCHES: readonly string[] = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
];

const FLAGS: readonly string[] = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/**
 * The names rules use in `includes.arches`/`excludes.arches` (moby's: Go's for amd64 and arm64, libseccomp's
 * otherwise) and the libseccomp architecture each one is. Aliases map to the same entry; moby spells
 * little-endian mips64 n32 "mips3l64n32" and Go's loong64 is libseccomp's loongarch64.
 */
const NATIVE_ARCHES: Record<string, { native: string; scmp: string }> = {
  amd64: { native: "amd64", scmp: "SCMP_ARCH_X86_64" },
  x86: { native: "x86", scmp: "SCMP_ARCH_X86" },
  x32: { native: "x32", scmp: "SCMP_ARCH_X32" },
  arm: { native: "arm", scmp: "SCMP_ARCH_ARM" },
  arm64: { native: "arm64", scmp: "SCMP_ARCH_AARCH64" },
  mips: { native: "mips", scmp: "SCMP_ARCH_MIPS" },
  mipsel: { native: "mipsel", scmp: "SCMP_ARCH_MIPSEL" },
  mips64: { native: "mips64", scmp: "SCMP_ARCH_MIPS64" },
  mips64n32: { native: "mips64n32", scmp: "SCMP_ARCH_MIPS64N32" },
  mipsel64: { native: "mipsel64", scmp: "SCMP_ARCH_MIPSEL64" },
  mipsel64n32: { native: "mipsel64n32", scmp: "SCMP_ARCH_MIPSEL64N32" },
  mips3l64n32: { native: "mipsel64n32", scmp: "SCMP_ARCH_MIPSEL64N32" },
  ppc: { native: "ppc", scmp: "SCMP_ARCH_PPC" },
  ppc64: { native: "ppc64", scmp: "SCMP_ARCH_PPC64" },
  ppc64le: { native: "ppc64le", scmp: "SCMP_ARCH_PPC64LE" },
  s390: { native: "s390", scmp: "SCMP_ARCH_S390" },
  s390x: { native: "s390x", scmp: "SCMP_ARCH_S390X" },
  riscv64: { native: "riscv64", scmp: "SCMP_ARCH_RISCV64" },
  loongarch64: { native: "loongarch64", scmp: "SCMP_ARCH_LOONGARCH64" },
  loong64: { native: "loongarch64", scmp: "SCMP_ARCH_LOONGARCH64" },
};

/**
 * Node's `process.arch` (and Go's GOARCH where it differs) to the native name above. Node's ppc64 is the
 * little-endian ppc64le on Linux (Node has no big-endian Linux build); mips64el is Node's older name.
 */
const HOST_ARCH_ALIASES: Record<string, string> = {
  x64: "amd64",
  ia32: "x86",
  "386": "x86",
  ppc64: "ppc64le",
  mips64el: "mipsel64",
  mips64le: "mipsel64",
  mipsle: "mipsel",
  aarch64: "arm64",
};

/**
 * The libseccomp architecture of a host architecture name (`process.arch`, GOARCH or libseccomp's native name):
 * `{ native, scmp }`, or undefined when seccomp does not know it.
 */
export function seccompArch(arch: string): { native: string; scmp: string } | undefined {
  return NATIVE_ARCHES[HOST_ARCH_ALIASES[arch] ?? arch];
}

// ---------------------------------------------------------------------------------------------------------------
// Conversion

interface KernelVersion {
  major: number;
  minor: number;
}

function hostKernel(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) {
    throw new OslessError("E_RUNTIME", `cannot read the kernel version from the release "${release}"`, {
      hint: "seccomp rules with minKernel need a release such as 6.1.0-18-amd64 (uname -r)",
    });
  }
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** "<major>.<minor>" as Docker reads it (each 0-255, not 0.0), or undefined when it is not that. */
function parseMinKernel(v: string): KernelVersion | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(v);
  if (!m) return undefined;
  const k = { major: Number(m[1]), minor: Number(m[2]) };
  if (k.major > 255 || k.minor > 255 || (k.major === 0 && k.minor === 0)) return undefined;
  return k;
}

const atLeast = (k: KernelVersion, min: KernelVersion) =>
  k.major > min.major || (k.major === min.major && k.minor >= min.minor);

function normalizeArch(a: string): string {
  return NATIVE_ARCHES[a]?.native ?? a;
}

/**
 * The OCI `linux.seccomp` block for template `t` on this host and container (moby's rules): `architectures` is
 * the `archMap` entry of the host's architecture plus its sub-architectures (none when the host's is not listed,
 * then the runtime filters its native architecture only); a rule is kept unless `excludes` names the host's
 * architecture, names any capability of the bounding set, or has a `minKernel` the host's kernel reaches, and
 * only if `includes` names the host's architecture, all its capabilities are in the bounding set, and the kernel
 * reaches its `minKernel` (each when given).
 */
export function toOciSeccomp(t: SeccompTemplate, ctx: SeccompContext): LinuxSeccomp {
  if (t.architectures?.length && t.archMap?.length) {
    throw new OslessError("E_USAGE", "a seccomp profile has both 'architectures' and 'archMap'", {
      hint: "keep one of them: 'archMap' picks the host's architecture, 'architectures' is used as is",
    });
  }
  const host = seccompArch(ctx.arch);
  const caps = new Set(ctx.caps);
  let kernel: KernelVersion | undefined;
  const kernelAtLeast = (v: string): boolean => {
    const min = parseMinKernel(v);
    if (!min) {
      throw new OslessError("E_USAGE", `a seccomp rule's minKernel "${v}" is not "<major>.<minor>"`, {
        hint: 'write the kernel version as "4.8" (major and minor only)',
      });
    }
    kernel ??= hostKernel(ctx.kernel);
    return atLeast(kernel, min);
  };
  const arches = (f: SeccompFilter) => (f.arches ?? []).map(normalizeArch);

  const out: LinuxSeccomp = { defaultAction: t.defaultAction };
  if (t.defaultErrnoRet !== undefined) out.defaultErrnoRet = t.defaultErrnoRet;
  if (t.architectures?.length) out.architectures = [...t.architectures];
  else if (host) {
    const entry = t.archMap?.find((a) => a.architecture === host.scmp);
    if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  if (t.flags?.length) out.flags = [...t.flags];
  if (t.listenerPath !== undefined) out.listenerPath = t.listenerPath;
  if (t.listenerMetadata !== undefined) out.listenerMetadata = t.listenerMetadata;

  const syscalls: LinuxSyscall[] = [];
  t.syscalls?.forEach((rule, i) => {
    if (rule.name && rule.names?.length) {
      throw new OslessError("E_USAGE", `seccomp rule ${i} has both 'name' and 'names'`, {
        hint: "use 'names' (a list) only",
      });
    }
    const names = rule.name ? [rule.name] : (rule.names ?? []);
    const ex = rule.excludes;
    if (ex) {
      if (host && arches(ex).includes(host.native)) return;
      if (ex.caps?.some((c) => caps.has(c))) return;
      if (ex.minKernel && kernelAtLeast(ex.minKernel)) return;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !(host && arches(inc).includes(host.native))) return;
      if (inc.caps?.some((c) => !caps.has(c))) return;
      if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return;
    }
    const s: LinuxSyscall = { names: [...names], action: rule.action };
    if (rule.errnoRet !== undefined) s.errnoRet = rule.errnoRet;
    if (rule.args?.length) s.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(s);
  });
  out.syscalls = syscalls;
  return out;
}

/** osless's default profile (seccomp-profile.ts) for this host and container. */
export function defaultSeccomp(ctx: SeccompContext): LinuxSeccomp {
  return toOciSeccomp(DEFAULT_PROFILE, ctx);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a profile file

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/**
 * Where and why `text` is not JSON: the offset of the first character a JSON parser cannot accept (JSON.parse's
 * messages do not always give one). Only called once JSON.parse has failed.
 */
export function jsonSyntaxError(text: string): { offset: number; reason: string } {
  let i = 0;
  class Stop {
    constructor(readonly reason: string) {}
  }
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const found = () => (i >= text.length ? "end of input" : JSON.stringify(text[i]));
  const expect = (what: string): never => {
    throw new Stop(`expected ${what}, found ${found()}`);
  };
  const str = () => {
    i++; // the opening quote
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Stop("unterminated string");
      if (c === '"') break;
      if (c < " ") throw new Stop("control character in a string (escape it)");
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) throw new Stop("bad \\u escape");
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "x")) throw new Stop("bad escape in a string");
      }
      i++;
    }
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') expect("a property name in double quotes");
        str();
        ws();
        if (text[i] !== ":") expect("':'");
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else expect("',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else expect("',' or ']'");
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) expect("a value");
    i += m![0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) expect("the end of the input");
  } catch (e) {
    if (e instanceof Stop) return { offset: i, reason: e.reason };
    throw e;
  }
  return { offset: text.length, reason: "not JSON" };
}

/**
 * Reads and checks a seccomp profile file's contents, as Docker takes it for `--security-opt seccomp=FILE`:
 * a template (`archMap`, `includes`/`excludes`, `name` or `names`) or an OCI `linux.seccomp` block. As with
 * Docker (Go's JSON decoding) keys match case-insensitively and unknown keys (`comment`, podman's
 * `defaultErrno`) are ignored. Throws E_USAGE naming the file and the place for: invalid JSON (line and column),
 * a profile with neither `defaultAction` nor `syscalls` (Docker would run such a container unconfined: say
 * `seccomp=unconfined` instead), unknown actions, operators, architectures or flags, both `name` and `names` or
 * both `architectures` and `archMap`, bad argument indexes or values (above 2^53, which JSON numbers here cannot
 * carry exactly), an `errnoRet` on an action that returns no errno, malformed `minKernel` or capability names.
 */
export function parseSeccompProfile(text: string, path: string): SeccompTemplate {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    const { offset, reason } = jsonSyntaxError(text);
    const at = lineColumn(text, offset);
    throw new OslessError(
      "E_USAGE",
      `seccomp profile ${path}: invalid JSON at line ${at.line}, column ${at.column}: ${reason}`,
      {
        hint: "fix the JSON syntax there (a profile is one JSON object, as Docker's default.json)",
        details: { path, ...at },
      },
    );
  }
  return new ProfileReader(path).profile(doc);
}

class ProfileReader {
  constructor(readonly path: string) {}

  fail(where: string, what: string, hint: string): never {
    const at = where ? ` at ${where}` : "";
    throw new OslessError("E_USAGE", `seccomp profile ${this.path}${at}: ${what}`, {
      hint,
      details: { path: this.path, ...(where ? { field: where } : {}) },
    });
  }

  /** The value of `key` in `obj` (exact key first, then any case, as Go's JSON decoding); null is absent. */
  get(obj: JsonObject, key: string): Json | undefined {
    let v = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (v === undefined) {
      const lower = key.toLowerCase();
      const k = Object.keys(obj).find((x) => x.toLowerCase() === lower);
      if (k !== undefined) v = obj[k];
    }
    return v === null ? undefined : v;
  }

  string(obj: JsonObject, key: string, where: string): string | undefined {
    const v = this.get(obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== "string")
      this.fail(where, `${key} must be a string, not ${JSON.stringify(v)}`, "quote it");
    return v;
  }

  strings(obj: JsonObject, key: string, where: string): string[] | undefined {
    const v = this.get(obj, key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      this.fail(where, `${key} must be a list of strings`, `write it as ["...", "..."]`);
    }
    return v as string[];
  }

  uint(obj: JsonObject, key: string, where: string, max: number, hint: string): number | undefined {
    const v = this.get(obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      this.fail(where, `${key} must be a non-negative integer, not ${JSON.stringify(v)}`, hint);
    }
    if (v > max) {
      const why =
        max === Number.MAX_SAFE_INTEGER ? " (larger values cannot be read exactly from JSON here)" : "";
      this.fail(where, `${key} ${v} is above ${max}${why}`, hint);
    }
    return v;
  }

  action(obj: JsonObject, key: string, where: string): SeccompAction | undefined {
    const v = this.string(obj, key, where);
    if (v === undefined) return undefined;
    if (!(ACTIONS as readonly string[]).includes(v)) {
      this.fail(where, `unknown ${key} "${v}"`, `use one of ${ACTIONS.join(", ")}`);
    }
    return v as SeccompAction;
  }

  errnoRet(obj: JsonObject, key: string, where: string, action: SeccompAction): number | undefined {
    const n = this.uint(obj, key, where, 0xffff, "give an errno number such as 1 (EPERM) or 38 (ENOSYS)");
    if (n !== undefined && action !== "SCMP_ACT_ERRNO" && action !== "SCMP_ACT_TRACE") {
      this.fail(
        where,
        `${key} is set but ${action} returns no errno`,
        `drop ${key}, or use SCMP_ACT_ERRNO (or SCMP_ACT_TRACE)`,
      );
    }
    return n;
  }

  scmpArches(list: string[] | undefined, where: string): string[] | undefined {
    for (const a of list ?? []) {
      if (!SCMP_ARCHES.includes(a)) {
        this.fail(where, `unknown architecture "${a}"`, "use libseccomp's names, such as SCMP_ARCH_X86_64");
      }
    }
    return list;
  }

  profile(doc: Json): SeccompTemplate {
    if (!isObject(doc))
      this.fail("", "not a JSON object", "a profile is an object, as Docker's default.json");
    const defaultAction = this.action(doc, "defaultAction", "defaultAction");
    const rules = this.get(doc, "syscalls");
    if (defaultAction === undefined) {
      if (rules === undefined || (Array.isArray(rules) && rules.length === 0)) {
        const looksLikeConfig =
          this.get(doc, "ociVersion") !== undefined || this.get(doc, "linux") !== undefined;
        this.fail(
          "",
          looksLikeConfig
            ? "this is a runtime config, not a seccomp profile"
            : "no defaultAction and no syscalls (Docker would run the container without seccomp)",
          looksLikeConfig
            ? "give the contents of its linux.seccomp object as the profile"
            : 'set "defaultAction" (e.g. "SCMP_ACT_ERRNO"), or use --security-opt seccomp=unconfined to run without seccomp',
        );
      }
      this.fail("defaultAction", "missing", 'set "defaultAction", e.g. "SCMP_ACT_ERRNO"');
    }
    if (defaultAction === "SCMP_ACT_NOTIFY") {
      this.fail("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action", "use it in rules only");
    }
    const t: SeccompTemplate = { defaultAction };
    const defaultErrnoRet = this.errnoRet(doc, "defaultErrnoRet", "defaultErrnoRet", defaultAction);
    if (defaultErrnoRet !== undefined) t.defaultErrnoRet = defaultErrnoRet;

    const architectures = this.scmpArches(
      this.strings(doc, "architectures", "architectures"),
      "architectures",
    );
    const archMapJson = this.get(doc, "archMap");
    if (architectures?.length && Array.isArray(archMapJson) && archMapJson.length) {
      this.fail(
        "",
        "both 'architectures' and 'archMap' are given",
        "keep one of them (Docker refuses both too)",
      );
    }
    if (architectures) t.architectures = architectures;
    if (archMapJson !== undefined) {
      if (!Array.isArray(archMapJson))
        this.fail("archMap", "must be a list", 'write [{"architecture": ...}, ...]');
      t.archMap = archMapJson.map((e, i) => this.archEntry(e, `archMap[${i}]`));
    }

    const flags = this.strings(doc, "flags", "flags");
    for (const f of flags ?? []) {
      if (!FLAGS.includes(f)) this.fail("flags", `unknown flag "${f}"`, `use ${FLAGS.join(", ")}`);
    }
    if (flags) t.flags = flags;
    const listenerPath = this.string(doc, "listenerPath", "listenerPath");
    const listenerMetadata = this.string(doc, "listenerMetadata", "listenerMetadata");
    if (listenerMetadata !== undefined && listenerPath === undefined) {
      this.fail(
        "listenerMetadata",
        "set without listenerPath",
        "set listenerPath too, or drop listenerMetadata",
      );
    }
    if (listenerPath !== undefined) t.listenerPath = listenerPath;
    if (listenerMetadata !== undefined) t.listenerMetadata = listenerMetadata;

    if (rules !== undefined) {
      if (!Array.isArray(rules))
        this.fail("syscalls", "must be a list of rules", 'write [{"names": [...], ...}]');
      t.syscalls = rules.map((r, i) => this.rule(r, `syscalls[${i}]`, listenerPath !== undefined));
    }
    return t;
  }

  archEntry(e: Json, where: string): SeccompArchEntry {
    if (!isObject(e))
      this.fail(where, "must be an object", 'write {"architecture": "SCMP_ARCH_X86_64", ...}');
    const architecture = this.string(e, "architecture", where);
    if (architecture === undefined) this.fail(where, "architecture missing", "name the architecture");
    this.scmpArches([architecture], `${where}.architecture`);
    const sub = this.scmpArches(this.strings(e, "subArchitectures", where), `${where}.subArchitectures`);
    return { architecture, subArchitectures: sub ?? [] };
  }

  rule(r: Json, where: string, hasListener: boolean): SeccompTemplateRule {
    if (!isObject(r)) this.fail(where, "must be an object", 'write {"names": [...], "action": ...}');
    const name = this.string(r, "name", where);
    const names = this.strings(r, "names", where);
    if (name && names?.length) {
      this.fail(where, "has both 'name' and 'names'", "use 'names' only (Docker refuses both too)");
    }
    const all = name ? [name] : (names ?? []);
    if (all.length === 0) this.fail(where, "lists no syscall", 'list them in "names"');
    if (all.some((n) => n === "")) this.fail(where, "has an empty syscall name", "remove it");
    const action = this.action(r, "action", `${where}.action`);
    if (action === undefined) this.fail(where, "action missing", 'set "action", e.g. "SCMP_ACT_ALLOW"');
    if (action === "SCMP_ACT_NOTIFY" && !hasListener) {
      this.fail(
        `${where}.action`,
        "SCMP_ACT_NOTIFY without a listenerPath",
        "set the profile's listenerPath",
      );
    }
    const rule: SeccompTemplateRule = name ? { name, action } : { names: all, action };
    const errnoRet = this.errnoRet(r, "errnoRet", `${where}.errnoRet`, action);
    if (errnoRet !== undefined) rule.errnoRet = errnoRet;
    const args = this.get(r, "args");
    if (args !== undefined) {
      if (!Array.isArray(args)) this.fail(`${where}.args`, "must be a list", 'write [{"index": 0, ...}]');
      rule.args = args.map((a, i) => this.arg(a, `${where}.args[${i}]`));
    }
    const comment = this.string(r, "comment", where);
    if (comment) rule.comment = comment;
    const includes = this.filter(r, "includes", `${where}.includes`);
    if (includes) rule.includes = includes;
    const excludes = this.filter(r, "excludes", `${where}.excludes`);
    if (excludes) rule.excludes = excludes;
    return rule;
  }

  arg(a: Json, where: string): SeccompArg {
    if (!isObject(a))
      this.fail(where, "must be an object", 'write {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}');
    const hint = "argument values are unsigned integers";
    const index = this.uint(a, "index", where, 5, "syscalls have six arguments, index 0 to 5");
    const value = this.uint(a, "value", where, Number.MAX_SAFE_INTEGER, hint);
    const valueTwo = this.uint(a, "valueTwo", where, Number.MAX_SAFE_INTEGER, hint);
    const op = this.string(a, "op", where);
    if (op === undefined || !(OPERATORS as readonly string[]).includes(op)) {
      this.fail(
        where,
        op === undefined ? "op missing" : `unknown op "${op}"`,
        `use one of ${OPERATORS.join(", ")}`,
      );
    }
    const out: SeccompArg = { index: index ?? 0, value: value ?? 0, op: op as SeccompOperator };
    if (valueTwo !== undefined) out.valueTwo = valueTwo;
    return out;
  }

  filter(r: JsonObject, key: string, where: string): SeccompFilter | undefined {
    const f = this.get(r, key);
    if (f === undefined) return undefined;
    if (!isObject(f))
      this.fail(where, "must be an object", 'write {"caps": [...], "arches": [...], "minKernel": "4.8"}');
    const out: SeccompFilter = {};
    const caps = this.strings(f, "caps", where);
    for (const c of caps ?? []) {
      if (!/^CAP_[A-Z_]+$/.test(c)) {
        this.fail(
          `${where}.caps`,
          `"${c}" is not a capability name`,
          "write capabilities as CAP_SYS_ADMIN (with CAP_)",
        );
      }
    }
    if (caps?.length) out.caps = caps;
    const arches = this.strings(f, "arches", where);
    for (const a of arches ?? []) {
      if (!Object.hasOwn(NATIVE_ARCHES, a)) {
        this.fail(
          `${where}.arches`,
          `unknown architecture "${a}"`,
          `use Docker's names: ${Object.keys(NATIVE_ARCHES).join(", ")} (amd64, not x86_64)`,
        );
      }
    }
    if (arches?.length) out.arches = arches;
    const minKernel = this.string(f, "minKernel", where);
    if (minKernel) {
      if (!parseMinKernel(minKernel)) {
        this.fail(
          `${where}.minKernel`,
          `"${minKernel}" is not a kernel version`,
          'write "<major>.<minor>", e.g. "4.8"',
        );
      }
      out.minKernel = minKernel;
    }
    return Object.keys(out).length ? out : undefined;
  }
}
