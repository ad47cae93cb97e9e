/**
 * Containers as the host sees them: the list with live states, and (in `hostView`) the container's host PIDs,
 * namespaces beside the host's, cgroup and limits, capabilities and seccomp mode.
 */
import type { Store } from "../store/layout.ts";
import { type ContainerRecord, Containers } from "./containers.ts";
import { currentState } from "./lifecycle.ts";

/** Every container with its state as it is now (newest first). */
export async function listContainers(store: Store): Promise<ContainerRecord[]> {
  const all = await new Containers(store.root).list();
  return all.map((c) => ({ ...c, state: currentState(store, c) }));
}
