/**
 * The parsed Dockerfile: directives and typed instructions, as written (no variable expanded; see expand.ts).
 */

import type { EscapeChar } from "./shell-lex.ts";

/** Where an instruction is: 1-based line and column of its keyword, and the last line it spans (heredocs included). */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  endLine: number;
}

export interface Directives {
  /** `# syntax=` as written (osless records it; it always uses its own frontend). */
  syntax: string | undefined;
  /** `# escape=`: `\` (default) or a backtick. */
  escape: EscapeChar;
  /** `# check=skip=A,B;error=true`. */
  check: CheckDirective | undefined;
}

export interface CheckDirective {
  raw: string;
  skip: string[];
  error: boolean;
}

export const INSTRUCTION_KINDS = [
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
] as const;
export type InstructionKind = (typeof INSTRUCTION_KINDS)[number];

/** A `--name[=value]` word before the arguments, as written (quotes and escapes removed, as BuildKit does). */
export interface FlagWord {
  name: string;
  /** undefined for `--link` without `=`. */
  value: string | undefined;
  column: number;
  line: number;
}

/** A here-document attached to RUN, COPY or ADD (or ONBUILD of those). */
export interface Heredoc {
  /** The delimiter word, quotes removed. */
  name: string;
  /** `3<<EOF` gives 3; null when no descriptor is written. */
  fd: number | null;
  /** False when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no expansion of the body. */
  expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from the body's lines (and the delimiter line may be indented by tabs). */
  chomp: boolean;
  /** The body as written, every line with its newline; `chomp` not applied (see `heredocBody`). */
  content: string;
}

/** RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD: exec form (JSON array) or shell form (the text, run by the SHELL). */
export type CommandLine = { form: "exec"; args: string[] } | { form: "shell"; command: string };

export interface KeyValue {
  key: string;
  /** As written: quotes and escapes still in it; expansion removes them. */
  value: string;
  /** `ENV KEY value` (the old form without `=`). */
  noDelimiter: boolean;
}

export interface ArgDefinition {
  key: string;
  /** undefined: `ARG NAME` without a default. */
  value: string | undefined;
}

export type RunNetwork = "default" | "none" | "host";
export type RunSecurity = "sandbox" | "insecure";

/** `RUN --mount=type=cache,target=/x,...`: parsed into fields; which types osless supports is the builder's call. */
export interface RunMount {
  raw: string;
  type: "bind" | "cache" | "tmpfs" | "secret" | "ssh";
  /** Every `key=value` (bare `ro`/`rw`/`readonly`/`readwrite`/`required` become `"true"`), keys lower-cased. */
  options: Record<string, string>;
}

/** A COPY/ADD source: a path (glob) or an inline here-document. */
export type CopySource = { kind: "path"; path: string } | { kind: "heredoc"; heredoc: Heredoc };

interface Base<K extends InstructionKind> {
  kind: K;
  /** The keyword as written (`from`, `Run`...). */
  keyword: string;
  /** The instruction's logical line: continuations joined, comment lines removed, heredoc bodies not included. */
  raw: string;
  loc: SourceLocation;
  /** The flags as written. */
  flagWords: FlagWord[];
  /** The argument words after the flags as BuildKit's parser leaves them (unexpanded). */
  args: string[];
}

export interface FromInstruction extends Base<"FROM"> {
  image: string;
  /** Lower-cased `AS name`. */
  stageName: string | undefined;
  flags: { platform: string | undefined };
}

export interface RunInstruction extends Base<"RUN"> {
  cmd: CommandLine;
  heredocs: Heredoc[];
  flags: {
    mounts: RunMount[];
    network: RunNetwork | undefined;
    security: RunSecurity | undefined;
    devices: string[];
  };
}

export interface CmdInstruction extends Base<"CMD"> {
  cmd: CommandLine;
  flags: Record<string, never>;
}

export interface EntrypointInstruction extends Base<"ENTRYPOINT"> {
  cmd: CommandLine;
  flags: Record<string, never>;
}

export interface ShellInstruction extends Base<"SHELL"> {
  shell: string[];
  flags: Record<string, never>;
}

export interface CopyInstruction extends Base<"COPY"> {
  sources: CopySource[];
  dest: string;
  heredocs: Heredoc[];
  flags: {
    from: string | undefined;
    chown: string | undefined;
    chmod: string | undefined;
    link: boolean;
    parents: boolean;
    exclude: string[];
  };
}

export interface AddInstruction extends Base<"ADD"> {
  sources: CopySource[];
  dest: string;
  heredocs: Heredoc[];
  flags: {
    chown: string | undefined;
    chmod: string | undefined;
    link: boolean;
    /** undefined when not given. */
    keepGitDir: boolean | undefined;
    checksum: string | undefined;
    /** undefined when not given (local archives are unpacked, URLs are not). */
    unpack: boolean | undefined;
    exclude: string[];
  };
}

export interface EnvInstruction extends Base<"ENV"> {
  pairs: KeyValue[];
  flags: Record<string, never>;
}

export interface LabelInstruction extends Base<"LABEL"> {
  pairs: KeyValue[];
  flags: Record<string, never>;
}

export interface ArgInstruction extends Base<"ARG"> {
  definitions: ArgDefinition[];
  flags: Record<string, never>;
}

export interface ExposeInstruction extends Base<"EXPOSE"> {
  ports: string[];
  flags: Record<string, never>;
}

export interface UserInstruction extends Base<"USER"> {
  user: string;
  flags: Record<string, never>;
}

export interface WorkdirInstruction extends Base<"WORKDIR"> {
  path: string;
  flags: Record<string, never>;
}

export interface VolumeInstruction extends Base<"VOLUME"> {
  paths: string[];
  flags: Record<string, never>;
}

export interface StopSignalInstruction extends Base<"STOPSIGNAL"> {
  signal: string;
  flags: Record<string, never>;
}

export interface MaintainerInstruction extends Base<"MAINTAINER"> {
  maintainer: string;
  flags: Record<string, never>;
}

/** Durations in nanoseconds (as the image config stores them); undefined when the flag is not given. */
export interface HealthcheckFlags {
  interval: number | undefined;
  timeout: number | undefined;
  startPeriod: number | undefined;
  startInterval: number | undefined;
  retries: number | undefined;
}

export interface HealthcheckInstruction extends Base<"HEALTHCHECK"> {
  /** NONE disables the base image's check; CMD sets one. */
  check: { type: "NONE" } | { type: "CMD"; cmd: CommandLine };
  flags: HealthcheckFlags;
}

export interface OnbuildInstruction extends Base<"ONBUILD"> {
  /** The trigger as stored in the image config's OnBuild (heredoc bodies appended as BuildKit does). */
  expression: string;
  /** The trigger parsed (validated now rather than when a downstream build runs it). */
  trigger: Instruction;
  flags: Record<string, never>;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | UserInstruction
  | WorkdirInstruction
  | VolumeInstruction
  | StopSignalInstruction
  | MaintainerInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export interface Dockerfile {
  /** The name errors use (`FILE:LINE:COL:`). */
  file: string;
  directives: Directives;
  /** Every instruction in order (stages() groups them). */
  instructions: Instruction[];
}
