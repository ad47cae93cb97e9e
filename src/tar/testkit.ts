/**
 * Test helpers for the tar codec tests: oracle tools (GNU tar, Python tarfile) and entry dumps in a shape both
 * sides can produce. Not used by library code.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TarHeader } from "./header.ts";
import { readTar, type TarReadOptions } from "./reader.ts";
import { type TarWriteItem, writeTar } from "./writer.ts";

/** Fail (never skip) when an oracle tool is missing. */
export function requireTool(cmd: string, debianPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
  } catch {
    throw new Error(`${cmd} is missing: install Debian package ${debianPackage}`);
  }
}

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): Buffer {
  return execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 28, ...opts });
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `osless-tar-${tag}-`));
}

/** The comparable view of an entry: byte fields as hex, numbers as numbers. */
export interface Dump {
  name: string;
  linkname: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  pax: Record<string, string>;
  sha256: string | null;
  offset: number;
  offsetData: number;
}

const PY_DUMP = String.raw`
import hashlib, json, sys, tarfile
TYPES = {b'0': 'file', b'\x00': 'file', b'7': 'file', b'1': 'hardlink', b'2': 'symlink', b'3': 'char',
         b'4': 'block', b'5': 'directory', b'6': 'fifo'}
def b(s): return s.encode('utf-8', 'surrogateescape')
out = []
with tarfile.open(sys.argv[1], encoding='utf-8', errors='surrogateescape') as t:
    for m in t:
        data = t.extractfile(m).read() if m.isreg() else None
        out.append({
            'name': b(m.name).hex(), 'linkname': b(m.linkname).hex(), 'type': TYPES[m.type],
            'mode': m.mode & 0o7777, 'uid': m.uid, 'gid': m.gid, 'size': m.size, 'mtime': m.mtime,
            'uname': b(m.uname).decode('utf-8', 'replace'), 'gname': b(m.gname).decode('utf-8', 'replace'),
            'devmajor': m.devmajor, 'devminor': m.devminor,
            'pax': {k: b(v).hex() for k, v in m.pax_headers.items()},
            'sha256': hashlib.sha256(data).hexdigest() if data is not None else None,
            'offset': m.offset, 'offsetData': m.offset_data,
        })
json.dump(out, sys.stdout)
`;

/** Python tarfile's view of a tar file. */
export function pythonDump(tarPath: string): Dump[] {
  requireTool("python3", "python3");
  return JSON.parse(run("python3", ["-c", PY_DUMP, tarPath]).toString("utf8")) as Dump[];
}

export function dumpHeader(h: TarHeader, offset: number, offsetData: number, sha256: string | null): Dump {
  return {
    name: h.pathBytes.toString("hex"),
    linkname: h.linkpathBytes.toString("hex"),
    type: h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime,
    uname: h.uname,
    gname: h.gname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    pax: Object.fromEntries([...h.pax].map(([k, v]) => [k, v.toString("hex")])),
    sha256,
    offset,
    offsetData,
  };
}

export async function* chunked(data: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Our view of a tar stream, with data hashed. */
export async function ourDump(source: AsyncIterable<Uint8Array>, opts?: TarReadOptions): Promise<Dump[]> {
  const out: Dump[] = [];
  for await (const e of readTar(source, opts)) {
    let sha: string | null = null;
    if (e.header.type === "file") {
      const h = createHash("sha256");
      for await (const c of e.body()) h.update(c);
      sha = h.digest("hex");
    }
    out.push(dumpHeader(e.header, e.headerOffset, e.dataOffset, sha));
  }
  return out;
}

export async function ourDumpFile(path: string, chunk = 4096): Promise<Dump[]> {
  return ourDump(chunked(readFileSync(path), chunk));
}

export async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

export function tarBytes(items: TarWriteItem[]): Promise<Buffer> {
  return collect(writeTar(items));
}

/** Tiny deterministic PRNG (mulberry32) for random-ish test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
