// Test fixtures for the rpm database readers: real packages built by Debian's rpmbuild from spec files written
// here, installed by Debian's rpm into a fresh SQLite database, and rpm's own answers (`rpm -qa --qf`) as the
// oracle. Debian's rpm 4.18 writes only SQLite (it has no NDB backend, and its Berkeley DB backend is the
// read-only bdb_ro), so the other backends are made from the same header blobs:
//   - Berkeley DB: Berkeley DB's own db5.3_load (db5.3-util) writes the hash database, and rpm's bdb_ro reads
//     it back as the oracle; little-endian with 4 KiB pages (as rpm wrote them) and big-endian with 512-byte
//     pages and fill factor 2 (many buckets, long overflow chains).
//   - NDB: written here from the format (rpm's lib/backend/ndb/rpmpkg.c); no tool here reads or writes NDB, so
//     its oracle is the SQLite oracle of the same headers.
//   - A SQLite database with committed transactions left in its write-ahead log (python3's sqlite3 module,
//     killed before it can checkpoint), with rpm reading a copy as the oracle.
// Everything is built once into the fixture cache (test/fixtures/cache.ts).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cached } from "../../../../test/fixtures/cache.ts";
import { needTool, run } from "../../../../test/fixtures/tools.ts";
import { adler32 } from "./ndb.ts";

export interface OracleRow {
  name: string;
  /** %{EVR}: `[epoch:]version-release`, the epoch present when the header has one. */
  evr: string;
  arch: string;
  sourceRpm: string;
  license: string;
}

export interface RpmFixture {
  dir: string;
  /** The SQLite database rpm wrote (no WAL content). */
  sqlite: string;
  /** A copy of `sqlite` whose `-wal` holds two more committed packages (late-a, late-b). */
  walDb: string;
  bdbLe4096: string;
  bdbBe512: string;
  ndb: string;
  /** Header blobs (no magic) in instance order, as `rpmdb --exportdb` gave them. */
  blobs: Buffer[];
  /** The headers of late-a and late-b. */
  lateBlobs: Buffer[];
  oracle: {
    sqlite: OracleRow[];
    bdbLe4096: OracleRow[];
    bdbBe512: OracleRow[];
    wal: OracleRow[];
  };
  /** name -> files, from `rpm -qa --qf '%{NAME}[\t%{FILENAMES}]\n'` on the SQLite database. */
  files: Map<string, string[]>;
}

const QF = "%{NAME}\\t%{EVR}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n";
const FILES_QF = "%{NAME}[\\t%{FILENAMES}]\\n";
const SUBPACKAGES = 12;

/** The spec files: epochs 2, 0 and none; an arch package; subpackages of another source name; odd file names. */
function specs(): Record<string, string> {
  const subs: string[] = [];
  for (let i = 1; i <= SUBPACKAGES; i++) {
    subs.push(
      `%package sub${i}`,
      `Summary: sub ${i}`,
      `License: BSD-${i}-Clause`,
      `%description sub${i}`,
      `sub ${i}`,
      `%files sub${i}`,
      `/usr/share/hello-osless/sub${i}/file-${i}.txt`,
    );
  }
  const subInstall = Array.from(
    { length: SUBPACKAGES },
    (_, i) =>
      `mkdir -p %{buildroot}/usr/share/hello-osless/sub${i + 1} && echo ${i} > %{buildroot}/usr/share/hello-osless/sub${i + 1}/file-${i + 1}.txt`,
  );
  return {
    "hello.spec": [
      "Name: hello-osless",
      "Version: 1.2.3",
      "Release: 4.fc40",
      "Epoch: 2",
      "Summary: test package",
      "License: MIT AND (Apache-2.0 OR BSD-3-Clause)",
      "BuildArch: noarch",
      "%description",
      "A package made by the osless tests.",
      "%install",
      "mkdir -p %{buildroot}/usr/share/hello-osless/docs %{buildroot}/etc",
      "echo hi > %{buildroot}/usr/share/hello-osless/greeting",
      "echo notes > '%{buildroot}/usr/share/hello-osless/docs/café notes.txt'",
      "echo x > %{buildroot}/etc/hello.conf",
      ...subInstall,
      "%files",
      "%dir /usr/share/hello-osless",
      "/usr/share/hello-osless/greeting",
      "/usr/share/hello-osless/docs",
      "%config /etc/hello.conf",
      "%package extra",
      "Summary: no files",
      "License: GPL-2.0-only",
      "%description extra",
      "A subpackage without files.",
      "%files extra",
      ...subs,
      "",
    ].join("\n"),
    "zero.spec": [
      "Name: zero-epoch",
      "Version: 0.9~beta1",
      "Release: 1",
      "Epoch: 0",
      "Summary: t",
      "License: GPL-2.0-or-later",
      "BuildArch: noarch",
      "%description",
      "Epoch 0 written out.",
      "%files",
      "",
    ].join("\n"),
    "plain.spec": [
      "%global debug_package %{nil}",
      "Name: plain",
      "Version: 3",
      "Release: 7.el9",
      "Summary: t",
      "License: LGPLv2+",
      "%description",
      "No epoch, built for the host's architecture.",
      "%install",
      "mkdir -p %{buildroot}/usr/lib/plain",
      "echo 1 > %{buildroot}/usr/lib/plain/data",
      "%files",
      "/usr/lib/plain/data",
      "",
    ].join("\n"),
  };
}

