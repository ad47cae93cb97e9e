/**
 * The runtime's share of store maintenance: layer snapshots no image in the store and no container uses are
 * removed by `osless prune`; `osless rmi` asks which containers use an image before removing its last name.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { entryName, openEntry } from "../store/images.ts";
import { liveWriters, type Store } from "../store/layout.ts";
import { type ContainerRecord, Containers, processStartTime } from "./containers.ts";
import { chainIds, removeSnapshots } from "./rootfs.ts";

/**
 * Remove the snapshots that neither an image of the store (any platform it holds) nor a container needs;
 * returns the ChainIDs removed. Snapshots being built (their lock held) are left alone, and all of them while
 * another osless process writes to the store (a build stacks snapshots that no image names yet).
 */
export async function pruneSnapshots(store: Store): Promise<string[]> {
  // A build in progress (a live writer) stacks snapshots no image names yet: leave them all until it is done.
  if ((await liveWriters(store)).length > 0) return [];
  const keep = new Set<string>();
  for (const c of await new Containers(store.root).list())
    for (const id of c.rootfs.chainIds ?? []) keep.add(id);
  for (const e of (await store.readIndex()).manifests) {
    try {
      const img = await openEntry(store, e);
      for (const id of chainIds(img.config.config.rootfs.diff_ids)) keep.add(id);
    } catch {
      // An image that cannot be read (another platform only, or incomplete) keeps nothing: its snapshots are
      // rebuilt if it is ever run.
    }
  }
  await removeDeadRuns(store);
  return removeSnapshots(join(store.root, "snapshots"), keep);
}

/** Run directories (a build's RUN: upper, work, bundle) whose process is gone: a killed build leaves them. */
async function removeDeadRuns(store: Store): Promise<void> {
  const runs = join(store.root, "runs");
  for (const name of await readdir(runs).catch(() => [] as string[])) {
    const pid = Number(name.split("-")[0]);
    if (Number.isInteger(pid) && pid > 0 && processStartTime(pid) !== undefined) continue;
    await rm(join(runs, name), { recursive: true, force: true });
  }
}

/** Containers created from the image whose manifest (or index) digest is `digest`. */
export async function containersUsing(store: Store, digest: string): Promise<ContainerRecord[]> {
  return (await new Containers(store.root).list()).filter((c) => c.image.digest === digest);
}

/** The names an index entry digest has in the store (for rmi's "last name" check). */
export async function namesOf(store: Store, digest: string): Promise<string[]> {
  return (await store.readIndex()).manifests
    .filter((e) => e.digest === digest)
    .map(entryName)
    .filter((n): n is string => n !== undefined);
}
