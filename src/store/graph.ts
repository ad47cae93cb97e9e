/**
 * Walking the descriptor graph of stored images: index -> manifests -> config + layers. Used by gc (what is
 * reachable), fsck (what is missing or corrupt), save (what to copy) and inspect.
 */
import { isIndexMediaType, isManifestMediaType } from "../spec/media-types.ts";
import {
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  type ParsedConfig,
  type ParsedIndex,
  type ParsedManifest,
  parseImageConfig,
  parseManifestOrIndex,
} from "../spec/parse.ts";
import type { Descriptor } from "../spec/schemas.ts";
import type { Store } from "./layout.ts";

export type NodeKind = "index" | "manifest" | "config" | "layer";

export interface GraphNode {
  kind: NodeKind;
  descriptor: { mediaType: string; digest: string; size: number; urls?: string[] | undefined };
  /** Parsed content for index and manifest nodes. */
  parsed?: ParsedManifest | ParsedIndex;
}

/** Read and parse a manifest or index blob from the store. */
export async function readManifestOrIndex(
  store: Store,
  d: { mediaType?: string | undefined; digest: string; size: number },
  where?: string,
): Promise<ParsedManifest | ParsedIndex> {
  const what = where ?? `manifest ${d.digest}`;
  const raw = await store.readBlob(d, MAX_MANIFEST_SIZE, what);
  return parseManifestOrIndex(raw, { declaredMediaType: d.mediaType, where: what });
}

export async function readConfig(
  store: Store,
  d: { digest: string; size: number },
  where?: string,
): Promise<ParsedConfig> {
  const what = where ?? `config ${d.digest}`;
  const raw = await store.readBlob(d, MAX_CONFIG_SIZE, what);
  return parseImageConfig(raw, { where: what });
}

export interface WalkOptions {
  /** Called for every node reached (children after their parent). Return false to skip a node's children. */
  visit: (node: GraphNode) => undefined | boolean | Promise<undefined | boolean>;
  /** Called when a manifest/index cannot be read or parsed; without it the error is thrown. */
  onError?: (descriptor: GraphNode["descriptor"], error: unknown) => void;
}

/** Depth-first walk from `root`. Each digest is visited once. Layer blobs are not read. */
export async function walkGraph(
  store: Store,
  roots: GraphNode["descriptor"][],
  opts: WalkOptions,
): Promise<void> {
  const seen = new Set<string>();
  const visitNode = async (d: GraphNode["descriptor"], hint: NodeKind | undefined): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (hint === "config" || hint === "layer") {
      await opts.visit({ kind: hint, descriptor: d });
      return;
    }
    let parsed: ParsedManifest | ParsedIndex;
    try {
      parsed = await readManifestOrIndex(store, d);
    } catch (e) {
      if (opts.onError) {
        opts.onError(d, e);
        return;
      }
      throw e;
    }
    const go = await opts.visit({ kind: parsed.kind, descriptor: d, parsed });
    if (go === false) return;
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) {
        // Children of unknown type (artifacts, attestations) are stored and kept but not parsed.
        if (isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType))
          await visitNode(child, undefined);
        else await visitNode(child, "layer");
      }
    } else {
      await visitNode(parsed.manifest.config, "config");
      for (const l of parsed.manifest.layers) await visitNode(l, "layer");
    }
  };
  for (const r of roots) await visitNode(r, undefined);
}

/** Every digest reachable from `roots`, with its size. Manifests that cannot be read are reported via onError. */
export async function reachable(
  store: Store,
  roots: GraphNode["descriptor"][],
  onError?: WalkOptions["onError"],
): Promise<Map<string, GraphNode>> {
  const out = new Map<string, GraphNode>();
  await walkGraph(store, roots, {
    visit: (n) => {
      out.set(n.descriptor.digest, n);
    },
    ...(onError ? { onError } : {}),
  });
  return out;
}

/** Descriptor for a node whose layers may legitimately be absent (foreign / non-distributable with urls). */
export function mayBeAbsent(d: Descriptor | GraphNode["descriptor"]): boolean {
  return Array.isArray(d.urls) && d.urls.length > 0;
}
