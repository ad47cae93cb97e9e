// Helpers shared by the pull/push/copy end-to-end tests: the osless CLI with exit-code checks and JSON parsing,
// skopeo as the peer, and readers of OCI layout directories (our stores are ones too).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestRegistry } from "../fixtures/registry.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";
import { type CliResult, osless } from "./cli.ts";

export const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** The registries whose log tails go into failure messages (set by the test file). */
const registries: TestRegistry[] = [];

/** Name `r` in failure messages from now on. */
export function explainWith(r: TestRegistry): void {
  registries.push(r);
}

export async function skopeo(args: string[]): Promise<string> {
  const t = await tmpdir("skopeo");
  const r = await run(needTool("skopeo", "skopeo"), ["--insecure-policy", "--tmpdir", t, ...args], {
    env: { TMPDIR: t },
  });
  return r.stdout;
}

/** skopeo's view of a registry image: the raw manifest bytes, their digest and the parsed manifest. */
export async function skopeoRaw(ref: string): Promise<{ digest: string; manifest: Record<string, unknown> }> {
  const raw = await skopeo(["inspect", "--tls-verify=false", "--raw", `docker://${ref}`]);
  return { digest: sha256(raw), manifest: JSON.parse(raw) as Record<string, unknown> };
}

/** A fresh, empty osless store (created by the CLI on first use). */
export async function newStore(): Promise<string> {
  return join(await tmpdir("pp-store"), "store");
}

export function explain(args: string[], r: CliResult): string {
  return `osless ${args.join(" ")} exited ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}${registries.map((g) => `\n--- registry ${g.host} log (tail) ---\n${g.logs().split("\n").slice(-15).join("\n")}`).join("")}`;
}

/** Run the CLI; it must exit 0. */
export async function ok(root: string, args: string[]): Promise<CliResult> {
  const r = await osless(root, args);
  assert.equal(r.code, 0, explain(args, r));
  return r;
}

/** Run the CLI with --json; it must exit 0 and print one JSON document. */
export async function okJson<T>(root: string, args: string[]): Promise<T> {
  const r = await ok(root, [...args, "--json"]);
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`osless ${args.join(" ")} --json printed no JSON: ${(e as Error).message}\n${r.stdout}`);
  }
}

/** Run the CLI; it must fail with `code`. */
export async function fails(root: string, args: string[], code: number): Promise<CliResult> {
  const r = await osless(root, args);
  assert.equal(r.code, code, explain(args, r));
  return r;
}

export interface LoadJson {
  images: { digest: string; id: string }[];
}
export interface PullJson {
  name: string;
  digest: string;
  manifest: string;
  id: string;
  platforms: string[];
  blobs: { digest: string; size: number; status: string }[];
  downloaded: number;
  upToDate: boolean;
}
export interface PushJson {
  name: string;
  digest: string;
  size: number;
  mediaType: string;
  blobs: { digest: string; size: number; status: string; mountedFrom?: string }[];
  uploaded: number;
}
export interface ImagesJson {
  name: string | null;
  id: string;
  digest: string;
  platforms: string[];
}

/** Load the OCI layout `layout` (ref latest) into `store` and name it `name`; the loaded digest and ID. */
export async function loadAs(
  store: string,
  layout: string,
  name: string,
): Promise<{ digest: string; id: string }> {
  const loaded = await okJson<LoadJson>(store, ["load", "-i", `oci:${layout}:latest`]);
  assert.equal(loaded.images.length, 1);
  const img = loaded.images[0]!;
  await ok(store, ["tag", img.id, name]);
  return img;
}

/** The manifest of `digest` in the OCI layout (or store) `dir`: its config and layer digests. */
export function manifestBlobs(dir: string, digest: string): { config: string; layers: string[] } {
  const m = JSON.parse(readFileSync(join(dir, "blobs", "sha256", digest.slice(7)), "utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  return { config: m.config.digest, layers: m.layers.map((l) => l.digest) };
}

/** Every blob file under `dir/blobs/sha256`, checked to hash to its name. */
export function blobSet(dir: string): Set<string> {
  const out = new Set<string>();
  for (const hex of readdirSync(join(dir, "blobs", "sha256"))) {
    const d = `sha256:${hex}`;
    assert.equal(
      sha256(readFileSync(join(dir, "blobs", "sha256", hex))),
      d,
      `${dir}: blob ${hex} is corrupt`,
    );
    out.add(d);
  }
  return out;
}

export async function assertClean(store: string): Promise<void> {
  const r = await okJson<{ problems: unknown[] }>(store, ["fsck"]);
  assert.deepEqual(r.problems, [], `fsck of ${store}`);
}
