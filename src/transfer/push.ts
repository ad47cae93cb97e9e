/**
 * `push`: store -> registry. Children before parents: layers and config (each skipped when the registry has it,
 * mounted from another repository of the same registry when the store knows one that holds it, else uploaded),
 * then each platform manifest by digest, then the top manifest or index under the tag.
 */
import { OslessError } from "../errors.ts";
import { type EventSink, noEvents } from "../events/index.ts";
import { type ImageReference, parseReference } from "../reference/index.ts";
import type { PushBlobResult, Repository } from "../registry/client.ts";
import { isIndexMediaType, isManifestMediaType } from "../spec/media-types.ts";
import type { ParsedIndex, ParsedManifest } from "../spec/parse.ts";
import { mayBeAbsent, readManifestOrIndex, walkGraph } from "../store/graph.ts";
import { entryName, resolveImage } from "../store/images.ts";
import { type IndexEntry, REPO_DIGEST, type Store } from "../store/layout.ts";
import { mapLimit, type RemoteOptions, registryClient, shortId } from "./remote.ts";

export interface PushOptions extends RemoteOptions {
  /** Blobs uploaded at once (default 4). */
  concurrency?: number | undefined;
  /** Upload blobs in PATCH chunks of this size instead of one PUT each. */
  chunkSize?: number | undefined;
}

export interface PushedBlob {
  digest: string;
  size: number;
  status: PushBlobResult;
  /** The repository a mounted blob came from. */
  mountedFrom?: string | undefined;
}

export interface PushResult {
  /** Canonical destination name. */
  name: string;
  /** Digest of the pushed manifest or index (what `name@digest` pulls). */
  digest: string;
  size: number;
  mediaType: string;
  blobs: PushedBlob[];
  /** Bytes uploaded in this run (mounted and existing blobs are not counted). */
  uploaded: number;
}

/**
 * Push `source` (a name, ID or digest of an image in the store) to `destination` (default: the source's own
 * name).
 */
export async function pushImage(
  store: Store,
  source: string,
  destination?: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const resolved = await resolveImage(store, source);
  const destText = destination ?? resolved.name;
  if (destText === undefined) {
    throw new OslessError("E_USAGE", `image ${source} has no name to push to`, {
      hint: `give a destination: osless push ${source} REGISTRY/REPOSITORY:TAG`,
    });
  }
  const dest = parseReference(destText);
  const client = registryClient(dest.domain, opts);
  try {
    const repo = client.repository(dest.path);
    const pusher = new Pusher(store, repo, dest, opts, opts.events ?? noEvents);
    return await pusher.run(resolved.entry);
  } finally {
    await client.close();
  }
}

class Pusher {
  readonly blobs = new Map<string, PushedBlob>();
  uploaded = 0;
  #mounts: Map<string, string[]> | undefined;

  constructor(
    readonly store: Store,
    readonly repo: Repository,
    readonly dest: ImageReference,
    readonly opts: PushOptions,
    readonly events: EventSink,
  ) {}

  async run(entry: IndexEntry): Promise<PushResult> {
    const label = entryName(entry) ?? entry.digest;
    const top = await readManifestOrIndex(this.store, entry, `${label} manifest`);
    if (this.dest.digest && this.dest.digest !== top.digest) {
      throw new OslessError(
        "E_DIGEST_MISMATCH",
        `cannot push ${label} as ${this.dest}: the image's digest is ${top.digest}`,
        { hint: "push by tag, or name the digest the image really has" },
      );
    }
    await this.#mountCandidates();
    await this.node(top, label);
    const tag = this.dest.digest ?? (this.dest.tag as string);
    await this.repo.putManifest(tag, top.raw, top.mediaType, top.digest);
    return {
      name: this.dest.toString(),
      digest: top.digest,
      size: top.size,
      mediaType: top.mediaType,
      blobs: [...this.blobs.values()],
      uploaded: this.uploaded,
    };
  }

  /** Push what `m` refers to (not `m` itself). */
  async node(m: ParsedManifest | ParsedIndex, where: string): Promise<void> {
    if (m.kind === "index") {
      for (const [i, child] of m.index.manifests.entries()) {
        const cw = `${where} manifests[${i}]`;
        if (!isManifestMediaType(child.mediaType) && !isIndexMediaType(child.mediaType)) {
          await this.blob(child);
          continue;
        }
        if (!(await this.store.hasBlob(child))) {
          throw new OslessError(
            "E_BLOB_MISSING",
            `${cw}: platform manifest ${child.digest} is not in the store, so the index cannot be pushed whole`,
            {
              hint: "pull the image with --all-platforms first, or push a single platform by its manifest digest",
            },
          );
        }
        const parsed = await readManifestOrIndex(this.store, child, cw);
        await this.node(parsed, cw);
        await this.repo.putManifest(child.digest, parsed.raw, parsed.mediaType, parsed.digest);
      }
      return;
    }
    const blobs = [m.manifest.config, ...m.manifest.layers].filter(
      (d) => !(mayBeAbsent(d) && d.urls?.length && !this.blobs.has(d.digest)),
    );
    await mapLimit(blobs, this.opts.concurrency ?? 4, (d) => this.blob(d));
  }

  async blob(d: { digest: string; size: number }): Promise<void> {
    if (this.blobs.has(d.digest)) return;
    const entry: PushedBlob = { digest: d.digest, size: d.size, status: "exists" };
    this.blobs.set(d.digest, entry);
    const id = d.digest;
    this.events({ type: "start", id, label: shortId(d.digest), total: d.size });
    const store = this.store;
    const events = this.events;
    const self = this;
    const r = await this.repo.pushBlob(
      d,
      async function* () {
        let done = 0;
        let reported = 0;
        for await (const c of store.openBlobUnverified(d.digest, "blob")) {
          done += c.length;
          self.uploaded += c.length;
          if (done - reported >= 256 * 1024 || done === d.size) {
            reported = done;
            events({ type: "progress", id, done });
          }
          yield c;
        }
      },
      { mountFrom: this.#mounts?.get(d.digest), chunkSize: this.opts.chunkSize },
    );
    entry.status = r.status;
    if (r.mountedFrom) entry.mountedFrom = r.mountedFrom;
    const detail =
      r.status === "uploaded"
        ? "Pushed"
        : r.status === "mounted"
          ? `Mounted from ${r.mountedFrom}`
          : "Layer already exists";
    this.events({ type: "end", id, skipped: r.status !== "uploaded", detail });
  }

  /**
   * Blobs the store knows to be in other repositories of the destination registry (images pulled from there),
   * for cross-repository mounts.
   */
  async #mountCandidates(): Promise<void> {
    const map = new Map<string, string[]>();
    for (const e of (await this.store.readIndex()).manifests) {
      const source = e.annotations?.[REPO_DIGEST] ?? entryName(e);
      if (!source) continue;
      let ref: ImageReference;
      try {
        ref = parseReference(source);
      } catch {
        continue;
      }
      if (ref.domain !== this.dest.domain || ref.path === this.dest.path) continue;
      await walkGraph(this.store, [e], {
        visit: (n) => {
          if (n.kind !== "config" && n.kind !== "layer") return;
          const repos = map.get(n.descriptor.digest) ?? [];
          if (!repos.includes(ref.path)) repos.push(ref.path);
          map.set(n.descriptor.digest, repos);
        },
        onError: () => {},
      });
    }
    this.#mounts = map;
  }
}
