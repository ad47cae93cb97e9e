import assert from "node:assert/strict";
import { test } from "node:test";
import type { Digest } from "../digest/index.ts";
import type { RawEntry } from "../layer/view.ts";
import { type DiveFileInfo, diveFileInfo, diveJson, goFileMode, oslessJson } from "./export.ts";
import type { ExplorerLayer, ExplorerModel, ImageMetrics } from "./types.ts";

const hex = (c: string) => c.repeat(64);
const sha = (c: string) => `sha256:${hex(c)}` as Digest;

// Go's os.FileMode values, as Go 1.19's archive/tar `Header.FileInfo().Mode()` gives them for these typeflags and
// header modes (uint32): the permission bits, plus ModeDir 1<<31, ModeSymlink 1<<27, ModeDevice 1<<26,
// ModeNamedPipe 1<<25, ModeSetuid 1<<23, ModeSetgid 1<<22, ModeCharDevice 1<<21, ModeSticky 1<<20.
const GO = {
  reg644: 420,
  reg4755: 8389101, // urwxr-xr-x
  reg7777: 13631999, // ugtrwxrwxrwx
  link755: 493, // hard links carry no type bit
  symlink777: 134218239, // Lrwxrwxrwx
  char666: 69206454, // Dcrw-rw-rw-
  block660: 67109296, // Drw-rw----
  dir755: 2147484141, // drwxr-xr-x
  dir2755: 2151678445, // dgrwxr-xr-x
  dir1777: 2148532735, // dtrwxrwxrwx
  fifo644: 33554852, // prw-r--r--
};

function entry(path: string, type: RawEntry["type"], mode: number, extra: Partial<RawEntry> = {}): RawEntry {
  return { path, type, size: 0, mode, uid: 0, gid: 0, ...extra };
}

const LAYER0: RawEntry[] = [
  entry(".", "directory", 0o755),
  entry("bin", "directory", 0o755),
  entry("bin/sh", "file", 0o755, { size: 100 }),
  entry("bin/ls", "hardlink", 0o755, { linkpath: "bin/sh" }),
  entry("bin/rsh", "symlink", 0o777, { linkpath: "sh" }),
  entry("etc", "directory", 0o755),
  entry("etc/passwd", "file", 0o644, { size: 50 }),
  entry("usr/bin/su", "file", 0o4755, { size: 30 }),
  entry("dev/null", "char", 0o666),
  entry("dev/sda", "block", 0o660, { gid: 6 }),
  entry("run/fifo", "fifo", 0o644),
  entry("tmp", "directory", 0o1777),
  entry("srv", "directory", 0o2755),
  entry("etc/passwd", "file", 0o644, { size: 60 }), // the same name again: the last entry wins
];
const LAYER1: RawEntry[] = [
  entry("etc", "directory", 0o755),
  entry("etc/.wh.passwd", "file", 0o644),
  entry("opt", "directory", 0o750),
  entry("opt/.wh..wh..opq", "file", 0o644),
  entry("var/.wh..wh..opq", "file", 0o644), // "var" is not in the layer: dive creates it empty, then drops the marker
  entry("etc/motd", "file", 0o600, { size: 10, uid: 1000, gid: 1000 }),
  entry("z\u{1F600}", "file", 0o644, { size: 1 }),
  entry("z\uFFFD", "file", 0o644, { size: 2 }),
];

function layer(index: number, over: Partial<ExplorerLayer>): ExplorerLayer {
  return {
    index,
    digest: sha(String(index + 1)),
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    compressedSize: 1000 + index,
    diffId: sha(String.fromCharCode(97 + index)),
    size: 0,
    entries: 0,
    command: "",
    createdBy: null,
    created: null,
    comment: null,
    added: 0,
    modified: 0,
    removed: 0,
    ...over,
  };
}

function metrics(
  over: { dive?: Partial<ImageMetrics["dive"]>; exact?: Partial<ImageMetrics["exact"]> } = {},
) {
  const m: ImageMetrics = {
    dive: {
      efficiency: 0.75,
      sizeBytes: 253,
      userSizeBytes: 13,
      wastedBytes: 110,
      userWastedPercent: 110 / 13,
      inefficient: [
        { file: "etc/passwd", count: 2, sizeBytes: 110 },
        { file: "/etc", count: 2, sizeBytes: 0 },
      ],
      ...over.dive,
    },
    exact: {
      efficiency: 0.5,
      totalBytes: 253,
      finalBytes: 143,
      wastedBytes: 110,
      baseLayers: 1,
      userBytes: 13,
      userWastedBytes: 60,
      userWastedPercent: 60 / 13,
      waste: [
        { path: "etc/passwd", bytes: 60, cause: "deleted", layer: 0, by: 1 },
        { path: "/etc/passwd", bytes: 50, cause: "overwritten", layer: 0, by: 0 },
      ],
      byCause: { overwritten: 50, deleted: 60, "metadata-only": 0 },
      ...over.exact,
    },
  };
  return m;
}

