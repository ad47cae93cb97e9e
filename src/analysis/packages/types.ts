/**
 * What every package-database reader returns (dpkg, apk, rpm): the packages a database says are installed, and
 * findings about what could not be read. Readers never throw on bad input: a corrupt, cut or oversized database
 * gives the packages that could be read plus findings saying what was skipped.
 */

/** The package formats the readers know. */
export type PackageType = "deb" | "apk" | "rpm";

export interface Package {
  type: PackageType;
  name: string;
  /** The version as the database spells it (dpkg `[epoch:]upstream[-revision]`, apk `1.2.3-r4`, rpm `[epoch:]version-release`). */
  version: string;
  /** The architecture recorded for the package (`amd64`, `all`, `x86_64`, `noarch`, ...), null when the database has none. */
  arch: string | null;
  /**
   * The source package it was built from, null when the database names none (the package is then its own source):
   * dpkg `Source: name (version)` (version null when the field has none: it is the binary's), apk `o:` (origin, no
   * version of its own), rpm `SOURCERPM`.
   */
  source: { name: string; version: string | null } | null;
  /** The licence as the database or the package's documentation states it (not normalised to SPDX), or null. */
  license: string | null;
  /**
   * Absolute image paths the package installed, when the database lists them (directories included when the
   * list has them), in the database's order. Absent when no list was found.
   */
  files?: string[];
  /** The database's own installation state, verbatim (dpkg `Status`), when it has one. */
  status?: string;
  /** The database file the package was read from (an image path, or the name given to a parser). */
  location: string;
}

export interface CatalogFinding {
  /** A stable UPPER_SNAKE code (`DPKG_DB_TRUNCATED`, `APK_MISSING_VERSION`, ...). */
  code: string;
  /** The database file concerned. */
  path: string;
  message: string;
}

export interface CatalogResult {
  packages: Package[];
  findings: CatalogFinding[];
}