function lateSpec(name: string): string {
  return [
    `Name: ${name}`,
    "Version: 5",
    "Release: 1",
    "Epoch: 1",
    "Summary: t",
    "License: Apache-2.0",
    "BuildArch: noarch",
    "%description",
    "Installed after the others, left in the WAL.",
    "%files",
    "",
  ].join("\n");
}

export function parseOracle(tsv: string): OracleRow[] {
  return tsv
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [name = "", evr = "", arch = "", sourceRpm = "", license = ""] = l.split("\t");
      return { name, evr, arch, sourceRpm, license };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Splits `rpmdb --exportdb` output (headers with their 8-byte magic, back to back) into header blobs. */
export function splitExport(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < b.length) {
    if (b.readUInt32BE(o) !== 0x8eade801) throw new Error(`exportdb: no header magic at ${o}`);
    const il = b.readUInt32BE(o + 8);
    const dl = b.readUInt32BE(o + 12);
    const end = o + 16 + il * 16 + dl;
    out.push(b.subarray(o + 8, end));
    o = end;
  }
  return out;
}

/** A Berkeley DB dump (db_dump's bytevalue format) of rpm's Packages: key 0 (rpm's counter), then 1..n. */
function bdbDump(blobs: Buffer[], opts: { pageSize: number; bigEndian: boolean; ffactor?: number }): string {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (opts.bigEndian) b.writeUInt32BE(n);
    else b.writeUInt32LE(n);
    return b.toString("hex");
  };
  const lines = [
    "VERSION=3",
    "format=bytevalue",
    "type=hash",
    `db_pagesize=${opts.pageSize}`,
    `db_lorder=${opts.bigEndian ? 4321 : 1234}`,
    ...(opts.ffactor ? [`h_ffactor=${opts.ffactor}`] : []),
    "HEADER=END",
    ` ${u32(0)}`,
    ` ${u32(blobs.length)}`,
  ];
  blobs.forEach((b, i) => {
    lines.push(` ${u32(i + 1)}`, ` ${b.toString("hex")}`);
  });
  lines.push("DATA=END", "");
  return lines.join("\n");
}

export interface NdbOptions {
  /** Slot pages (4 KiB each); rpm starts with 1 and adds pages as slots run out. */
  slotPages?: number;
  /** Leave this many free slots before the first used one (as after an erase). */
  freeSlotsFirst?: number;
  /** Zero blocks between blobs (as an erased blob leaves). */
  gapBlocks?: number;
}

/** An NDB Packages.db holding `blobs` as package indexes 1..n, written as rpmpkg.c lays it out. */
export function writeNdb(blobs: Buffer[], opts: NdbOptions = {}): Buffer {
  const slotPages = opts.slotPages ?? 1;
  const gap = opts.gapBlocks ?? 0;
  const parts: Buffer[] = [];
  const slots = Buffer.alloc(slotPages * 4096);
  const le = (b: Buffer, o: number, v: number) => b.writeUInt32LE(v >>> 0, o);
  le(slots, 0, Buffer.from("RpmP").readUInt32LE(0));
  le(slots, 4, 0);
  le(slots, 8, 7); // generation
  le(slots, 12, slotPages);
  le(slots, 16, blobs.length + 1); // next package index
  for (let o = 32; o < slots.length; o += 16) le(slots, o, Buffer.from("Slot").readUInt32LE(0));
  let blk = slotPages * 256;
  let slot = 2 + (opts.freeSlotsFirst ?? 0);
  blobs.forEach((blob, i) => {
    const idx = i + 1;
    const cnt = Math.ceil((16 + blob.length + 12) / 16);
    const rec = Buffer.alloc(cnt * 16);
    le(rec, 0, Buffer.from("BlbS").readUInt32LE(0));
    le(rec, 4, idx);
    le(rec, 8, 1704067200); // timestamp
    le(rec, 12, blob.length);
    blob.copy(rec, 16);
    const tail = rec.length - 12;
    le(rec, tail, adler32(rec.subarray(0, tail)));
    le(rec, tail + 4, blob.length);
    le(rec, tail + 8, Buffer.from("BlbE").readUInt32LE(0));
    const so = slot * 16;
    le(slots, so + 4, idx);
    le(slots, so + 8, blk);
    le(slots, so + 12, cnt);
    parts.push(rec);
    blk += cnt;
    slot++;
    if (gap && i < blobs.length - 1) {
      parts.push(Buffer.alloc(gap * 16));
      blk += gap;
    }
  });
  return Buffer.concat([slots, ...parts]);
}