function model(m: ImageMetrics = metrics()): ExplorerModel {
  const raw = [LAYER0, LAYER1, []];
  return {
    image: {
      source: "oci:/tmp/img:latest",
      name: "example.com/app:1",
      digest: sha("d"),
      id: sha("c"),
      platform: "linux/amd64",
    },
    layers: [
      layer(0, {
        size: 240,
        entries: 14,
        command: "ADD file:abc in / ",
        createdBy: "/bin/sh -c #(nop) ADD file:abc in / ",
      }),
      layer(1, {
        size: 13,
        entries: 8,
        command: "apt-get update && echo <done> > /log",
        createdBy: "/bin/sh -c apt-get update && echo <done> > /log",
        created: "2024-01-02T03:04:05Z",
        comment: "buildkit",
        added: 5,
        modified: 1,
        removed: 1,
      }),
      layer(2, { mediaType: "application/vnd.oci.image.layer.v1.tar", command: "ENV A=1" }),
    ],
    metrics: m,
    tree() {
      throw new Error("not used");
    },
    readFile() {
      throw new Error("not used");
    },
    largest() {
      throw new Error("not used");
    },
    rawEntries(i: number) {
      const r = raw[i];
      if (r === undefined) throw new Error(`no layer ${i}`);
      return r;
    },
    changes(i: number) {
      return i === 1
        ? [
            { path: "etc/passwd", change: "modified" as const, type: "file" as const, size: 13 },
            { path: "var/log", change: "removed" as const, type: "directory" as const, size: 0 },
          ]
        : [];
    },
  };
}

const EMPTY: DiveFileInfo = {
  path: "",
  typeFlag: 0,
  linkName: "",
  size: 0,
  fileMode: 0,
  uid: 0,
  gid: 0,
  isDir: false,
};

function fi(
  path: string,
  typeFlag: number,
  fileMode: number,
  over: Partial<Omit<DiveFileInfo, "path" | "typeFlag" | "fileMode">> = {},
): DiveFileInfo {
  return {
    path,
    typeFlag,
    linkName: "",
    size: 0,
    fileMode,
    uid: 0,
    gid: 0,
    isDir: fileMode >= 2 ** 31,
    ...over,
  };
}

test("goFileMode gives Go's os.FileMode for every tar type", () => {
  assert.equal(goFileMode("file", 0o644), GO.reg644);
  assert.equal(goFileMode("file", 0o4755), GO.reg4755);
  assert.equal(goFileMode("file", 0o7777), GO.reg7777);
  assert.equal(goFileMode("hardlink", 0o755), GO.link755);
  assert.equal(goFileMode("symlink", 0o777), GO.symlink777);
  assert.equal(goFileMode("char", 0o666), GO.char666);
  assert.equal(goFileMode("block", 0o660), GO.block660);
  assert.equal(goFileMode("directory", 0o755), GO.dir755);
  assert.equal(goFileMode("directory", 0o2755), GO.dir2755);
  assert.equal(goFileMode("directory", 0o1777), GO.dir1777);
  assert.equal(goFileMode("fifo", 0o644), GO.fifo644);
  // Bit by bit, from Go's io/fs definitions.
  assert.equal(goFileMode("directory", 0), 2 ** 31);
  assert.equal(goFileMode("symlink", 0), 1 << 27);
  assert.equal(goFileMode("block", 0), 1 << 26);
  assert.equal(goFileMode("char", 0), (1 << 26) + (1 << 21));
  assert.equal(goFileMode("fifo", 0), 1 << 25);
  assert.equal(goFileMode("file", 0o4000), 1 << 23);
  assert.equal(goFileMode("file", 0o2000), 1 << 22);
  assert.equal(goFileMode("file", 0o1000), 1 << 20);
});

test("diveFileInfo: typeflag bytes, link names, isDir", () => {
  const types: [RawEntry["type"], number][] = [
    ["file", 48],
    ["hardlink", 49],
    ["symlink", 50],
    ["char", 51],
    ["block", 52],
    ["directory", 53],
    ["fifo", 54],
  ];
  for (const [type, flag] of types) {
    const info = diveFileInfo(entry("x", type, 0o755, { linkpath: type === "symlink" ? "y" : undefined }));
    assert.equal(info.typeFlag, flag, type);
    assert.equal(info.isDir, type === "directory", type);
    assert.equal(info.linkName, type === "symlink" ? "y" : "");
  }
});

