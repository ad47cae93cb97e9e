/**
 * A separate process for rootfs.test.ts: prepares the snapshots of the given layer blobs, logging each blob it
 * opens (its index, one line) to LOG and the snapshots it got (JSON, one line) to LOG.out. Mode "slow" delays
 * every chunk (so that processes overlap); "hang" prints HALFWAY in the middle of the first blob and waits
 * there for ever (to be killed).
 *
 * Usage: node --import tsx rootfs-test-child.ts ROOT BLOBS_JSON LOG slow|hang
 */
import { appendFileSync, readFileSync } from "node:fs";
import { asDigest } from "../../src/digest/index.ts";
import type { LayerSource } from "../../src/layer/source.ts";
import { prepareSnapshots } from "../../src/runtime/rootfs.ts";

const [root, blobsJson, log, mode] = process.argv.slice(2) as [string, string, string, string];
const blobs = JSON.parse(blobsJson) as {
  file: string;
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const layers: LayerSource[] = blobs.map((b, index) => ({
  index,
  descriptor: { mediaType: b.mediaType, digest: asDigest(b.digest), size: b.size },
  diffId: asDigest(b.diffId),
  open: async function* () {
    appendFileSync(log, `${index}\n`);
    const data = readFileSync(b.file);
    const step = Math.max(1, Math.ceil(data.length / 8));
    for (let off = 0; off < data.length; off += step) {
      if (mode === "hang" && off >= data.length / 2) {
        process.stdout.write("HALFWAY\n");
        setInterval(() => {}, 1000); // keeps the process alive while it waits
        await new Promise(() => {});
      }
      if (mode === "slow") await sleep(20);
      yield data.subarray(off, off + step);
    }
  },
}));

const snaps = await prepareSnapshots(root, layers);
appendFileSync(`${log}.out`, `${JSON.stringify(snaps)}\n`);
