/**
 * `osless info`: what this host offers containers — the runtime (and the security fixes its version lacks), the
 * cgroup mode, overlayfs for container roots, the kernel — and how many containers the store holds.
 */
import { arch, release } from "node:os";
import { join } from "node:path";
import { isOslessError } from "../errors.ts";
import type { Store } from "../store/layout.ts";
import { listContainers } from "./inspect.ts";
import { overlaySupported } from "./rootfs.ts";
import { type CgroupMode, cgroupMode, findRuntime, runtimeVersion } from "./runtime.ts";

export interface RuntimeReport {
  name: string;
  path: string;
  version: string;
  commit?: string | undefined;
  stateRoot: string;
  /** Security fixes its version lacks. */
  warnings: string[];
}

export interface HostInfo {
  storeRoot: string;
  containers: { total: number; running: number };
  /** The default runtime and every other one installed; `error` when none is usable. */
  runtimes: RuntimeReport[];
  runtimeError?: string | undefined;
  cgroupMode: CgroupMode;
  /** Container roots are overlays of shared layer snapshots (else full copies). */
  overlay: boolean;
  kernel: string;
  arch: string;
}

export async function hostInfo(store: Store): Promise<HostInfo> {
  const all = await listContainers(store);
  const runtimes: RuntimeReport[] = [];
  let runtimeError: string | undefined;
  for (const name of ["runc", "crun"]) {
    try {
      const rt = findRuntime(name);
      const v = runtimeVersion(rt);
      runtimes.push({
        name,
        path: rt.path,
        version: v.version,
        commit: v.commit,
        stateRoot: rt.stateRoot,
        warnings: v.warnings,
      });
    } catch (e) {
      if (!isOslessError(e, "E_RUNTIME_MISSING")) runtimeError = (e as Error).message;
    }
  }
  if (runtimes.length === 0 && runtimeError === undefined) {
    runtimeError = "no OCI runtime installed: apt-get install runc (or crun)";
  }
  return {
    storeRoot: store.root,
    containers: { total: all.length, running: all.filter((c) => c.state.status === "running").length },
    runtimes,
    runtimeError,
    cgroupMode: cgroupMode(),
    overlay: overlaySupported(join(store.root, "snapshots")),
    kernel: release(),
    arch: arch(),
  };
}
