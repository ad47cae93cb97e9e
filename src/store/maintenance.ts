/** Store maintenance: garbage collection (`prune`) and verification (`fsck`). */

import { createReadStream } from "node:fs";
import { readdir, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isErrno, pathExists } from "../_internal/fs.ts";
import { lockHeld } from "../_internal/lock.ts";
import { Hasher, parseDigest } from "../digest/index.ts";
import { mayBeAbsent, reachable, walkGraph } from "./graph.ts";
import { entryName } from "./images.ts";
import { type IndexEntry, ingestLockPath, liveWriters, RESUMABLE_INGEST, type Store } from "./layout.ts";

/** Unreferenced blobs younger than this survive gc while another osless process is writing. */
export const GC_GRACE_MS = 15 * 60 * 1000;

interface BlobFile {
  digest: string;
  path: string;
  size: number;
  mtimeMs: number;
}

async function listBlobFiles(store: Store): Promise<{ blobs: BlobFile[]; strays: string[] }> {
  const blobs: BlobFile[] = [];
  const strays: string[] = [];
  const base = join(store.root, "blobs");
  let algs: string[];
  try {
    algs = await readdir(base);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return { blobs, strays };
    throw e;
  }
  for (const alg of algs) {
    const dir = join(base, alg);
    for (const hex of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, hex);
      const st = await stat(path);
      const digest = `${alg}:${hex}`;
      try {
        parseDigest(digest);
        if (!st.isFile()) throw new Error("not a file");
        blobs.push({ digest, path, size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        strays.push(path);
      }
    }
  }
  return { blobs, strays };
}

/**
 * Ingest directories whose writer process is gone: a load's (named after its writer's PID), or, with
 * `resumable`, the partial downloads a pull keeps for the next attempt (`<alg>-<hex>`, unlocked).
 */
async function deadIngests(store: Store, resumable: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(store.ingestDir).catch(() => [] as string[])) {
    if (RESUMABLE_INGEST.test(name)) {
      if (resumable && !(await lockHeld(ingestLockPath(store, name)))) out.push(join(store.ingestDir, name));
      continue;
    }
    const pid = Number(name.split("-")[0]);
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = isErrno(e, "EPERM");
      }
    }
    if (!alive) out.push(join(store.ingestDir, name));
  }
  return out;
}

export interface PruneResult {
  /** Untagged images removed (their digests). */
  removedImages: string[];
  removedBlobs: string[];
  reclaimedBytes: number;
  removedIngests: number;
}

export interface PruneOptions {
  /** Also remove untagged (dangling) images, like `docker image prune`. Default true. */
  dangling?: boolean;
}

/**
 * Remove dangling images, then every blob no image reaches, and ingest debris of dead processes. Holds the
 * store lock throughout so no index update interleaves.
 */
export async function prune(store: Store, opts: PruneOptions = {}): Promise<PruneResult> {
  const result: PruneResult = { removedImages: [], removedBlobs: [], reclaimedBytes: 0, removedIngests: 0 };
  // No store yet: nothing to collect, and pruning must not create one.
  if (!(await pathExists(join(store.root, "oci-layout")))) return result;
  if (opts.dangling !== false) {
    await store.updateIndex((entries) => {
      const keep = entries.filter((e) => entryName(e) !== undefined);
      if (keep.length === entries.length) return undefined;
      result.removedImages = entries.filter((e) => entryName(e) === undefined).map((e) => e.digest);
      return keep;
    });
  }
  const release = await store.lock();
  try {
    const others = await liveWriters(store);
    const graceCutoff = others.length > 0 ? Date.now() - GC_GRACE_MS : Number.POSITIVE_INFINITY;
    const live = await reachable(store, (await store.readIndex()).manifests, () => {});
    const { blobs } = await listBlobFiles(store);
    for (const b of blobs) {
      if (live.has(b.digest)) continue;
      if (b.mtimeMs > graceCutoff) continue;
      await unlink(b.path);
      result.removedBlobs.push(b.digest);
      result.reclaimedBytes += b.size;
    }
    for (const dir of await deadIngests(store, true)) {
      await rm(dir, { recursive: true, force: true });
      result.removedIngests++;
    }
    // Per-digest download locks left by killed pulls.
    for (const name of await readdir(store.locksDir).catch(() => [] as string[])) {
      const path = join(store.locksDir, name);
      if (name.startsWith("ingest-") && !(await lockHeld(path))) await unlink(path).catch(() => {});
    }
  } finally {
    await release();
  }
  return result;
}

export interface FsckProblem {
  kind: "corrupt-blob" | "missing-blob" | "bad-manifest" | "stray-file";
  message: string;
  digest?: string | undefined;
  image?: string | undefined;
  path?: string | undefined;
}