const PY_WAL = `
import os, sqlite3, sys
db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None)
assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
c.execute("PRAGMA wal_autocheckpoint=0")
for path in sys.argv[2:]:
    blob = open(path, "rb").read()
    c.execute("BEGIN")
    c.execute("INSERT INTO Packages(blob) VALUES (?)", (blob,))
    c.execute("COMMIT")
sys.stdout.flush()
os._exit(0)  # no close: the WAL keeps the transactions, as after a killed rpm
`;

async function build(dir: string): Promise<void> {
  const rpmbuild = needTool("rpmbuild", "rpm");
  const rpm = needTool("rpm", "rpm");
  const rpmdb = needTool("rpmdb", "rpm");
  const dbLoad = needTool("db5.3_load", "db5.3-util");
  const python = needTool("python3", "python3");
  const top = join(dir, "top");
  mkdirSync(join(top, "SPECS"), { recursive: true });
  const all = { ...specs(), "late-a.spec": lateSpec("late-a"), "late-b.spec": lateSpec("late-b") };
  for (const [name, text] of Object.entries(all)) writeFileSync(join(top, "SPECS", name), text);
  const rb = (spec: string) =>
    run(rpmbuild, ["--define", `_topdir ${top}`, "-bb", join(top, "SPECS", spec)], {
      env: { SOURCE_DATE_EPOCH: "1704067200", HOME: dir },
    });
  for (const spec of Object.keys(all)) await rb(spec);
  const rpms = readdirSync(join(top, "RPMS"), { recursive: true, encoding: "utf8" })
    .filter((p) => p.endsWith(".rpm"))
    .map((p) => join(top, "RPMS", p))
    .sort();
  const main = rpms.filter((p) => !/\/late-[ab]-/.test(p));
  const late = rpms.filter((p) => /\/late-[ab]-/.test(p));

  // rpm installs into <root><dbpath>; --justdb records the packages without unpacking them.
  const install = async (root: string, files: string[]) => {
    mkdirSync(root, { recursive: true });
    await run(rpm, [
      "--root",
      root,
      "--dbpath",
      "/db",
      "--define",
      "_db_backend sqlite",
      "-i",
      "--nodeps",
      "--justdb",
      "--noscripts",
      "--ignorearch",
      "--ignoreos",
      ...files,
    ]);
  };
  const query = async (dbpath: string, qf: string, backend = "sqlite") =>
    (await run(rpm, ["--dbpath", dbpath, "--define", `_db_backend ${backend}`, "-qa", "--qf", qf])).stdout;

  await install(join(dir, "root"), main);
  const sqliteDir = join(dir, "root", "db");
  writeFileSync(join(dir, "oracle-sqlite.tsv"), await query(sqliteDir, QF));
  writeFileSync(join(dir, "files.tsv"), await query(sqliteDir, FILES_QF));
  // run() decodes stdout as text: the binary export goes through a shell redirection.
  await run("sh", ["-c", `"${rpmdb}" --dbpath "${sqliteDir}" --exportdb > "${join(dir, "export.bin")}"`]);

  await install(join(dir, "lateroot"), late);
  await run("sh", [
    "-c",
    `"${rpmdb}" --dbpath "${join(dir, "lateroot", "db")}" --exportdb > "${join(dir, "late-export.bin")}"`,
  ]);

  const blobs = splitExport(readFileSync(join(dir, "export.bin")));
  for (const [name, opts] of [
    ["bdb-le4096", { pageSize: 4096, bigEndian: false }],
    ["bdb-be512", { pageSize: 512, bigEndian: true, ffactor: 2 }],
  ] as const) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, `${name}.dump`), bdbDump(blobs, opts));
    await run(dbLoad, ["-f", join(dir, `${name}.dump`), join(dir, name, "Packages")]);
    writeFileSync(join(dir, `oracle-${name}.tsv`), await query(join(dir, name), QF, "bdb_ro"));
  }

  mkdirSync(join(dir, "ndb"));
  writeFileSync(join(dir, "ndb", "Packages.db"), writeNdb(blobs, { freeSlotsFirst: 3, gapBlocks: 5 }));

  // The WAL database: a copy of rpm's, two transactions added and never checkpointed.
  const walDir = join(dir, "wal");
  mkdirSync(walDir);
  copyFileSync(join(sqliteDir, "rpmdb.sqlite"), join(walDir, "rpmdb.sqlite"));
  const lateBlobs = splitExport(readFileSync(join(dir, "late-export.bin")));
  const latePaths = lateBlobs.map((b, i) => {
    const p = join(dir, `late-${i}.hdr`);
    writeFileSync(p, b);
    return p;
  });
  writeFileSync(join(dir, "wal.py"), PY_WAL);
  await run(python, [join(dir, "wal.py"), join(walDir, "rpmdb.sqlite"), ...latePaths]);
  // rpm checkpoints the WAL when it closes the database: ask it on a copy.
  const walCopy = join(dir, "wal-oracle");
  mkdirSync(walCopy);
  for (const f of ["rpmdb.sqlite", "rpmdb.sqlite-wal"]) copyFileSync(join(walDir, f), join(walCopy, f));
  writeFileSync(join(dir, "oracle-wal.tsv"), await query(walCopy, QF));
}

