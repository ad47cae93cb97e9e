/**
 * `copy SRC DEST` between registries, archives, OCI layouts and the store, with skopeo's transport names:
 *
 *   docker://REF                 a registry
 *   oci:DIR[:ref]                an OCI image layout directory
 *   oci-archive:FILE[:ref]       a tar of an OCI image layout
 *   docker-archive:FILE[:name]   a `docker save` archive
 *   NAME | ID                    the store (no transport prefix)
 *
 * Every copy goes through a content store: the user's when it is one end and the other is a registry (pull,
 * push) or the destination is an archive or layout (save); else a temporary one that is removed afterwards (an
 * archive copied into the store passes through one, so that only the chosen image and name arrive). Blobs keep
 * their bytes and digests on the way; what the store verifies (sizes, digests, manifest/config consistency) is
 * verified for every copy.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadImages } from "../archive/load.ts";
import { parseLocation } from "../archive/location.ts";
import { saveImages } from "../archive/save.ts";
import { OslessError } from "../errors.ts";
import { parseReference } from "../reference/index.ts";
import { walkGraph } from "../store/graph.ts";
import { entryName, resolveImage, tagImage } from "../store/images.ts";
import { type IndexEntry, REF_NAME, Store } from "../store/layout.ts";
import { type PullOptions, pullImage } from "./pull.ts";
import { type PushOptions, pushImage } from "./push.ts";

export type ImageLocation =
  | { kind: "registry"; ref: string }
  | { kind: "store"; ref: string }
  | {
      kind: "layout";
      spec: string;
      transport: "oci" | "oci-archive" | "docker-archive";
      ref: string | undefined;
    };

/** Parse a copy endpoint. A bare reference or ID is the store. */
export function parseImageLocation(input: string): ImageLocation {
  if (input.startsWith("docker://")) {
    const ref = input.slice("docker://".length);
    if (ref === "")
      throw new OslessError("E_USAGE", `"${input}" names no image`, {
        hint: "write docker://REGISTRY/REPO:TAG",
      });
    return { kind: "registry", ref: parseReference(ref).toString() };
  }
  const m = input.match(/^([a-z-]+):/);
  if (m?.[1] === "docker-archive") {
    // skopeo's form: docker-archive:PATH[:NAME], split at the first colon (NAME may hold a port and a tag).
    const rest = input.slice("docker-archive:".length);
    const i = rest.indexOf(":");
    const path = i < 0 ? rest : rest.slice(0, i);
    if (path === "")
      throw new OslessError("E_USAGE", `"${input}" names no path`, { hint: "write docker-archive:FILE" });
    return {
      kind: "layout",
      spec: `docker-archive:${path}`,
      transport: "docker-archive",
      ref: i < 0 ? undefined : rest.slice(i + 1) || undefined,
    };
  }
  if (m && (m[1] === "oci" || m[1] === "oci-archive")) {
    const loc = parseLocation(input);
    return { kind: "layout", spec: input, transport: m[1], ref: loc.ref };
  }
  if (m && ["docker-daemon", "containers-storage", "dir", "ostree", "sif"].includes(m[1] as string)) {
    throw new OslessError("E_USAGE", `transport "${m[1]}:" is not supported`, {
      hint: "use docker://, oci:, oci-archive:, docker-archive:, or a name in the osless store",
    });
  }
  return { kind: "store", ref: input };
}

export interface CopyOptions extends PullOptions, PushOptions {}

export interface CopyResult {
  source: string;
  destination: string;
  /** Digest of the image's manifest (or index); a docker archive keeps manifest.json instead of it. */
  digest: string;
}

