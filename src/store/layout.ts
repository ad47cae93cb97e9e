/**
 * The content store: an OCI image-layout directory (image-layout.md) with two extra top-level dirs the spec
 * allows, `ingest/` (blobs being written) and `locks/`.
 *
 *   oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   index.json            the images: descriptors, tagged with org.opencontainers.image.ref.name
 *   blobs/<alg>/<hex>     content, read-only, named by its digest
 *   ingest/<id>/data      a blob being written: hashed while written, fsynced, verified, then renamed into blobs/
 *   locks/index.lock      cross-process lock for index.json read-modify-write and for gc
 *   locks/writers/<pid>-* a process that has blobs in flight (gc spares recent unreferenced blobs while one lives)
 *
 * Crash safety: a blob becomes visible only by rename after fsync and verification; index.json is replaced
 * atomically and only after every blob it names is in place. A kill at any point leaves only ingest debris that
 * reads ignore and `gc` removes.
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  chmod,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fsyncDir, isErrno, pathExists, writeFileAtomic } from "../_internal/fs.ts";
import { acquireLock, withLock } from "../_internal/lock.ts";
import {
  type Digest,
  digestMismatch,
  Hasher,
  parseDigest,
  sizeMismatch,
  VerifyStream,
  verifyBytes,
} from "../digest/index.ts";
import { OslessError } from "../errors.ts";

export const REF_NAME = "org.opencontainers.image.ref.name";
/**
 * On a pulled image's index.json entry: where it came from, `name@digest` with the digest the reference resolved
 * to (an index's for a multi-platform image), like Docker's RepoDigests. Push uses it to find mount sources.
 */
export const REPO_DIGEST = "io.osless.repo-digest";

/** A descriptor as stored in index.json (kept loose: unknown fields written by other tools survive). */
export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IndexFile {
  schemaVersion: 2;
  mediaType?: string;
  manifests: IndexEntry[];
  [key: string]: unknown;
}

export interface BlobRef {
  digest: Digest;
  size: number;
}

export interface Expected {
  digest: string;
  size: number;
}

/** `$OSLESS_ROOT`; else /var/lib/osless for root; else `$XDG_DATA_HOME/osless` (~/.local/share/osless). */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OSLESS_ROOT) return env.OSLESS_ROOT;
  if (process.getuid?.() === 0) return "/var/lib/osless";
  const data = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(data, "osless");
}

/** Fault injection for crash tests: `OSLESS_FAULT=<point>` makes the process SIGKILL itself at that point. */
export function faultPoint(name: string): void {
  if (process.env.OSLESS_FAULT === name) process.kill(process.pid, "SIGKILL");
}

type BlobSource = Uint8Array | AsyncIterable<Uint8Array>;
/** A source, or a function that opens it only when the blob is not already present. */
export type LazyBlobSource = BlobSource | (() => BlobSource | Promise<BlobSource>);

export class Store {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Open the store at `root` without writing anything; it is created on the first commit. */
  static async open(root: string = defaultStoreRoot()): Promise<Store> {
    const s = new Store(root);
    const layout = await readFile(join(root, "oci-layout"), "utf8").catch((e) => {
      if (isErrno(e, "ENOENT")) return undefined;
      throw e;
    });
    if (layout !== undefined) {
      let version: unknown;
      try {
        version = (JSON.parse(layout) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch {
        version = undefined;
      }
      if (typeof version !== "string" || !version.startsWith("1.")) {
        throw new OslessError(
          "E_STORE_CORRUPT",
          `${join(root, "oci-layout")} is not an OCI layout version 1 file`,
          {
            hint: "point OSLESS_ROOT at an osless store or an OCI image-layout directory",
          },
        );
      }
    }
    return s;
  }

  get indexPath(): string {
    return join(this.root, "index.json");
  }
  get ingestDir(): string {
    return join(this.root, "ingest");
  }
  get locksDir(): string {
    return join(this.root, "locks");
  }

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, "blobs", algorithm, hex);
  }

