/**
 * `pull`: registry -> store. Resolve the reference, choose a platform from an index (or take them all), then fetch
 * config and layers concurrently into one store transaction: every blob is checked for size and digest while it
 * streams into the store's ingest, blobs already in the store are skipped, a broken connection is resumed with a
 * Range request, and a pull killed half-way is continued by the next one (the partial ingest is kept). The image's
 * name is written to index.json only after every blob is in place.
 */
import { OslessError } from "../errors.ts";
import { type EventSink, noEvents } from "../events/index.ts";
import { type ImageReference, parseReference } from "../reference/index.ts";
import type { Repository } from "../registry/client.ts";
import { isConfigMediaType, isIndexMediaType, isManifestMediaType } from "../spec/media-types.ts";
import {
  checkImageConsistency,
  MAX_CONFIG_SIZE,
  type ParsedIndex,
  type ParsedManifest,
  parseImageConfig,
} from "../spec/parse.ts";
import { formatPlatform, hostPlatform, normalizePlatform, platformMatches } from "../spec/platform.ts";
import type { Descriptor, Platform } from "../spec/schemas.ts";
import { mayBeAbsent } from "../store/graph.ts";
import { entryName } from "../store/images.ts";
import { type IndexEntry, REF_NAME, REPO_DIGEST, type Store, type Transaction } from "../store/layout.ts";
import { mapLimit, type RemoteOptions, registryClient, shortId } from "./remote.ts";

export interface PullOptions extends RemoteOptions {
  /** Platform to take from a multi-platform image (default: the host's). */
  platform?: Platform | undefined;
  /** Keep the whole index and every platform. */
  allPlatforms?: boolean | undefined;
  /** Layers downloaded at once (default 3, as Docker's max-concurrent-downloads). */
  concurrency?: number | undefined;
  /** Name to give the image in the store (default: the reference pulled). */
  name?: string | undefined;
}

export interface PulledBlob {
  digest: string;
  size: number;
  /** "present": already in the store; "downloaded"; "resumed": continued from an earlier partial download. */
  status: "present" | "downloaded" | "resumed";
}

export interface PullResult {
  /** Canonical name given to the image ("docker.io/library/debian:latest"; name@digest when pulled by digest). */
  name: string;
  /** The digest the reference resolved to (an index's when the image is multi-platform). */
  digest: string;
  /** The stored image: its manifest (or index with --all-platforms) digest and ID. */
  manifest: string;
  id: string;
  platforms: string[];
  blobs: PulledBlob[];
  /** Bytes fetched from the registry in this run. */
  downloaded: number;
  /** True when every blob was already in the store and the name already pointed at this image. */
  upToDate: boolean;
}

/** Pull `reference` ("debian", "ghcr.io/o/app:1", "x@sha256:…") into the store. */
export async function pullImage(
  store: Store,
  reference: string,
  opts: PullOptions = {},
): Promise<PullResult> {
  const ref = parseReference(reference);
  const events = opts.events ?? noEvents;
  // One layer failing cancels the downloads in flight (as docker does) instead of letting them run to the end.
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const client = registryClient(ref.domain, { ...opts, signal: cancel.signal });
  try {
    const repo = client.repository(ref.path);
    const top = await repo.getManifest(ref.digest ?? (ref.tag as string));
    const puller = new Puller(store, repo, ref, { ...opts, signal: cancel.signal }, events, () =>
      cancel.abort(),
    );
    return await store.transaction((tx) => puller.run(tx, top));
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await client.close();
  }
}

class Puller {
  readonly blobs = new Map<string, PulledBlob>();
  downloaded = 0;

  constructor(
    readonly store: Store,
    readonly repo: Repository,
    readonly ref: ImageReference,
    readonly opts: PullOptions,
    readonly events: EventSink,
    /** Cancel the other transfers of this pull (the first failure calls it). */
    readonly cancel: () => void,
  ) {}

  async run(tx: Transaction, top: ParsedManifest | ParsedIndex): Promise<PullResult> {
    const label = this.ref.toString();
    let stored: ParsedManifest | ParsedIndex;
    let id: string;
    const platforms: string[] = [];
    if (top.kind === "index" && this.opts.allPlatforms) {
      for (const [i, child] of top.index.manifests.entries()) {
        const where = `${label} manifests[${i}]`;
        if (!isManifestMediaType(child.mediaType) && !isIndexMediaType(child.mediaType)) {
          // Something else the index names (a blob of an unknown type): kept, so the index is whole.
          if (child.size > 0) await this.layer(tx, child);
          continue;
        }
        const m = await this.repo.getManifest(child.digest);
        if (m.kind !== "manifest") {
          throw new OslessError("E_MANIFEST_INVALID", `${where}: nested indexes are not supported`, {
            hint: "pull one platform with --platform instead",
          });
        }
        if (m.size !== child.size) {
          throw new OslessError(
            "E_SIZE_MISMATCH",
            `${where}: manifest is ${m.size} bytes, the index says ${child.size}`,
          );
        }
        await this.image(tx, m, where);
        if (child.platform) platforms.push(formatPlatform(child.platform));
      }
      await tx.put(top.raw, top, `${label} index`);
      stored = top;
      id = top.digest;
    } else {
      let m = top;
      const want = this.opts.platform;
      if (m.kind === "manifest" && want) this.#checkPlatform = want;
      if (m.kind === "index")
        m = await this.repo.platformManifest(m, this.opts.platform ?? hostPlatform(), label);
      id = await this.image(tx, m, label);
      stored = m;
    }
    if (platforms.length === 0 && stored.kind === "manifest") platforms.push(...this.#platformOf(stored));
    const name = this.opts.name ? parseReference(this.opts.name).toString() : this.ref.toString();
    const repoDigest = `${this.ref.name}@${top.digest}`;
    let upToDate = [...this.blobs.values()].every((b) => b.status === "present");
    tx.updateIndex((entries: IndexEntry[]) => {
      const existing = entries.find((e) => entryName(e) === name);
      if (existing?.digest !== stored.digest) upToDate = false;
      const kept = entries.filter((e) => entryName(e) !== name);
      return [
        ...kept,
        {
          mediaType: stored.mediaType,
          digest: stored.digest,
          size: stored.size,
          annotations: { [REF_NAME]: name, [REPO_DIGEST]: repoDigest },
        },
      ];
    });
    return {
      name,
      digest: top.digest,
      manifest: stored.digest,
      id,
      platforms,
      blobs: [...this.blobs.values()],
      downloaded: this.downloaded,
      get upToDate() {
        return upToDate;
      },
    };
  }

  #platforms = new Map<string, string>();
  /** --platform given for a single-platform image: checked against its config. */
  #checkPlatform: Platform | undefined;

  #platformOf(m: ParsedManifest): string[] {
    const p = this.#platforms.get(m.digest);
    return p ? [p] : [];
  }

