/**
 * Package URLs (purl) for the packages of an image, built with packageurl-js, in the forms of os-detection.md
 * ("Package databases", "Reporting"), which are syft's:
 *
 *   pkg:deb/<os id>/<name>@<version>?arch=<arch>&distro=<id>-<versionId>&upstream=<source>[@<source version>]
 *   pkg:apk/<os id>/<name>@<version>?arch=<arch>&distro=<id>-<versionId>&upstream=<origin>
 *   pkg:rpm/<namespace>/<name>@<version>-<release>?arch=<arch>&distro=<id>-<versionId>&epoch=<epoch>&upstream=<srpm>
 *
 * deb and apk keep the version as the database spells it (a dpkg epoch stays in it: `1:2.3-4`); rpm moves the
 * epoch to the `epoch` qualifier (the purl spec's rpm type) and names the source rpm file in `upstream`. The
 * namespace is the distribution's os-release ID, lower-cased; for rpm the vendor names of os-detection.md (`rhel`
 * is `redhat`, `opensuse-*` is `opensuse`, `ol` is `oracle`, `almalinux` is `alma`, `mariner` is `cbl-mariner`).
 * Without a known distribution there is no namespace and no `distro` (a guess would be worse than nothing).
 *
 * packageurl-js is loaded on the first call (with require: this function is synchronous), so that importing this
 * module costs other commands nothing.
 */
import { createRequire } from "node:module";
import type { PackageURL as PackageURLClass } from "packageurl-js";
import type { Package } from "../packages/types.ts";

/** What a purl needs of a package (the Analysis keeps these fields of each). */
export type PurlPackage = Pick<Package, "type" | "name" | "version" | "arch" | "source">;

/** The distribution, as identified (os-release ID and VERSION_ID); null when unknown. */
export type PurlOs = { id: string | null; versionId: string | null } | null;

let PackageURL: typeof PackageURLClass | undefined;

/** packageurl-js, loaded once on first use. */
export function packageUrlClass(): typeof PackageURLClass {
  if (PackageURL === undefined) {
    const require = createRequire(import.meta.url);
    PackageURL = (require("packageurl-js") as typeof import("packageurl-js")).PackageURL;
  }
  return PackageURL;
}

/** rpm purl namespaces that differ from the os-release ID (os-detection.md, "Parsers"). */
const RPM_NAMESPACES: Record<string, string> = {
  rhel: "redhat",
  ol: "oracle",
  almalinux: "alma",
  mariner: "cbl-mariner",
};

/** The purl namespace for packages of type `type` on distribution `id` (lower-cased os-release ID). */
export function purlNamespace(type: Package["type"], id: string | null): string | undefined {
  if (!id) return undefined;
  const lower = id.toLowerCase();
  if (type !== "rpm") return lower;
  if (lower.startsWith("opensuse")) return "opensuse";
  return RPM_NAMESPACES[lower] ?? lower;
}

/** `distro=` value: `<id>-<versionId>`, or the ID alone for a release without a version (rolling distributions). */
export function distroQualifier(os: PurlOs): string | undefined {
  if (!os?.id) return undefined;
  const id = os.id.toLowerCase();
  return os.versionId ? `${id}-${os.versionId}` : id;
}

/** Splits an rpm `[epoch:]version-release` into the epoch (or undefined) and `version-release`. */
export function splitEpoch(version: string): { epoch: string | undefined; rest: string } {
  const m = /^(\d+):(.*)$/s.exec(version);
  return m ? { epoch: m[1]!, rest: m[2]! } : { epoch: undefined, rest: version };
}

/**
 * The package URL of `p` on distribution `os` (null when unknown). Throws only for a package that cannot have
 * one (an empty name: the readers never return such a package).
 */
export function packagePurl(p: PurlPackage, os: PurlOs): string {
  const PURL = packageUrlClass();
  const qualifiers: Record<string, string> = {};
  if (p.arch) qualifiers.arch = p.arch;
  const distro = distroQualifier(os);
  if (distro) qualifiers.distro = distro;
  let version = p.version || undefined;
  if (p.type === "rpm") {
    const { epoch, rest } = splitEpoch(p.version);
    version = rest || undefined;
    if (epoch !== undefined) qualifiers.epoch = epoch;
    if (p.source) {
      // The source rpm's file name: name-version-release.src.rpm (its version carries the binary's epoch here).
      const srcVersion = p.source.version === null ? null : splitEpoch(p.source.version).rest;
      qualifiers.upstream = srcVersion ? `${p.source.name}-${srcVersion}.src.rpm` : p.source.name;
    }
  } else if (p.source) {
    qualifiers.upstream = p.source.version ? `${p.source.name}@${p.source.version}` : p.source.name;
  }
  const namespace = purlNamespace(p.type, os?.id ?? null);
  return new PURL(p.type, namespace, p.name, version, qualifiers, undefined).toString();
}
