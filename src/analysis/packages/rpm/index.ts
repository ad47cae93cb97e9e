/**
 * Installed rpm packages of an image, from rpm's database in any of its three backends:
 *
 *   rpmdb.sqlite  SQLite (rpm ≥ 4.16: Fedora 33+, RHEL/Rocky/Alma 9, Amazon Linux 2023, CBL-Mariner 2)  ./sqlite.ts
 *   Packages.db   NDB (SUSE, openSUSE since 2021)                                                    ./ndb.ts
 *   Packages      Berkeley DB hash (rpm < 4.16: RHEL/CentOS ≤ 8, Amazon Linux 2)                     ./bdb.ts
 *
 * looked for in /usr/lib/sysimage/rpm, /var/lib/rpm and /usr/share/rpm (one database directory reached by two
 * paths, as Fedora's /var/lib/rpm symlink does, is read once). When a directory holds more than one backend's
 * file, rpm uses the one its configuration names and otherwise the first present in the order sqlite, ndb, bdb
 * (lib/backend/dbi.c); an image does not tell us its rpm configuration, so that order is used here, and each file
 * left unread is reported (`RPM_DB_IGNORED`).
 *
 * Each package: name, version `[epoch:]version-release`, arch, source package and licence from the header
 * (./header.ts), its files, and `location`, the database's path in the image. Packages come in rpm's instance
 * order (install order). Damaged databases give findings beside whatever could be read; nothing throws on
 * image content.
 */
import type { ImageFiles } from "../../files.ts";
import { FindingList } from "../common.ts";
import type { CatalogResult, Package } from "../types.ts";
import { readRpmBdb } from "./bdb.ts";
import { readRpmNdb } from "./ndb.ts";
import { readRpmSqlite } from "./sqlite.ts";

export { readRpmBdb } from "./bdb.ts";
export { parseRpmHeader, parseSourceRpm, type RpmHeaderPackage } from "./header.ts";
export { readRpmNdb } from "./ndb.ts";
export { readRpmSqlite } from "./sqlite.ts";

export const RPM_DB_DIRS = ["/usr/lib/sysimage/rpm", "/var/lib/rpm", "/usr/share/rpm"] as const;

/** Backend files in rpm's detection order. */
const BACKENDS = [
  { file: "rpmdb.sqlite", kind: "sqlite" },
  { file: "Packages.db", kind: "ndb" },
  { file: "Packages", kind: "bdb" },
] as const;

/** The largest database read (a Fedora workstation's rpmdb.sqlite is ~150 MB; a container's a few MB). */
export const RPM_DB_CAP = 1024 * 1024 * 1024;

/** The whole file (a database is useless cut short), or undefined with a finding. */
async function readWhole(
  files: ImageFiles,
  path: string,
  size: number,
  findings: FindingList,
): Promise<Buffer | undefined> {
  if (size > RPM_DB_CAP) {
    findings.add(
      "RPM_DB_TOO_LARGE",
      path,
      `${size} bytes is more than the ${RPM_DB_CAP} bytes read of an rpm database`,
    );
    return undefined;
  }
  try {
    return await files.read(path, size);
  } catch (e) {
    findings.add("RPM_DB_UNREADABLE", path, `cannot read ${path}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Every rpm database of the image, each read with its backend's reader. */
export async function catalogRpm(files: ImageFiles): Promise<CatalogResult> {
  const packages: Package[] = [];
  const findings = new FindingList();
  const dirsSeen = new Set<string>();
  for (const dir of RPM_DB_DIRS) {
    const d = await files.stat(dir);
    if (d?.type !== "directory" || dirsSeen.has(d.path)) continue;
    dirsSeen.add(d.path);
    let chosen = false;
    for (const b of BACKENDS) {
      const st = await files.stat(`${dir}/${b.file}`);
      if (st?.type !== "file") continue;
      const path = `/${st.path}`;
      if (chosen) {
        findings.add(
          "RPM_DB_IGNORED",
          path,
          `not read: rpm uses the first database present in the order ${BACKENDS.map((x) => x.file).join(", ")}`,
        );
        continue;
      }
      chosen = true;
      const bytes = await readWhole(files, path, st.size, findings);
      if (!bytes) continue;
      let r: CatalogResult;
      if (b.kind === "sqlite") {
        const w = await files.stat(`${path}-wal`);
        const wal =
          w?.type === "file" && w.size > 0
            ? await readWhole(files, `${path}-wal`, w.size, findings)
            : undefined;
        r = await readRpmSqlite(bytes, path, wal);
      } else if (b.kind === "ndb") {
        r = readRpmNdb(bytes, path);
      } else {
        r = readRpmBdb(bytes, path);
      }
      packages.push(...r.packages);
      findings.addAll(r.findings);
    }
  }
  return { packages, findings: findings.done() };
}
