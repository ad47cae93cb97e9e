/**
 * run: `osless run --rm hello` (the static hello FROM scratch, already in the store: layer snapshots made, a
 * container created, the bundle written, runc run, the container removed) vs the bare runtime on an equivalent
 * bundle (`runc run` on the very config.json osless writes, over a plain copy of the rootfs: the floor) vs
 * `podman run --rm` on the same image (with the flags this host needs: cgroupfs, a nofile ulimit it can set).
 * Every command is a whole process, timed in alternating rounds after one warm-up each.
 * Goals: osless ≤ runtime + 60 ms and ≤ 0.3× podman.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerArchive, IMAGES, ociLayout, prepareSpec } from "../test/fixtures/images.ts";
import { needTool, tmpdir } from "../test/fixtures/tools.ts";
import { machine, median, timed } from "./util.ts";

const CLI = new URL("../bin/osless.js", import.meta.url).pathname;

function must(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export async function run(): Promise<void> {
  const runc = needTool("runc", "runc");
  const podman = needTool("podman", "podman");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
  const work = await tmpdir("osless-bench-run");
  const store = join(work, "store");
  const env = { OSLESS_ROOT: store };
  must(process.execPath, [CLI, "copy", "-q", `oci:${await ociLayout(IMAGES.hello)}:latest`, "hello"], env);

  // The floor's bundle: the config osless writes for this image (same namespaces, mounts, seccomp, cgroup), with
  // the overlay replaced by a plain directory holding the image's one layer.
  must(process.execPath, [CLI, "run", "--name", "template", "hello"], env);
  const containers = join(store, "containers");
  const id = readdirSync(containers).find((n) => /^[0-9a-f]{64}$/.test(n))!;
  const spec = JSON.parse(readFileSync(join(containers, id, "bundle", "config.json"), "utf8")) as {
    mounts: { destination: string; type?: string }[];
    linux: { cgroupsPath?: string };
  };
  must(process.execPath, [CLI, "rm", "template"], env);
  spec.mounts = spec.mounts.filter((m) => !(m.destination === "/" && m.type === "overlay"));
  const bundle = join(work, "bundle");
  const hello = await prepareSpec(IMAGES.hello);
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  cpSync((hello.layers[0] as { dir: string }).dir, join(bundle, "rootfs"), { recursive: true });
  const runcRoot = join(work, "runc-state");
  let n = 0;
  const runtime = () => {
    const cid = `bench-${process.pid}-${n++}`;
    spec.linux.cgroupsPath = `/osless-bench/${cid}`;
    writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
    return timed(runc, ["--root", runcRoot, "run", "--bundle", bundle, cid]);
  };

  // podman raises nofile and nproc to its defaults, which this host (no CAP_SYS_RESOURCE) refuses: ask for the
  // current open-files limit and at most 4096 processes (podman's conmon runs below the shell's nproc limit).
  const limits = readFileSync("/proc/self/limits", "utf8");
  const limit = (name: string) => {
    const m = new RegExp(`^${name}\\s+(\\S+)\\s+(\\S+)`, "m").exec(limits);
    if (!m) throw new Error(`no ${name} in /proc/self/limits`);
    return `${m[1] === "unlimited" ? -1 : m[1]}:${m[2] === "unlimited" ? -1 : m[2]}`;
  };
  const nofile = limit("Max open files");
  const nprocHard = limit("Max processes").split(":")[1]!;
  const nprocMax = nprocHard === "-1" ? 4096 : Math.min(4096, Number(nprocHard));
  const nproc = `${nprocMax}:${nprocMax}`;
  const podmanRoot = join(work, "podman");
  const pflags = [
    "--root",
    join(podmanRoot, "root"),
    "--runroot",
    join(podmanRoot, "run"),
    "--cgroup-manager=cgroupfs",
    "--events-backend=none",
    // The same runtime as osless (podman would pick crun, which cannot set this host's RLIMIT_NPROC).
    "--runtime",
    runc,
  ];
  must(podman, [...pflags, "load", "-q", "-i", await dockerArchive(IMAGES.hello, "localhost/hello:latest")]);
  const podmanRun = () =>
    timed(podman, [
      ...pflags,
      "run",
      "--rm",
      "--network=none",
      "--ulimit",
      `nofile=${nofile}`,
      "--ulimit",
      `nproc=${nproc}`,
      "localhost/hello:latest",
    ]);
  const osless = () => timed(process.execPath, [CLI, "run", "--rm", "hello"], env);
  // Node's own start, which any Node CLI pays before its first line runs.
  const nodeStart = () => timed(process.execPath, ["-e", "0"]);

  const times: Record<"osless" | "runtime" | "podman" | "node", number[]> = {
    osless: [],
    runtime: [],
    podman: [],
    node: [],
  };
  await osless();
  await runtime();
  await podmanRun();
  for (let i = 0; i < rounds; i++) {
    times.osless.push(await osless());
    times.runtime.push(await runtime());
    times.podman.push(await podmanRun());
    times.node.push(await nodeStart());
  }
  const o = median(times.osless);
  const r = median(times.runtime);
  const p = median(times.podman);
  const nd = median(times.node);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(`run: the static hello FROM scratch, ${rounds} rounds, median wall time`);
  console.log(
    `  ${"osless run --rm hello".padEnd(44)} ${o.toFixed(0).padStart(6)} ms   (${list(times.osless)})`,
  );
  console.log(
    `  ${"runc run (same config.json, plain rootfs)".padEnd(44)} ${r.toFixed(0).padStart(6)} ms   (${list(times.runtime)})`,
  );
  console.log(`  ${"podman run --rm".padEnd(44)} ${p.toFixed(0).padStart(6)} ms   (${list(times.podman)})`);
  console.log(
    `  ${"node -e 0 (Node's own start)".padEnd(44)} ${nd.toFixed(0).padStart(6)} ms   (${list(times.node)})`,
  );
  console.log(
    `  osless − runtime: ${(o - r).toFixed(0)} ms  (goal ≤ 60 ms; of it Node's own start ${nd.toFixed(0)} ms)`,
  );
  console.log(`  ratio osless/podman: ${(o / p).toFixed(2)}×  (goal ≤ 0.3×)`);
  console.log(`  machine: ${machine()}`);
  if (readdirSync(containers).some((x) => /^[0-9a-f]{64}$/.test(x))) {
    throw new Error("osless run --rm left a container behind");
  }
}