  /** Stage one image manifest with its config and layers; returns the image ID (config digest). */
  async image(tx: Transaction, m: ParsedManifest, where: string): Promise<string> {
    const cfgDesc = m.manifest.config;
    if (!isConfigMediaType(cfgDesc.mediaType)) return this.artifact(tx, m, where);
    const cfgRaw = await this.repo.readBlob(cfgDesc, MAX_CONFIG_SIZE, "config");
    const config = parseImageConfig(cfgRaw, { expected: cfgDesc, where: `${where} config` });
    checkImageConsistency(m.manifest, config.config, where);
    this.#platforms.set(m.digest, formatPlatform(config.config));
    if (
      this.#checkPlatform &&
      !platformMatches(normalizePlatform(this.#checkPlatform), normalizePlatform(config.config))
    ) {
      // As docker: a single-platform image is pulled whatever --platform says, with a warning.
      this.events({
        type: "note",
        level: "warn",
        text: `the image's platform (${formatPlatform(config.config)}) does not match the requested platform (${formatPlatform(this.#checkPlatform)})`,
      });
    }
    const layers = m.manifest.layers.filter((l) => !(mayBeAbsent(l) && l.urls?.length));
    // The store's resumable ingest never asks the registry for a size-0 blob, so the client's own check would not
    // run: refuse here, before any download (containerd does the same).
    for (const [i, l] of m.manifest.layers.entries()) {
      if (l.size <= 0 && layers.includes(l)) {
        throw new OslessError(
          "E_MANIFEST_INVALID",
          `${where}: layers[${i}] (${l.digest}) has size ${l.size}`,
          {
            hint: "a layer to fetch must have a positive size; the manifest is wrong",
            details: { where, digest: l.digest, size: l.size },
          },
        );
      }
    }
    await mapLimit(layers, this.opts.concurrency ?? 3, (l) => this.layer(tx, l), this.cancel);
    await tx.put(cfgRaw, cfgDesc, `${where} config`);
    await tx.put(m.raw, m, `${where} manifest`);
    return config.digest;
  }

  /**
   * A manifest that is not a container image (attestations, signatures, SBOMs that buildx and cosign put in
   * indexes): its blobs are copied as they are, never parsed, so that `--all-platforms` keeps the index whole.
   * Returns the manifest digest.
   */
  async artifact(tx: Transaction, m: ParsedManifest, where: string): Promise<string> {
    const blobs = [m.manifest.config, ...m.manifest.layers];
    // A zero-size blob has nothing to fetch: it is the empty file, whose digest tx.put checks.
    await mapLimit(
      blobs,
      this.opts.concurrency ?? 3,
      (d) => (d.size === 0 ? tx.put(Buffer.alloc(0), d, `${where} blob`).then(() => {}) : this.layer(tx, d)),
      this.cancel,
    );
    await tx.put(m.raw, m, `${where} manifest`);
    return m.digest;
  }

  async layer(tx: Transaction, d: Descriptor): Promise<void> {
    if (this.blobs.has(d.digest)) return;
    const id = d.digest;
    const entry: PulledBlob = { digest: d.digest, size: d.size, status: "present" };
    this.blobs.set(d.digest, entry);
    this.events({ type: "start", id, label: shortId(d.digest), total: d.size });
    let reported = 0;
    let done = 0;
    const r = await tx.putResumable(
      d,
      (offset) => {
        done = offset;
        return this.#counted(this.repo.blob(d, { offset, verify: false }, "layer"), (n) => {
          done += n;
          this.downloaded += n;
          if (done - reported >= 256 * 1024 || done === d.size) {
            reported = done;
            this.events({ type: "progress", id, done });
          }
        });
      },
      `${this.ref.name} layer ${d.digest}`,
      { signal: this.opts.signal },
    );
    entry.status = r.status === "present" ? "present" : r.resumedFrom > 0 ? "resumed" : "downloaded";
    const detail =
      entry.status === "present"
        ? "Already exists"
        : entry.status === "resumed"
          ? `Pull complete (resumed at byte ${r.resumedFrom})`
          : "Pull complete";
    this.events({ type: "end", id, skipped: r.status === "present", detail });
  }

  async *#counted(src: AsyncIterable<Buffer>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
    for await (const c of src) {
      onBytes(c.length);
      yield c;
    }
  }
}