const RECIPE = {
  v: 1,
  specs: specs(),
  late: [lateSpec("late-a"), lateSpec("late-b")],
  wal: PY_WAL,
  qf: [QF, FILES_QF],
  ndb: writeNdb.toString(),
};

let fixture: Promise<RpmFixture> | undefined;

/** The rpm fixture (built on first use, then cached across runs). */
export function rpmFixture(): Promise<RpmFixture> {
  fixture ??= (async () => {
    const dir = await cached("rpm-databases", RECIPE, build);
    const tsv = (n: string) => parseOracle(readFileSync(join(dir, n), "utf8"));
    const files = new Map<string, string[]>();
    for (const line of readFileSync(join(dir, "files.tsv"), "utf8").split("\n").filter(Boolean)) {
      const [name = "", ...paths] = line.split("\t");
      files.set(name, paths);
    }
    return {
      dir,
      sqlite: join(dir, "root", "db", "rpmdb.sqlite"),
      walDb: join(dir, "wal", "rpmdb.sqlite"),
      bdbLe4096: join(dir, "bdb-le4096", "Packages"),
      bdbBe512: join(dir, "bdb-be512", "Packages"),
      ndb: join(dir, "ndb", "Packages.db"),
      blobs: splitExport(readFileSync(join(dir, "export.bin"))),
      lateBlobs: splitExport(readFileSync(join(dir, "late-export.bin"))),
      oracle: {
        sqlite: tsv("oracle-sqlite.tsv"),
        bdbLe4096: tsv("oracle-bdb-le4096.tsv"),
        bdbBe512: tsv("oracle-bdb-be512.tsv"),
        wal: tsv("oracle-wal.tsv"),
      },
      files,
    };
  })();
  return fixture;
}

/** A package as the oracle row it should equal: `source` back to the source rpm's file name. */
export function asOracleRow(p: {
  name: string;
  version: string;
  arch: string | null;
  source: { name: string; version: string | null } | null;
  license: string | null;
}): OracleRow {
  const srcVersion = p.source?.version?.replace(/^\d+:/, "");
  return {
    name: p.name,
    evr: p.version,
    arch: p.arch ?? "(none)",
    sourceRpm: p.source ? `${p.source.name}-${srcVersion}.src.rpm` : "(none)",
    license: p.license ?? "(none)",
  };
}

/** A deterministic pseudo-random generator (mulberry32) for the fuzz tests: the one the tar tests use. */
export { prng } from "../../../tar/testkit.ts";

/** Packages as oracle rows, sorted by name (rpm -qa's order is not ours). */
export function rowsOf(packages: Parameters<typeof asOracleRow>[0][]): OracleRow[] {
  return packages.map(asOracleRow).sort((a, b) => a.name.localeCompare(b.name));
}