export interface FsckResult {
  blobsChecked: number;
  bytesChecked: number;
  images: number;
  problems: FsckProblem[];
  /** What --repair did. */
  repaired: string[];
  /** Partial downloads kept for the next pull to resume (not problems; `prune` removes them). */
  partial: string[];
  /** Leftovers of interrupted writes (not problems: reads ignore them; --repair and `prune` remove them). */
  leftovers: string[];
}

async function hashFile(path: string, algorithm: "sha256" | "sha512"): Promise<string> {
  const h = new Hasher(algorithm);
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest();
}

/**
 * Re-verify every blob (re-hash) and every image (everything reachable is present with the right size, every
 * manifest and config parses). With `repair`: delete corrupt blobs and stray files, drop index entries whose
 * content is incomplete (they must be pulled or loaded again), remove stale ingests.
 */
export async function fsck(store: Store, opts: { repair?: boolean } = {}): Promise<FsckResult> {
  const result: FsckResult = {
    blobsChecked: 0,
    bytesChecked: 0,
    images: 0,
    problems: [],
    repaired: [],
    partial: [],
    leftovers: [],
  };
  const { blobs, strays } = await listBlobFiles(store);
  const corrupt = new Set<string>();
  for (const b of blobs) {
    const { algorithm } = parseDigest(b.digest);
    const actual = await hashFile(b.path, algorithm);
    result.blobsChecked++;
    result.bytesChecked += b.size;
    if (actual !== b.digest) {
      corrupt.add(b.digest);
      result.problems.push({
        kind: "corrupt-blob",
        digest: b.digest,
        path: b.path,
        message: `blob ${b.digest} has content ${actual}`,
      });
    }
  }
  for (const s of strays)
    result.problems.push({ kind: "stray-file", path: s, message: `${s} is not named by a digest` });
  const present = new Map(blobs.map((b) => [b.digest, b.size]));

  const index = await store.readIndex();
  result.images = index.manifests.length;
  const broken: IndexEntry[] = [];
  for (const entry of index.manifests) {
    const image = entryName(entry) ?? entry.digest;
    let ok = true;
    const problem = (p: FsckProblem) => {
      ok = false;
      result.problems.push(p);
    };
    await walkGraph(store, [entry], {
      visit: (n) => {
        const d = n.descriptor;
        if (n.kind !== "layer" && n.kind !== "config") return;
        if (corrupt.has(d.digest)) {
          problem({
            kind: "corrupt-blob",
            digest: d.digest,
            image,
            message: `${image}: ${n.kind} ${d.digest} is corrupt`,
          });
        } else if (
          present.get(d.digest) !== d.size &&
          !(n.kind === "layer" && mayBeAbsent(d) && !present.has(d.digest))
        ) {
          const have = present.get(d.digest);
          problem({
            kind: "missing-blob",
            digest: d.digest,
            image,
            message:
              have === undefined
                ? `${image}: ${n.kind} ${d.digest} is missing`
                : `${image}: ${n.kind} ${d.digest} has ${have} bytes, the manifest says ${d.size}`,
          });
        }
      },
      onError: (d, e) =>
        problem({
          kind: corrupt.has(d.digest)
            ? "corrupt-blob"
            : present.has(d.digest)
              ? "bad-manifest"
              : "missing-blob",
          digest: d.digest,
          image,
          message: `${image}: ${(e as Error).message}`,
        }),
    });
    if (!ok) broken.push(entry);
  }
  const stale = await deadIngests(store, false);
  for (const name of await readdir(store.ingestDir).catch(() => [] as string[])) {
    if (RESUMABLE_INGEST.test(name)) result.partial.push(join(store.ingestDir, name));
  }
  // Debris of interrupted writes is not an inconsistency (reads never see it): listed, and removed by --repair
  // and by prune.
  result.leftovers.push(...stale);

  if (opts.repair) {
    if (broken.length > 0) {
      await store.updateIndex((entries) =>
        entries.filter((e) => !broken.some((b) => b.digest === e.digest && entryName(b) === entryName(e))),
      );
      for (const b of broken)
        result.repaired.push(`removed image ${entryName(b) ?? b.digest} (incomplete: load or pull it again)`);
    }
    for (const b of blobs) {
      if (corrupt.has(b.digest)) {
        await unlink(b.path);
        result.repaired.push(`deleted corrupt blob ${b.digest}`);
      }
    }
    for (const s of strays) {
      await rm(s, { recursive: true, force: true });
      result.repaired.push(`deleted stray ${s}`);
    }
    for (const s of stale) {
      await rm(s, { recursive: true, force: true });
      result.repaired.push(`deleted ${s}`);
    }
  }
  return result;
}
