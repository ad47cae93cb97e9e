/** Distribution identification (os-detection.md "Release identification", "Parsers"). */
export {
  CHISEL_MANIFEST,
  CHISEL_MAX_OUTPUT,
  identifyOs,
  type OsEvidence,
  type OsFinding,
  type OsHint,
  type OsIdentification,
  RELEASE_READ_LIMIT,
} from "./identify.ts";
export {
  apkRepositoryVersions,
  DEBIAN_POINT_RELEASE,
  type OsRelease,
  parseAlpineRelease,
  parseBusyBox,
  parseDebianVersion,
  parseKeyValues,
  parseLsbRelease,
  parseOsRelease,
  parseRedhatRelease,
  parseSystemReleaseCpe,
} from "./release.ts";