test("diveJson: dive's fields, order, tree walk and Go's escaping", () => {
  const text = diveJson(model());
  const doc = JSON.parse(text);
  // JSON.parse again: deepEqual narrows its argument's type to the expected one.
  assert.deepEqual(JSON.parse(text), {
    layer: [
      {
        index: 0,
        id: hex("1"),
        digestId: sha("a"),
        sizeBytes: 240,
        command: "ADD file:abc in / ",
        fileList: [
          fi("bin/ls", 49, GO.link755, { linkName: "bin/sh" }),
          fi("bin/rsh", 50, GO.symlink777, { linkName: "sh" }),
          fi("bin/sh", 48, 0o755, { size: 100 }),
          fi("bin", 53, GO.dir755),
          fi("dev/null", 51, GO.char666),
          fi("dev/sda", 52, GO.block660, { gid: 6 }),
          EMPTY, // dev: not in the layer
          fi("etc/passwd", 48, GO.reg644, { size: 60 }),
          fi("etc", 53, GO.dir755),
          fi("run/fifo", 54, GO.fifo644),
          EMPTY, // run
          fi("srv", 53, GO.dir2755),
          fi("tmp", 53, GO.dir1777),
          fi("usr/bin/su", 48, GO.reg4755, { size: 30 }),
          EMPTY, // usr/bin
          EMPTY, // usr
        ],
      },
      {
        index: 1,
        id: hex("2"),
        digestId: sha("b"),
        sizeBytes: 13,
        command: "apt-get update && echo <done> > /log",
        fileList: [
          fi("etc/.wh.passwd", 48, GO.reg644),
          fi("etc/motd", 48, 0o600, { size: 10, uid: 1000, gid: 1000 }),
          fi("etc", 53, GO.dir755),
          fi("opt", 53, 2 ** 31 + 0o750),
          EMPTY, // var: created by the dropped opaque marker
          fi("z\uFFFD", 48, GO.reg644, { size: 2 }), // UTF-8 byte order: EF BF BD before F0 9F 98 80
          fi("z\u{1F600}", 48, GO.reg644, { size: 1 }),
        ],
      },
      { index: 2, id: hex("3"), digestId: sha("c"), sizeBytes: 0, command: "ENV A=1", fileList: [] },
    ],
    image: {
      sizeBytes: 253,
      inefficientBytes: 110,
      efficiencyScore: 0.75,
      fileReference: [
        { count: 2, sizeBytes: 110, file: "/etc/passwd" },
        { count: 2, sizeBytes: 0, file: "/etc" },
      ],
    },
  });
  // Declaration order (deepEqual ignores key order).
  assert.deepEqual(Object.keys(doc), ["layer", "image"]);
  assert.deepEqual(Object.keys(doc.layer[0]), [
    "index",
    "id",
    "digestId",
    "sizeBytes",
    "command",
    "fileList",
  ]);
  assert.deepEqual(Object.keys(doc.layer[0].fileList[0]), [
    "path",
    "typeFlag",
    "linkName",
    "size",
    "fileMode",
    "uid",
    "gid",
    "isDir",
  ]);
  assert.deepEqual(Object.keys(doc.image), [
    "sizeBytes",
    "inefficientBytes",
    "efficiencyScore",
    "fileReference",
  ]);
  assert.deepEqual(Object.keys(doc.image.fileReference[0]), ["count", "sizeBytes", "file"]);
  // json.MarshalIndent(v, "", "  "): two spaces, no trailing newline.
  assert.ok(
    text.startsWith(`{\n  "layer": [\n    {\n      "index": 0,\n      "id": "${hex("1")}",\n`),
    text.slice(0, 200),
  );
  assert.ok(text.endsWith("\n    ]\n  }\n}"), text.slice(-50));
  // Go's HTML-safe escaping of <, > and &.
  assert.ok(
    text.includes('"command": "apt-get update \\u0026\\u0026 echo \\u003cdone\\u003e \\u003e /log"'),
    "Go escapes",
  );
  assert.ok(!/[<>&]/.test(text));
});

test("diveJson writes null where dive's Go encoder would fail on NaN", () => {
  const text = diveJson(model(metrics({ dive: { efficiency: Number.NaN } })));
  assert.equal(JSON.parse(text).image.efficiencyScore, null);
  assert.ok(text.includes('"efficiencyScore": null,'));
  const inf = diveJson(model(metrics({ dive: { efficiency: Number.POSITIVE_INFINITY } })));
  assert.equal(JSON.parse(inf).image.efficiencyScore, null);
});

