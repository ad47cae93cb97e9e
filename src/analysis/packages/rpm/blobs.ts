// What every rpm database backend yields: header blobs keyed by the package's instance number, turned into
// packages here in one way for all of them.
import type { FindingList } from "../common.ts";
import type { CatalogResult, Package } from "../types.ts";
import { parseRpmHeader } from "./header.ts";

export interface HeaderBlob {
  /** rpm's instance number (sqlite hnum, NDB pkgidx, BDB key): the install order. */
  instance: number;
  blob: Buffer;
}

/** Packages of `blobs` in instance order, each at `location`; header findings name the instance. */
export function packagesFromBlobs(
  blobs: HeaderBlob[],
  location: string,
  findings: FindingList,
): CatalogResult {
  const packages: Package[] = [];
  for (const { instance, blob } of [...blobs].sort((a, b) => a.instance - b.instance)) {
    const r = parseRpmHeader(blob, location);
    for (const f of r.findings) findings.add(f.code, f.path, `package instance ${instance}: ${f.message}`);
    if (r.package) packages.push({ ...r.package, location });
  }
  return { packages, findings: findings.done() };
}