  /** Size of the stored blob, or undefined if absent. */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if (isErrno(e, "ENOENT")) return undefined;
      throw e;
    }
  }

  /** True when the blob is present with the expected size (content is verified on read). */
  async hasBlob(expected: Expected): Promise<boolean> {
    return (await this.blobSize(expected.digest)) === expected.size;
  }

  /** Read a whole blob (manifests, configs), verifying size and digest; refuses blobs above `maxSize`. */
  async readBlob(expected: Expected, maxSize: number, what = "blob"): Promise<Buffer> {
    if (expected.size > maxSize) {
      throw new OslessError(
        "E_SIZE_LIMIT",
        `${what} ${expected.digest} is ${expected.size} bytes, over the ${maxSize}-byte limit`,
      );
    }
    let data: Buffer;
    try {
      data = await readFile(this.blobPath(expected.digest));
    } catch (e) {
      if (isErrno(e, "ENOENT")) throw missingBlob(this.root, expected.digest, what);
      throw e;
    }
    verifyBytes(data, expected, `${what} ${expected.digest}`);
    return data;
  }

  /** Stream a blob through a size + digest verifying stream; the stream errors if the content is not right. */
  openBlob(expected: Expected, what = "blob"): Readable {
    const path = this.blobPath(expected.digest);
    const verify = new VerifyStream(expected, `${what} ${expected.digest}`);
    const src = createReadStream(path, { highWaterMark: 1 << 20 });
    src.on("error", (e) =>
      verify.destroy(isErrno(e, "ENOENT") ? missingBlob(this.root, expected.digest, what) : e),
    );
    return src.pipe(verify);
  }

  /**
   * Stream a blob's bytes without checking them, for readers that verify on their own (layer streams hash the
   * compressed bytes and the DiffID in one pass). Missing blob -> E_BLOB_MISSING.
   */
  async *openBlobUnverified(digest: string, what = "blob"): AsyncGenerator<Buffer> {
    const src = createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 });
    try {
      for await (const c of src) yield c as Buffer;
    } catch (e) {
      if (isErrno(e, "ENOENT")) throw missingBlob(this.root, digest, what);
      throw e;
    } finally {
      src.destroy();
    }
  }

  /** The parsed index.json; an absent store has no images. */
  async readIndex(): Promise<IndexFile> {
    let raw: string;
    try {
      raw = await readFile(this.indexPath, "utf8");
    } catch (e) {
      if (isErrno(e, "ENOENT")) return { schemaVersion: 2, manifests: [] };
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw new OslessError(
        "E_STORE_CORRUPT",
        `${this.indexPath} is not valid JSON: ${(e as Error).message}`,
        {
          hint: "run `osless fsck --repair` to rebuild it, or restore it from a backup",
        },
      );
    }
    const idx = parsed as Partial<IndexFile>;
    if (typeof parsed !== "object" || parsed === null || !Array.isArray(idx.manifests)) {
      throw new OslessError("E_STORE_CORRUPT", `${this.indexPath} has no "manifests" array`, {
        hint: "run `osless fsck --repair`",
      });
    }
    return parsed as IndexFile;
  }

  /** Ensure the layout skeleton exists (0700 root, oci-layout, blobs/, ingest/, locks/). Idempotent. */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const d of ["blobs/sha256", "ingest", "locks/writers"]) {
      await mkdir(join(this.root, d), { recursive: true, mode: 0o700 });
    }
    const layout = join(this.root, "oci-layout");
    if (!(await pathExists(layout))) await writeFileAtomic(layout, '{"imageLayoutVersion":"1.0.0"}');
    if (!(await pathExists(this.indexPath))) {
      await withLock(join(this.locksDir, "index.lock"), async () => {
        if (!(await pathExists(this.indexPath)))
          await writeIndexFile(this.indexPath, { schemaVersion: 2, manifests: [] });
      });
    }
  }

  /**
   * Read-modify-write index.json under the cross-process lock. `fn` gets the current entries and returns the new
   * list (or undefined for no change). Every blob the new entries name must already be committed.
   */
  async updateIndex(
    fn: (entries: IndexEntry[]) => IndexEntry[] | undefined | Promise<IndexEntry[] | undefined>,
  ): Promise<void> {
    await this.init();
    await withLock(join(this.locksDir, "index.lock"), async () => {
      const current = await this.readIndex();
      const next = await fn(current.manifests.slice());
      if (next === undefined) return;
      faultPoint("during-index-write");
      await writeIndexFile(this.indexPath, {
        ...current,
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: next,
      });
    });
  }

  /** Start a transaction: blobs are staged in ingest/ and become visible only on commit. */
  async begin(): Promise<Transaction> {
    await this.init();
    const id = `${process.pid}-${randomBytes(6).toString("hex")}`;
    const marker = join(this.locksDir, "writers", id);
    await writeFile(marker, `${process.pid}\n`);
    return new Transaction(this, id, marker);
  }

  /** Run `fn` in a transaction; commit if it returns, abort (leaving the store as it was) if it throws. */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const tx = await this.begin();
    try {
      const result = await fn(tx);
      await tx.commit();
      return result;
    } finally {
      await tx.dispose();
    }
  }

  /** Hold the store-wide lock (index and gc). */
  lock(): Promise<() => Promise<void>> {
    return acquireLock(join(this.locksDir, "index.lock"));
  }
}

