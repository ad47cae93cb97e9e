/**
 * Containers as the host sees them: the list with live states, and (in `hostView`) the container's host PIDs,
 * namespaces beside the host's, cgroup and limits, capabilities and seccomp mode.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Store } from "../store/layout.ts";
import { type ContainerRecord, Containers } from "./containers.ts";
import { type HostView, hostViewOf } from "./hostview.ts";
import { containerRootOf, currentState } from "./lifecycle.ts";
import type { Spec } from "./oci.ts";
import { resolveUser } from "./user.ts";

/** Every container with its state as it is now (newest first). */
export async function listContainers(store: Store): Promise<ContainerRecord[]> {
  const all = await new Containers(store.root).list();
  return all.map((c) => ({ ...c, state: currentState(store, c) }));
}

/**
 * `exec -u user[:group]` as the runtime takes it: numeric `uid:gid` and supplementary groups, resolved in the
 * container's current root.
 */
export async function resolveExecUser(
  store: Store,
  input: string,
  user: string,
): Promise<{ user: string; additionalGids: number[] }> {
  const record = await new Containers(store.root).lookup(input);
  const u = resolveUser(user, containerRootOf(store, record));
  // The supplementary groups of the user's /etc/group memberships (the primary gid is not repeated).
  return { user: `${u.uid}:${u.gid}`, additionalGids: u.additionalGids.filter((g) => g !== u.gid) };
}

/** What `osless inspect CONTAINER` prints for one container. */
export interface ContainerInspect extends ContainerRecord {
  bundle: { path: string; config: BundleSummary | null };
  host: HostView;
}

/** The parts of a bundle's config.json worth reading in inspect (the seccomp filter as counts, not rules). */
export interface BundleSummary {
  ociVersion: string;
  hostname?: string | undefined;
  root: Spec["root"];
  process: {
    args: string[];
    env: string[];
    cwd: string;
    user: Spec["process"]["user"];
    terminal: boolean;
    noNewPrivileges: boolean;
    capabilities: string[];
    rlimits: NonNullable<Spec["process"]["rlimits"]>;
  };
  mounts: Spec["mounts"];
  namespaces: string[];
  cgroupsPath?: string | undefined;
  resources: {
    memory?: NonNullable<Spec["linux"]["resources"]>["memory"];
    cpu?: NonNullable<Spec["linux"]["resources"]>["cpu"];
    pids?: NonNullable<Spec["linux"]["resources"]>["pids"];
    /** Device cgroup rules: how many allow and deny. */
    devices: { allow: number; deny: number };
  };
  seccomp: { defaultAction: string; architectures: string[]; rules: number; syscalls: number } | null;
  maskedPaths: string[];
  readonlyPaths: string[];
}

function bundleSummary(spec: Spec): BundleSummary {
  const res = spec.linux?.resources;
  const seccomp = spec.linux?.seccomp;
  return {
    ociVersion: spec.ociVersion,
    hostname: spec.hostname,
    root: spec.root,
    process: {
      args: spec.process.args,
      env: spec.process.env,
      cwd: spec.process.cwd,
      user: spec.process.user,
      terminal: spec.process.terminal === true,
      noNewPrivileges: spec.process.noNewPrivileges === true,
      capabilities: spec.process.capabilities?.effective ?? [],
      rlimits: spec.process.rlimits ?? [],
    },
    mounts: spec.mounts,
    namespaces: (spec.linux?.namespaces ?? []).map((n) => n.type),
    cgroupsPath: spec.linux?.cgroupsPath,
    resources: {
      ...(res?.memory ? { memory: res.memory } : {}),
      ...(res?.cpu ? { cpu: res.cpu } : {}),
      ...(res?.pids ? { pids: res.pids } : {}),
      devices: {
        allow: (res?.devices ?? []).filter((d) => d.allow).length,
        deny: (res?.devices ?? []).filter((d) => !d.allow).length,
      },
    },
    seccomp: seccomp
      ? {
          defaultAction: seccomp.defaultAction,
          architectures: seccomp.architectures ?? [],
          rules: seccomp.syscalls?.length ?? 0,
          syscalls: (seccomp.syscalls ?? []).reduce((n, r) => n + r.names.length, 0),
        }
      : null,
    maskedPaths: spec.linux?.maskedPaths ?? [],
    readonlyPaths: spec.linux?.readonlyPaths ?? [],
  };
}

/**
 * `osless inspect CONTAINER`: the container's record (its state as it is now), a summary of the bundle's
 * config.json, and the host's view (processes, namespaces, cgroup, security; see hostview.ts). E_NOT_FOUND when
 * no container has that name or ID.
 */
export async function inspectContainerJson(store: Store, nameOrId: string): Promise<ContainerInspect> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(nameOrId);
  const path = containers.bundleDir(record.id);
  let config: BundleSummary | null = null;
  try {
    config = bundleSummary(JSON.parse(await readFile(join(path, "config.json"), "utf8")) as Spec);
  } catch {
    // a container being created or removed: its record still says what it is
  }
  const host = await hostViewOf(store, record);
  return { ...record, state: host.container.state, bundle: { path, config }, host };
}
