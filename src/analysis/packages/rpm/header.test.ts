import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeRpmHeader, parseRpmHeader, parseSourceRpm, RPMTAG } from "./header.ts";
import { asOracleRow, prng, rpmFixture } from "./testkit.ts";

type Value = { type: 4; ints: number[] } | { type: 6; s: string } | { type: 8; list: string[] };

/** A header blob from entries, laid out as rpm does (INT32 aligned to 4); no region tag. */
function makeHeader(entries: [number, Value][]): Buffer {
  const data: Buffer[] = [];
  let len = 0;
  const index = Buffer.alloc(entries.length * 16);
  entries.forEach(([tag, v], i) => {
    if (v.type === 4 && len % 4) {
      data.push(Buffer.alloc(4 - (len % 4)));
      len += 4 - (len % 4);
    }
    let bytes: Buffer;
    let count: number;
    if (v.type === 4) {
      bytes = Buffer.alloc(v.ints.length * 4);
      for (const [j, n] of v.ints.entries()) bytes.writeInt32BE(n, j * 4);
      count = v.ints.length;
    } else if (v.type === 6) {
      bytes = Buffer.from(`${v.s}\0`);
      count = 1;
    } else {
      bytes = Buffer.from(v.list.map((s) => `${s}\0`).join(""));
      count = v.list.length;
    }
    index.writeInt32BE(tag, i * 16);
    index.writeUInt32BE(v.type, i * 16 + 4);
    index.writeInt32BE(len, i * 16 + 8);
    index.writeUInt32BE(count, i * 16 + 12);
    data.push(bytes);
    len += bytes.length;
  });
  const head = Buffer.alloc(8);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(len, 4);
  return Buffer.concat([head, index, ...data]);
}

const s = (v: string): Value => ({ type: 6, s: v });