/** Copy one image from `source` to `destination` (see the module comment for the forms). */
export async function copyImage(
  store: Store,
  source: string,
  destination: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const src = parseImageLocation(source);
  const dst = parseImageLocation(destination);
  const result = (digest: string): CopyResult => ({ source, destination, digest });

  // One end is the user's store: a pull, push, load or save.
  if (dst.kind === "store" && src.kind === "registry") {
    const r = await pullImage(store, src.ref, { ...opts, name: dst.ref });
    return result(r.manifest);
  }
  if (src.kind === "store" && dst.kind === "registry") {
    const r = await pushImage(store, src.ref, dst.ref, opts);
    return result(r.digest);
  }
  // (A docker archive under another name goes through a temporary store: the user's keeps its names.)
  if (src.kind === "store" && dst.kind === "layout" && !(dst.transport === "docker-archive" && dst.ref)) {
    const r = await saveImages(store, [src.ref], dst.spec, opts.events ? { events: opts.events } : {});
    return result(r.images[0]?.digest ?? "");
  }
  if (src.kind === "store" && dst.kind === "store") {
    const r = await tagImage(store, src.ref, dst.ref);
    return result(r.digest);
  }

  // Neither end is the store: go through a temporary one.
  const dir = await mkdtemp(join(tmpdir(), "osless-copy-"));
  try {
    const tmp = await Store.open(join(dir, "store"));
    let name: string;
    if (src.kind === "registry") {
      name = (await pullImage(tmp, src.ref, opts)).name;
    } else if (src.kind === "store") {
      // Only into docker-archive:FILE:NAME (see above): the image is copied under NAME.
      name = parseReference(dst.ref as string).toString();
      await copyBetweenStores(store, tmp, (await resolveImage(store, src.ref)).entry, name);
    } else {
      const id = await loadOne(tmp, src as Extract<ImageLocation, { kind: "layout" }>, opts);
      const e = await resolveImage(tmp, id);
      name = entryName(e.entry) ?? id;
    }
    if (dst.kind === "store") {
      // Only the chosen image, under the destination name: the archive's other images and names stay out.
      return result(await copyBetweenStores(tmp, store, (await resolveImage(tmp, name)).entry, dst.ref));
    }
    if (dst.kind === "registry") return result((await pushImage(tmp, name, dst.ref, opts)).digest);
    if (dst.kind === "layout") {
      // A name for the archive: the destination's own ref for docker-archive, else the source's name.
      if (dst.transport === "docker-archive" && dst.ref) {
        await tagImage(tmp, name, dst.ref);
        name = parseReference(dst.ref).toString();
      }
      const r = await saveImages(tmp, [name], dst.spec, opts.events ? { events: opts.events } : {});
      return result(r.images[0]?.digest ?? "");
    }
    throw new Error("unreachable");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Copy one image (every blob its entry reaches that `from` has) into `to` under `name`, in one transaction of
 * `to`: each blob is verified again as it is written. Returns the entry's digest.
 */
async function copyBetweenStores(from: Store, to: Store, entry: IndexEntry, name: string): Promise<string> {
  const target = parseReference(name).toString();
  const nodes: { digest: string; size: number }[] = [];
  await walkGraph(from, [entry], {
    visit: (n) => {
      nodes.push(n.descriptor);
    },
    // Platforms an archive did not carry are absent in `from` too: there is nothing to copy for them.
    onError: () => {},
  });
  await to.transaction(async (tx) => {
    for (const d of nodes) {
      if (!(await from.hasBlob(d))) continue;
      await tx.put(() => from.openBlobUnverified(d.digest), d, `blob ${d.digest}`);
    }
    tx.updateIndex((entries) => [
      ...entries.filter((e) => entryName(e) !== target),
      {
        mediaType: entry.mediaType,
        digest: entry.digest,
        size: entry.size,
        annotations: { [REF_NAME]: target },
      },
    ]);
  });
  return entry.digest;
}

/**
 * Load the one image an archive or layout (with its optional ref) holds; returns its digest. `verb` names the
 * command in the error when the archive holds several images.
 */
export async function loadOne(
  store: Store,
  src: Extract<ImageLocation, { kind: "layout" }>,
  opts: Pick<CopyOptions, "events" | "signal">,
  verb = "copy",
): Promise<string> {
  const r = await loadImages(store, src.spec, {
    ...(opts.events ? { events: opts.events } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  let images = r.images;
  // loadImages selects by ref in OCI layouts; a docker archive's image is picked here by its RepoTags name.
  if (src.transport === "docker-archive" && src.ref !== undefined) {
    const want = parseReference(src.ref).toString();
    images = images.filter((i) => i.names.includes(want));
    if (images.length === 0) {
      const names = r.images.flatMap((i) => i.names);
      throw new OslessError("E_NOT_FOUND", `${src.spec}: no image named ${src.ref}`, {
        hint: names.length ? `names in this archive: ${names.join(", ")}` : "the archive names no images",
      });
    }
  }
  if (images.length !== 1) {
    throw new OslessError("E_AMBIGUOUS", `${src.spec} holds ${images.length} images; ${verb} takes one`, {
      hint: `name one: ${src.transport}:PATH:${src.transport === "docker-archive" ? "NAME" : "REF"}`,
    });
  }
  return (images[0] as { digest: string }).digest;
}