function missingBlob(root: string, digest: string, what: string): OslessError {
  return new OslessError("E_BLOB_MISSING", `${what} ${digest} is missing from the store at ${root}`, {
    hint: "pull or load the image again; `osless fsck` lists every missing blob",
  });
}

async function writeIndexFile(path: string, index: IndexFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(index, null, 2)}\n`);
}

interface Staged {
  ingest: string;
  ref: BlobRef;
  /** true when the blob already exists in the store: nothing to rename. */
  present: boolean;
}

/** Resumable downloads are single files named `<alg>-<hex>` in ingest/ (load's dirs start with the writer's PID). */
export const RESUMABLE_INGEST = /^(sha256|sha512)-[0-9a-f]+$/;

/** The lock a resumable ingest `<alg>-<hex>` is held under while a process writes it. */
export function ingestLockPath(store: Store, name: string): string {
  return join(store.locksDir, `ingest-${name}`);
}

export type ByteSource = AsyncIterable<Uint8Array>;

export interface ResumableResult extends BlobRef {
  /** "present": already in the store (or staged); "written": fetched now (possibly continuing a partial file). */
  status: "present" | "written";
  /** Bytes that were already in the ingest from an earlier, interrupted attempt. */
  resumedFrom: number;
}

/**
 * Blobs staged for one logical operation (a load, a pull). Nothing is visible until `commit()`; `dispose()`
 * removes whatever was not committed, so a failed operation leaves the store's blobs and index as they were.
 */
export class Transaction {
  readonly store: Store;
  readonly id: string;
  #marker: string;
  #staged = new Map<string, Staged>();
  #indexUpdates: Array<(entries: IndexEntry[]) => IndexEntry[] | undefined> = [];
  #done = false;

  constructor(store: Store, id: string, marker: string) {
    this.store = store;
    this.id = id;
    this.#marker = marker;
  }

  /** Digests staged so far (and present ones), in staging order. */
  get staged(): BlobRef[] {
    return [...this.#staged.values()].map((s) => s.ref);
  }

  has(digest: string): boolean {
    return this.#staged.has(digest);
  }

  /**
   * Stage a blob from bytes or a stream. With `expected`, the content must have exactly that size and digest
   * (more bytes than `size` are never written). Without it the digest is computed (sha256).
   */
  async put(lazySource: LazyBlobSource, expected?: Expected, what = "blob"): Promise<BlobRef> {
    if (this.#done) throw new Error("transaction already finished");
    if (expected) {
      const prior = this.#staged.get(expected.digest);
      if (prior && prior.ref.size === expected.size) return prior.ref;
      if (await this.store.hasBlob(expected)) {
        const ref = { digest: expected.digest as Digest, size: expected.size };
        this.#staged.set(ref.digest, { ingest: "", ref, present: true });
        return ref;
      }
    }
    const source = typeof lazySource === "function" ? await lazySource() : lazySource;
    const algorithm = expected ? parseDigest(expected.digest, what).algorithm : "sha256";
    const dir = join(
      this.store.ingestDir,
      `${this.id}-${this.#staged.size}-${randomBytes(3).toString("hex")}`,
    );
    await mkdir(dir, { mode: 0o700 });
    const file = join(dir, "data");
    const hasher = new Hasher(algorithm);
    const fh = await open(file, "wx", 0o644);
    try {
      if (source instanceof Uint8Array) {
        if (expected && source.length > expected.size)
          throw sizeMismatch(what, expected, source.length, true);
        hasher.update(source);
        await fh.write(source);
      } else {
        for await (const chunk of source) {
          if (expected && hasher.size + chunk.length > expected.size) {
            throw sizeMismatch(what, expected, hasher.size + chunk.length, true);
          }
          hasher.update(chunk);
          await writeAll(fh, chunk);
          faultPoint("after-write");
        }
      }
      faultPoint("before-fsync");
      await fh.datasync();
    } catch (e) {
      await fh.close();
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    await fh.close();
    const digest = hasher.digest();
    const ref: BlobRef = { digest, size: hasher.size };
    if (expected) {
      let err: OslessError | undefined;
      if (ref.size !== expected.size) err = sizeMismatch(what, expected, ref.size);
      else if (digest !== expected.digest) err = digestMismatch(what, expected.digest, digest);
      if (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
    const prior = this.#staged.get(digest);
    if (prior) {
      await rm(dir, { recursive: true, force: true });
      return prior.ref;
    }
    this.#staged.set(digest, { ingest: dir, ref, present: false });
    return ref;
  }

  /**
   * Stage a file this process wrote and hashed itself (a layer from writeLayer) without reading or copying it
   * again: it is synced and moved into the transaction's ingest. `file` must be on the store's filesystem (under
   * ingest/); it is moved or removed either way. Its size is checked; its digest is the caller's word.
   */
  async adopt(file: string, ref: BlobRef): Promise<BlobRef> {
    if (this.#done) throw new Error("transaction already finished");
    parseDigest(ref.digest, "blob");
    const prior = this.#staged.get(ref.digest);
    if ((prior && prior.ref.size === ref.size) || (await this.store.hasBlob(ref))) {
      await rm(file, { force: true });
      if (prior && prior.ref.size === ref.size) return prior.ref;
      this.#staged.set(ref.digest, { ingest: "", ref, present: true });
      return ref;
    }
    const fh = await open(file, "r+");
    try {
      const { size } = await fh.stat();
      if (size !== ref.size) {
        throw new OslessError("E_IO", `${file} has ${size} bytes, not the ${ref.size} written`, {
          hint: "something else wrote to the store's ingest directory; run the command again",
        });
      }
      await fh.datasync();
    } catch (e) {
      await fh.close();
      await rm(file, { force: true });
      throw e;
    }
    await fh.close();
    const dir = join(
      this.store.ingestDir,
      `${this.id}-${this.#staged.size}-${randomBytes(3).toString("hex")}`,
    );
    await mkdir(dir, { mode: 0o700 });
    try {
      await rename(file, join(dir, "data"));
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      await rm(file, { force: true });
      throw e;
    }
    this.#staged.set(ref.digest, { ingest: dir, ref, present: false });
    return ref;
  }

  /**
   * Add a blob from a source that can start at an offset (a registry). Its ingest is named by its digest and
   * locked per digest across processes while it is written: two pulls of one blob fetch it once, and a pull
   * killed half-way is continued by the next one (the partial file is re-hashed and `open(offset)` asked for the
   * rest). A broken transfer keeps the partial file for the next attempt; a wrong size or digest discards it.
   *
   * Unlike `put`, the verified blob is moved into blobs/ at once and its lock released, so that concurrent pulls
   * never wait on each other for more than one blob (no lock is held while waiting for another: no deadlock).
   * Until the index names it, it is an unreferenced blob that gc spares for its grace period while this writer
   * lives; `commit` checks under the index lock that it is still there.
   */
  async putResumable(
    expected: Expected,
    openAt: (offset: number) => ByteSource | Promise<ByteSource>,
    what = "blob",
    opts: { signal?: AbortSignal | undefined } = {},
  ): Promise<ResumableResult> {
    if (this.#done) throw new Error("transaction already finished");
    const ref = { digest: expected.digest as Digest, size: expected.size };
    const present = (status: ResumableResult["status"], resumedFrom: number): ResumableResult => {
      if (!this.#staged.has(ref.digest)) this.#staged.set(ref.digest, { ingest: "", ref, present: true });
      return { ...ref, status, resumedFrom };
    };
    if (this.#staged.has(expected.digest) || (await this.store.hasBlob(expected)))
      return present("present", 0);
    const { algorithm, hex } = parseDigest(expected.digest, what);
    const name = `${algorithm}-${hex}`;
    const release = await acquireLock(ingestLockPath(this.store, name), {
      timeoutMs: 24 * 3600_000,
      signal: opts.signal,
    });
    try {
      // The partial download is a single file, ingest/<alg>-<hex>: renaming it into blobs/ leaves nothing behind.
      const file = join(this.store.ingestDir, name);
      // Another process may have committed it while we waited for the lock.
      if (await this.store.hasBlob(expected)) return present("present", 0);
      const hasher = new Hasher(algorithm);
      let offset = 0;
      const st = await stat(file).catch((e) => {
        if (isErrno(e, "ENOENT")) return undefined;
        throw e;
      });
      if (st && st.size > expected.size) await truncate(file, 0);
      else if (st && st.size > 0) {
        for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) hasher.update(c as Buffer);
        offset = hasher.size;
      }
      const resumedFrom = offset;
      const fh = await open(file, offset > 0 ? "a" : "w", 0o644);
      // Network chunks are small (16-64 KiB): gather them into 1 MiB writes, one in flight while the next fills,
      // so that the download never waits for the disk and the disk sees few large writes.
      let batch: Uint8Array[] = [];
      let batchSize = 0;
      let writing: Promise<void> = Promise.resolve();
      let writeError: unknown;
      const flush = async () => {
        const data = batch;
        batch = [];
        batchSize = 0;
        await writing;
        if (writeError !== undefined) throw writeError;
        writing = writevAll(fh, data).then(
          () => faultPoint("after-write"),
          (e) => {
            writeError = e;
          },
        );
      };
      try {
        if (offset < expected.size) {
          for await (const chunk of await openAt(offset)) {
            if (hasher.size + chunk.length > expected.size) {
              throw sizeMismatch(what, expected, hasher.size + chunk.length, true);
            }
            hasher.update(chunk);
            batch.push(chunk);
            batchSize += chunk.length;
            if (batchSize >= 1 << 20) await flush();
          }
        }
        if (batchSize > 0) await flush();
        await writing;
        if (writeError !== undefined) throw writeError;
        faultPoint("before-fsync");
        await fh.datasync();
      } catch (e) {
        await writing;
        const wrong =
          e instanceof OslessError && (e.code === "E_SIZE_MISMATCH" || e.code === "E_DIGEST_MISMATCH");
        // A broken transfer keeps what it got for the next attempt: the batch not yet written too (up to 1 MiB,
        // else a connection that breaks every few hundred KiB never makes progress across runs).
        if (!wrong && batchSize > 0 && writeError === undefined) await writevAll(fh, batch).catch(() => {});
        await fh.close();
        // Wrong content is thrown away, and so is a file that received nothing (no partial worth listing).
        if (wrong || hasher.size === 0) await rm(file, { force: true });
        throw e;
      }
      await fh.close();
      const digest = hasher.digest();
      let err: OslessError | undefined;
      if (hasher.size !== expected.size) err = sizeMismatch(what, expected, hasher.size);
      else if (digest !== expected.digest) err = digestMismatch(what, expected.digest, digest);
      if (err) {
        // A short body keeps its bytes (resumable); wrong bytes are discarded.
        if (hasher.size >= expected.size) await rm(file, { force: true });
        throw err;
      }
      const target = this.store.blobPath(digest);
      await mkdir(join(target, ".."), { recursive: true, mode: 0o700 });
      await chmod(file, 0o444);
      await rename(file, target);
      // A partial file completed by an earlier run keeps that run's time: start the grace period now.
      const now = new Date();
      await utimes(target, now, now);
      await fsyncDir(join(target, ".."));
      faultPoint("after-rename");
      return present("written", resumedFrom);
    } finally {
      await release();
    }
  }

  /** Register an index.json change to apply atomically at commit, after every blob is in place. */
  updateIndex(fn: (entries: IndexEntry[]) => IndexEntry[] | undefined): void {
    this.#indexUpdates.push(fn);
  }

  /** Move staged blobs into blobs/ (fsync, read-only), then apply the index updates under the lock. */
  async commit(): Promise<void> {
    if (this.#done) throw new Error("transaction already finished");
    const dirs = new Set<string>();
    for (const s of this.#staged.values()) {
      const target = this.store.blobPath(s.ref.digest);
      if (s.present) {
        // Refresh its time so a concurrent gc's grace period spares it until our index update lands.
        const now = new Date();
        await utimes(target, now, now).catch(() => {});
        continue;
      }
      const dir = join(target, "..");
      if (!dirs.has(dir)) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        dirs.add(dir);
      }
      const data = join(s.ingest, "data");
      await chmod(data, 0o444);
      await rename(data, target);
      s.present = true;
      faultPoint("after-rename");
    }
    for (const d of dirs) await fsyncDir(d);
    faultPoint("after-rename-before-index");
    const updates = this.#indexUpdates;
    if (updates.length > 0) {
      await this.store.updateIndex(async (entries) => {
        // Under the lock prune holds too: a blob that was present when staged (or that putResumable moved into
        // blobs/ long ago) may have been pruned since, and the index must never name missing content.
        for (const s of this.#staged.values()) {
          if (!(await this.store.hasBlob(s.ref))) throw missingBlob(this.store.root, s.ref.digest, "blob");
        }
        let cur: IndexEntry[] | undefined;
        for (const u of updates) cur = u(cur ?? entries) ?? cur;
        return cur;
      });
    }
    this.#done = true;
  }

  /** Remove ingest leftovers and the writer marker. Safe to call more than once. */
  async dispose(): Promise<void> {
    this.#done = true;
    for (const s of this.#staged.values()) {
      if (s.ingest) await rm(s.ingest, { recursive: true, force: true });
    }
    await unlink(this.#marker).catch(() => {});
  }
}

async function writeAll(fh: import("node:fs/promises").FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

/** Write several buffers in one writev call (no copy into one buffer); short writes are finished one by one. */
async function writevAll(fh: import("node:fs/promises").FileHandle, chunks: Uint8Array[]): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  let skip = bytesWritten;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    await writeAll(fh, c.subarray(skip));
    skip = 0;
  }
}

/** Live writer markers other than ours (pid alive). Dead ones are removed. */
export async function liveWriters(store: Store): Promise<string[]> {
  const dir = join(store.locksDir, "writers");
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return [];
    throw e;
  }
  const live: string[] = [];
  for (const n of names) {
    const pid = Number(n.split("-")[0]);
    let alive = false;
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = isErrno(e, "EPERM");
      }
    }
    if (alive) live.push(n);
    else await unlink(join(dir, n)).catch(() => {});
  }
  return live;
}