describe("rpm header blobs", () => {
  it("every header rpm installed reads as rpm -qa prints it, files as rpm lists them", async () => {
    const fx = await rpmFixture();
    assert.equal(fx.blobs.length, fx.oracle.sqlite.length);
    assert.ok(fx.blobs.length >= 16, `${fx.blobs.length} packages in the fixture`);
    const rows = [];
    for (const blob of fx.blobs) {
      const r = parseRpmHeader(blob, "/x");
      assert.deepEqual(r.findings, []);
      assert.ok(r.package);
      assert.equal(r.package.type, "rpm");
      assert.deepEqual(r.package.files, fx.files.get(r.package.name) ?? []);
      rows.push(asOracleRow(r.package));
    }
    rows.sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(rows, fx.oracle.sqlite);
    // The fixture covers what the conventions are about.
    const byName = new Map(rows.map((r) => [r.name, r]));
    assert.equal(byName.get("hello-osless-extra")?.evr, "2:1.2.3-4.fc40");
    assert.equal(byName.get("zero-epoch")?.evr, "0:0.9~beta1-1");
    assert.equal(byName.get("plain")?.evr, "3-7.el9");
    assert.ok(fx.files.get("hello-osless")?.includes("/usr/share/hello-osless/docs/café notes.txt"));
  });

  it("gives the source package with the binary's epoch, and reads headers with their 8-byte magic", async () => {
    const fx = await rpmFixture();
    const extra = fx.blobs
      .map((b) => parseRpmHeader(b).package)
      .find((p) => p?.name === "hello-osless-extra");
    assert.deepEqual(extra?.source, { name: "hello-osless", version: "2:1.2.3-4.fc40" });
    assert.equal(extra?.license, "GPL-2.0-only");
    assert.equal(extra?.arch, "noarch");
    assert.deepEqual(extra?.files, []);
    const blob = fx.blobs[0] ?? Buffer.alloc(0);
    const withMagic = Buffer.concat([Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]), blob]);
    assert.deepEqual(parseRpmHeader(withMagic), parseRpmHeader(blob));
  });

  it("splits source rpm names", () => {
    assert.deepEqual(parseSourceRpm("hello-osless-1.2.3-4.fc40.src.rpm"), {
      name: "hello-osless",
      versionRelease: "1.2.3-4.fc40",
    });
    assert.deepEqual(parseSourceRpm("gcc11-11.2.1+git610-1.3.9.src.rpm"), {
      name: "gcc11",
      versionRelease: "11.2.1+git610-1.3.9",
    });
    assert.deepEqual(parseSourceRpm("kernel-6.1-2.nosrc.rpm"), { name: "kernel", versionRelease: "6.1-2" });
    assert.deepEqual(parseSourceRpm("odd-1.src.rpm"), { name: "odd-1", versionRelease: null });
    assert.deepEqual(parseSourceRpm("not-a-source"), { name: "not-a-source", versionRelease: null });
  });

  it("leaves out what a header does not have (a gpg-pubkey has no arch, source or licence)", () => {
    const r = parseRpmHeader(
      makeHeader([
        [RPMTAG.NAME, s("gpg-pubkey")],
        [RPMTAG.VERSION, s("fd431d51")],
        [RPMTAG.RELEASE, s("4ae0493b")],
      ]),
    );
    assert.deepEqual(r, {
      package: {
        type: "rpm",
        name: "gpg-pubkey",
        version: "fd431d51-4ae0493b",
        arch: null,
        source: null,
        license: null,
        files: [],
      },
      findings: [],
    });
    const none = parseRpmHeader(
      makeHeader([
        [RPMTAG.NAME, s("n")],
        [RPMTAG.VERSION, s("1")],
        [RPMTAG.RELEASE, s("1")],
        [RPMTAG.SOURCERPM, s("(none)")],
        [RPMTAG.OLDFILENAMES, { type: 8, list: ["/bin/a", "/bin/b"] }],
      ]),
    );
    assert.equal(none.package?.source, null);
    assert.deepEqual(none.package?.files, ["/bin/a", "/bin/b"]);
  });

  it("keeps the package but reports a bad optional tag, and drops a header without a name", () => {
    const badDirs = parseRpmHeader(
      makeHeader([
        [RPMTAG.NAME, s("n")],
        [RPMTAG.VERSION, s("1")],
        [RPMTAG.RELEASE, s("2")],
        [RPMTAG.EPOCH, { type: 4, ints: [3] }],
        [RPMTAG.DIRINDEXES, { type: 4, ints: [0, 5] }],
        [RPMTAG.BASENAMES, { type: 8, list: ["a", "b"] }],
        [RPMTAG.DIRNAMES, { type: 8, list: ["/usr/"] }],
        [RPMTAG.LICENSE, { type: 4, ints: [1] }],
      ]),
      "/db",
    );
    assert.equal(badDirs.package?.version, "3:1-2");
    assert.equal(badDirs.package?.files, undefined);
    assert.equal(badDirs.package?.license, null);
    assert.equal(badDirs.findings.length, 1);
    assert.equal(badDirs.findings[0]?.code, "RPM_HEADER_CORRUPT");
    assert.equal(badDirs.findings[0]?.path, "/db");
    assert.match(badDirs.findings[0]?.message ?? "", /LICENSE .*not a string.*DIRINDEXES\[1\] = 5/);

    const noName = parseRpmHeader(makeHeader([[RPMTAG.VERSION, s("1")]]));
    assert.equal(noName.package, undefined);
    assert.match(noName.findings[0]?.message ?? "", /lacks a readable NAME, RELEASE/);
  });

  it("reports every truncation of a real header, never throws", async () => {
    const fx = await rpmFixture();
    const blob = fx.blobs.find((b) => parseRpmHeader(b).package?.name === "hello-osless") ?? Buffer.alloc(0);
    for (let n = 0; n < blob.length; n++) {
      const r = parseRpmHeader(blob.subarray(0, n), "/t");
      assert.equal(r.package, undefined, `cut at ${n}`);
      assert.equal(r.findings.length, 1);
      assert.equal(r.findings[0]?.code, "RPM_HEADER_CORRUPT");
    }
    assert.match(parseRpmHeader(blob.subarray(0, 100)).findings[0]?.message ?? "", /truncated/);
  });

  it("rejects impossible counts and offsets", () => {
    const h = makeHeader([
      [RPMTAG.NAME, s("n")],
      [RPMTAG.VERSION, s("1")],
      [RPMTAG.RELEASE, s("1")],
    ]);
    const zero = Buffer.from(h);
    zero.writeUInt32BE(0, 0);
    assert.match(parseRpmHeader(zero).findings[0]?.message ?? "", /0 index entries/);
    const huge = Buffer.from(h);
    huge.writeUInt32BE(0x7fffffff, 4);
    assert.match(parseRpmHeader(huge).findings[0]?.message ?? "", /exceeds rpm's limit/);
    // NAME pointing past the data store: the entry is unusable, so there is no package.
    const far = Buffer.from(h);
    far.writeInt32BE(1 << 20, 8 + 8);
    assert.equal(parseRpmHeader(far).package, undefined);
    // A string without its NUL inside the data store.
    const unterminated = Buffer.from(h);
    unterminated[unterminated.length - 1] = 0x41;
    assert.match(parseRpmHeader(unterminated).findings[0]?.message ?? "", /RELEASE.*not NUL-terminated/);
    // A string array claiming more strings than bytes.
    const arr = makeHeader([
      [RPMTAG.NAME, s("n")],
      [RPMTAG.VERSION, s("1")],
      [RPMTAG.RELEASE, s("1")],
      [RPMTAG.OLDFILENAMES, { type: 8, list: ["/a"] }],
    ]);
    arr.writeUInt32BE(0xffffffff, 8 + 3 * 16 + 12);
    const r = parseRpmHeader(arr);
    assert.ok(r.package);
    assert.match(r.findings[0]?.message ?? "", /OLDFILENAMES.*claims 4294967295 strings/);
  });

  it("survives fuzzing: random byte changes to real headers give a package or findings, never a throw", async () => {
    const fx = await rpmFixture();
    const rand = prng(0x5eed);
    let packages = 0;
    let findings = 0;
    for (let round = 0; round < 3000; round++) {
      const base = fx.blobs[Math.floor(rand() * fx.blobs.length)] ?? Buffer.alloc(0);
      const b = Buffer.from(base);
      const edits = 1 + Math.floor(rand() * 8);
      for (let e = 0; e < edits; e++) {
        // Mostly the index (where offsets and counts live), sometimes the data.
        const span = rand() < 0.7 ? Math.min(b.length, 8 + 16 * 24) : b.length;
        b[Math.floor(rand() * span)] = Math.floor(rand() * 256);
      }
      const r = parseRpmHeader(b);
      assert.ok(r.package || r.findings.length > 0);
      if (r.package) {
        packages++;
        assert.equal(typeof r.package.name, "string");
        assert.ok(r.package.name.length > 0);
      }
      findings += r.findings.length;
      assert.ok(decodeRpmHeader(b));
    }
    // Both outcomes occur: the fuzzing reaches past the first check.
    assert.ok(packages > 100 && findings > 100, `${packages} packages, ${findings} findings`);
  });
});
