// Helpers of the container e2e tests: what a store holds of containers, and what a container left on the host.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The IDs of the containers a store at `root` holds. */
export function containerIds(root: string): string[] {
  const dir = join(root, "containers");
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
}

/**
 * Host traces of a container: its cgroup directories (cgroup v1 controllers and v2, under osless's default
 * parent), the runtimes' state directories for it, and mounts naming it. Empty when nothing is left.
 */
export function hostTraces(id: string): string[] {
  const found: string[] = [];
  for (const ctl of readdirSync("/sys/fs/cgroup")) {
    const p = join("/sys/fs/cgroup", ctl, "osless", id);
    if (existsSync(p)) found.push(p);
  }
  if (existsSync(join("/sys/fs/cgroup/osless", id))) found.push(join("/sys/fs/cgroup/osless", id));
  for (const rt of ["runc", "crun"]) {
    const p = join("/run/osless", rt, id);
    if (existsSync(p)) found.push(p);
  }
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    if (line.includes(id)) found.push(line);
  }
  return found;
}
