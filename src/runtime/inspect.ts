/**
 * Containers as the host sees them: the list with live states, and (in `hostView`) the container's host PIDs,
 * namespaces beside the host's, cgroup and limits, capabilities and seccomp mode.
 */
import { join } from "node:path";
import type { Store } from "../store/layout.ts";
import { type ContainerRecord, Containers } from "./containers.ts";
import { currentState } from "./lifecycle.ts";
import { DirRoot } from "./root-dir.ts";
import { UnionRoot } from "./rootfs.ts";
import type { RootReader } from "./types.ts";
import { resolveUser } from "./user.ts";

/** Every container with its state as it is now (newest first). */
export async function listContainers(store: Store): Promise<ContainerRecord[]> {
  const all = await new Containers(store.root).list();
  return all.map((c) => ({ ...c, state: currentState(store, c) }));
}

/** The container's root as it is now (its own writes included), for reading /etc/passwd and the like. */
export function containerRoot(store: Store, record: ContainerRecord): RootReader {
  const containers = new Containers(store.root);
  if (record.rootfs.kind === "overlay" && record.rootfs.lower) {
    return new UnionRoot(record.rootfs.lower, join(containers.containerDir(record.id), "upper"));
  }
  return new DirRoot(join(containers.bundleDir(record.id), "rootfs"));
}

/** `exec -u user[:group]` as the numeric `uid:gid` the runtime takes, resolved in the container's current root. */
export async function resolveExecUser(store: Store, input: string, user: string): Promise<string> {
  const record = await new Containers(store.root).lookup(input);
  const u = resolveUser(user, containerRoot(store, record));
  return `${u.uid}:${u.gid}`;
}