test("oslessJson: image, every layer field, both metric sets and the exact waste", () => {
  const text = oslessJson(model());
  const doc = JSON.parse(text);
  // JSON.parse again: deepEqual narrows its argument's type to the expected one.
  assert.deepEqual(JSON.parse(text), {
    schema: "osless.explore/v1",
    image: {
      source: "oci:/tmp/img:latest",
      name: "example.com/app:1",
      digest: sha("d"),
      id: sha("c"),
      platform: "linux/amd64",
    },
    layers: [
      {
        index: 0,
        digest: sha("1"),
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        compressedSize: 1000,
        diffId: sha("a"),
        size: 240,
        entries: 14,
        command: "ADD file:abc in / ",
        createdBy: "/bin/sh -c #(nop) ADD file:abc in / ",
        created: null,
        comment: null,
        added: 0,
        modified: 0,
        removed: 0,
        changes: [],
      },
      {
        index: 1,
        digest: sha("2"),
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        compressedSize: 1001,
        diffId: sha("b"),
        size: 13,
        entries: 8,
        command: "apt-get update && echo <done> > /log",
        createdBy: "/bin/sh -c apt-get update && echo <done> > /log",
        created: "2024-01-02T03:04:05Z",
        comment: "buildkit",
        added: 5,
        modified: 1,
        removed: 1,
        changes: [
          { path: "etc/passwd", change: "modified", type: "file", size: 13 },
          { path: "var/log", change: "removed", type: "directory", size: 0 },
        ],
      },
      {
        index: 2,
        digest: sha("3"),
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        compressedSize: 1002,
        diffId: sha("c"),
        size: 0,
        entries: 0,
        command: "ENV A=1",
        createdBy: null,
        created: null,
        comment: null,
        added: 0,
        modified: 0,
        removed: 0,
        changes: [],
      },
    ],
    metrics: {
      dive: {
        efficiency: 0.75,
        sizeBytes: 253,
        userSizeBytes: 13,
        wastedBytes: 110,
        userWastedPercent: 110 / 13,
        inefficient: [
          { file: "etc/passwd", count: 2, sizeBytes: 110 },
          { file: "etc", count: 2, sizeBytes: 0 },
        ],
      },
      exact: {
        efficiency: 0.5,
        totalBytes: 253,
        finalBytes: 143,
        wastedBytes: 110,
        baseLayers: 1,
        userBytes: 13,
        userWastedBytes: 60,
        userWastedPercent: 60 / 13,
        byCause: { overwritten: 50, deleted: 60, "metadata-only": 0 },
        waste: [
          { path: "etc/passwd", bytes: 60, cause: "deleted", layer: 0, by: 1 },
          { path: "etc/passwd", bytes: 50, cause: "overwritten", layer: 0, by: 0 },
        ],
      },
    },
  });
  assert.deepEqual(Object.keys(doc), ["schema", "image", "layers", "metrics"]);
  assert.deepEqual(Object.keys(doc.layers[0]), [
    "index",
    "digest",
    "mediaType",
    "compressedSize",
    "diffId",
    "size",
    "entries",
    "command",
    "createdBy",
    "created",
    "comment",
    "added",
    "modified",
    "removed",
    "changes",
  ]);
  assert.deepEqual(Object.keys(doc.metrics), ["dive", "exact"]);
  assert.deepEqual(Object.keys(doc.metrics.exact), [
    "efficiency",
    "totalBytes",
    "finalBytes",
    "wastedBytes",
    "baseLayers",
    "userBytes",
    "userWastedBytes",
    "userWastedPercent",
    "byCause",
    "waste",
  ]);
  assert.ok(text.startsWith('{\n  "schema": "osless.explore/v1",\n  "image": {\n    "source"'));
  assert.ok(!text.endsWith("\n"));
});

test("oslessJson writes null for dive's NaN/Infinity ratios and for a null exact ratio", () => {
  const inf = JSON.parse(
    oslessJson(
      model(
        metrics({
          dive: { userWastedPercent: Number.POSITIVE_INFINITY },
          exact: { userWastedPercent: null },
        }),
      ),
    ),
  );
  assert.equal(inf.metrics.dive.userWastedPercent, null);
  assert.equal(inf.metrics.exact.userWastedPercent, null);
  const nan = JSON.parse(
    oslessJson(model(metrics({ dive: { userWastedPercent: Number.NaN, efficiency: Number.NaN } }))),
  );
  assert.equal(nan.metrics.dive.userWastedPercent, null);
  assert.equal(nan.metrics.dive.efficiency, null);
  assert.equal(nan.metrics.exact.efficiency, 0.5);
});
