/**
 * The main job, for now: make two real image archives from Debian packages (a FROM-scratch image holding one
 * static binary, and busybox), load them into a private osless store, and show what is inside.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerArchive, IMAGES } from "../test/fixtures/images.ts";

const root = process.env.OSLESS_ROOT ?? mkdtempSync(join(tmpdir(), "osless-demo-"));
const cli = new URL("../bin/osless.js", import.meta.url).pathname;
const osless = (...args: string[]) => {
  console.log(`\n$ osless ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, OSLESS_ROOT: root },
    stdio: "inherit",
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

console.log(
  "Building two image archives from Debian packages (gcc -static, busybox-static) with umoci + skopeo…",
);
const hello = await dockerArchive(IMAGES.hello, "hello:static");
const busybox = await dockerArchive(IMAGES.busybox, "busybox:static");
console.log(`store: ${root}`);
osless("load", "-i", hello);
osless("load", "-i", busybox);
osless("images");
osless("inspect", "hello:static");
osless("fsck");
osless("save", "-o", join(root, "..", `${root.split("/").pop()}-hello.tar`), "hello:static");
