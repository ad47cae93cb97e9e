/** Own streaming tar codec: see ../../../shared/design/stack.md "Why an own tar header codec". */
export type { TarHeader, TarType } from "./header.ts";
export { readTar, scanTarFile, type TarEntry, type TarFileEntry, type TarReadOptions } from "./reader.ts";
export { encodeHeader, type TarWriteEntry, type TarWriteItem, writeTar } from "./writer.ts";
