/** ELF facts for analysis: our own reader (elf.ts) and Go build information (go.ts). */
export {
  type ElfFinding,
  type ElfInfo,
  type ElfLinkage,
  elfBytesNeeded,
  type ParseElfOptions,
  parseElf,
} from "./elf.ts";
export type { GoBuildInfo, GoModule } from "./go.ts";
