/**
 * Package databases of an image: dpkg (`status`, distroless `status.d/`), apk (`installed`) and rpm (SQLite,
 * Berkeley DB, NDB), each read into the shared Package shape with findings for what could not be read. See
 * dpkg.ts, apk.ts and rpm/ for the formats and what counts as installed.
 */
import type { ImageFiles } from "../files.ts";
import { catalogApk } from "./apk.ts";
import { catalogDpkg } from "./dpkg.ts";
import { catalogRpm } from "./rpm/index.ts";
import type { CatalogResult } from "./types.ts";

export { APK_DB_CAP, APK_INSTALLED, catalogApk, parseApkInstalled } from "./apk.ts";
export {
  type CatalogDpkgOptions,
  catalogDpkg,
  type Deb822Problem,
  type Deb822Stanza,
  DPKG_INFO,
  DPKG_STATUS,
  DPKG_STATUS_CAP,
  DPKG_STATUS_D,
  licenseFromCopyright,
  parseDeb822,
  parseDpkgList,
  parseDpkgSource,
  parseDpkgStatus,
  parseMd5sums,
} from "./dpkg.ts";
export { catalogRpm } from "./rpm/index.ts";
export type { CatalogFinding, CatalogResult, Package, PackageType } from "./types.ts";

/** Every package database of the image that these readers know, one result (dpkg first, then apk, then rpm). */
export async function catalogPackages(files: ImageFiles): Promise<CatalogResult> {
  const results = [await catalogDpkg(files), await catalogApk(files), await catalogRpm(files)];
  return {
    packages: results.flatMap((r) => r.packages),
    findings: results.flatMap((r) => r.findings),
  };
}
