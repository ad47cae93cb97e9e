/**
 * The Dockerfile frontend: parse (no I/O), stages, variable expansion, and the --print-instructions JSON.
 */

export { DOCKERFILE_ERROR_CODE, dockerfileError, type Position, suggest } from "./errors.ts";
export {
  type Expanded,
  type ExpandedSource,
  type ExpandOptions,
  expandInstruction,
  expandWord,
  expandWords,
  heredocFileContent,
  type RunHeredocCommand,
  runHeredocCommand,
  splitWords,
} from "./expand.ts";
export {
  chompHeredoc,
  FLAG_TYPES,
  type FlagType,
  heredocBody,
  type ParseOptions,
  parseDockerfile,
  parseGoDuration,
  parseHeredocWord,
} from "./parser.ts";
export {
  type EscapeChar,
  type LexResult,
  ShellLex,
  ShellLexError,
  type ShellLexOptions,
  type VarEnv,
} from "./shell-lex.ts";
export {
  findStage,
  type GlobalArg,
  type HeredocJson,
  type InstructionJson,
  type InstructionsJson,
  type InstructionsJsonOptions,
  instructionsJson,
  type Stage,
  type StageJson,
  type Stages,
  type StagesOptions,
  stages,
  targetStage,
} from "./stages.ts";
export * from "./types.ts";
