/**
 * Unpack an image's layers into a directory (R20): every layer is applied, in order, into a fresh private
 * directory beside `dest`, each read through `layerTar` so that its blob digest, size and DiffID are verified;
 * only when the last one has verified is the result renamed to `dest`. On any failure or abort the temporary
 * directory is removed and `dest` is left as it was.
 *
 * Layout while working: `<parent>/.<name>.osless-unpack-XXXXXX/` (mode 0700, from mkdtemp) holding `rootfs/`
 * (mode 0755, the extraction root). The 0700 wrapper keeps everyone else out of the tree while it is being
 * written (R22: nobody else may write where we resolve paths); the rootfs root itself can then have its final
 * mode from the start (0755 unless a layer's "." entry says otherwise) and be renamed into place as is.
 */
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { isErrno } from "../_internal/fs.ts";
import { OslessError } from "../errors.ts";
import { type EventSink, noEvents, reportProgress } from "../events/index.ts";
import { type ApplyOptions, type ApplyWarning, applyLayer, warningText } from "./apply.ts";
import { type ImageBudget, inLayer, type LayerSource, layerTar } from "./source.ts";

export interface UnpackOptions extends ApplyOptions {
  events?: EventSink | undefined;
}

export interface UnpackResult {
  layers: number;
  entries: number;
  bytes: number;
  warnings: number;
}

/**
 * R20: apply all layers in order into a fresh 0700 temp dir beside `dest` (same filesystem), each through
 * layerTar (digests verified), rename to `dest` once the last verifies; on any failure or abort remove the temp
 * dir and leave `dest` as before. `dest` must not exist (or be an empty directory, which is replaced) —
 * otherwise E_TARGET_EXISTS with a hint. The rootfs root dir mode ends up 0755 unless a layer's "." entry says
 * otherwise.
 */
export async function unpackLayers(
  layers: LayerSource[],
  dest: string,
  opts: UnpackOptions = {},
): Promise<UnpackResult> {
  const target = resolve(dest);
  await checkTarget(target);
  const events = opts.events ?? noEvents;
  const signal = opts.signal;
  signal?.throwIfAborted();
  let work: string;
  try {
    work = await mkdtemp(join(dirname(target), `.${basename(target)}.osless-unpack-`));
  } catch (e) {
    throw new OslessError(
      "E_IO",
      `cannot create a working directory beside ${target}: ${(e as Error).message}`,
      {
        hint: isErrno(e, "ENOENT")
          ? `create the parent directory ${dirname(target)} first`
          : "check the permissions and free space of the parent directory",
        cause: e,
        details: { path: target },
      },
    );
  }
  const result: UnpackResult = { layers: 0, entries: 0, bytes: 0, warnings: 0 };
  try {
    const rootfs = join(work, "rootfs");
    await mkdir(rootfs);
    await chmod(rootfs, 0o755);
    const budget: ImageBudget = { used: 0 };
    for (const [i, layer] of layers.entries()) {
      signal?.throwIfAborted();
      const id = layer.descriptor.digest;
      const label = `layer ${i + 1}/${layers.length}`;
      events({ type: "start", id, label, total: layer.descriptor.size });
      const onWarning = (w: ApplyWarning) => {
        opts.onWarning?.(w);
        events({ type: "note", level: "warn", text: `${label}: ${warningText(w)}` });
      };
      const counted: LayerSource = { ...layer, open: () => reportProgress(layer.open(), id, events) };
      let r: Awaited<ReturnType<typeof applyLayer>>;
      try {
        r = await applyLayer(layerTar(counted, { limits: opts.limits, budget, signal }), rootfs, {
          ...opts,
          onWarning,
        });
      } catch (e) {
        throw inLayer(e, layer);
      }
      events({ type: "end", id });
      result.layers++;
      result.entries += r.entries;
      result.bytes += r.bytes;
      result.warnings += r.warnings;
    }
    signal?.throwIfAborted();
    try {
      await rename(rootfs, target);
    } catch (e) {
      if (isErrno(e, "ENOTEMPTY") || isErrno(e, "EEXIST") || isErrno(e, "ENOTDIR") || isErrno(e, "EISDIR")) {
        throw targetExists(target, "appeared while the layers were being unpacked");
      }
      throw new OslessError("E_IO", `cannot move the unpacked tree to ${target}: ${(e as Error).message}`, {
        hint: "check the permissions of the target's parent directory",
        cause: e,
        details: { path: target },
      });
    }
  } catch (e) {
    await removeWorkDir(work);
    throw e;
  }
  await removeWorkDir(work);
  return result;
}

function targetExists(target: string, why: string): OslessError {
  return new OslessError("E_TARGET_EXISTS", `${target} ${why}`, {
    hint: "unpack into a new directory (or an empty one), or remove it first",
    details: { path: target },
  });
}

/** `dest` must not exist, or be an empty directory (not a symlink to one). */
async function checkTarget(target: string): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(target);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return;
    throw new OslessError("E_IO", `cannot check ${target}: ${(e as Error).message}`, {
      cause: e,
      details: { path: target },
    });
  }
  if (!st.isDirectory()) throw targetExists(target, `exists and is not a directory`);
  if ((await readdir(target)).length > 0) throw targetExists(target, "exists and is not empty");
}

/**
 * Remove the working directory whatever the tree holds: `rm` never follows symlinks; directories without
 * write or search permission (possible without privileges) are opened up first.
 */
async function removeWorkDir(work: string): Promise<void> {
  try {
    await rm(work, { recursive: true, force: true });
    return;
  } catch (e) {
    if (!isErrno(e, "EACCES") && !isErrno(e, "EPERM")) return;
  }
  try {
    await openUp(work);
    await rm(work, { recursive: true, force: true });
  } catch {
    // Best effort: the original error matters more than leftover debris in a 0700 directory.
  }
}

async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) await openUp(p);
  }
}
