import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import {
  ALL_CAPABILITIES,
  capabilityMask,
  capabilityNumber,
  DEFAULT_CAPABILITIES,
  normalizeCapability,
  tweakCapabilities,
} from "./capabilities.ts";

test("capability numbers are the kernel's (capability.h)", () => {
  assert.equal(capabilityNumber("CAP_CHOWN"), 0);
  assert.equal(capabilityNumber("CAP_NET_BIND_SERVICE"), 10);
  assert.equal(capabilityNumber("CAP_SYS_ADMIN"), 21);
  assert.equal(capabilityNumber("CAP_MKNOD"), 27);
  assert.equal(capabilityNumber("CAP_AUDIT_WRITE"), 29);
  assert.equal(capabilityNumber("CAP_SETFCAP"), 31);
  assert.equal(capabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  assert.equal(ALL_CAPABILITIES.length, 41);
  assert.equal(capabilityNumber("CAP_NOPE"), undefined);
});

test("Docker's default set gives the CapEff mask 00000000a80425fb", () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.equal(capabilityMask(DEFAULT_CAPABILITIES), "00000000a80425fb");
  assert.equal(capabilityMask(tweakCapabilities()), "00000000a80425fb");
  // runc spec's three: AUDIT_WRITE, KILL, NET_BIND_SERVICE
  assert.equal(capabilityMask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]), "0000000020000420");
});

test("names are accepted with or without CAP_, in any case; ALL is special; unknown names are usage errors", () => {
  assert.equal(normalizeCapability("net_admin", "--cap-add"), "CAP_NET_ADMIN");
  assert.equal(normalizeCapability("Cap_Sys_Ptrace", "--cap-add"), "CAP_SYS_PTRACE");
  assert.equal(normalizeCapability("all", "--cap-drop"), "ALL");
  assert.throws(
    () => normalizeCapability("FLY", "--cap-add"),
    (e) => isOslessError(e, "E_USAGE") && /unknown capability: "CAP_FLY"/.test(e.message),
  );
});

// docker run behaviour, as moby's TweakCapabilities computes it
const table: { name: string; add?: string[]; drop?: string[]; mask: string }[] = [
  { name: "defaults", mask: "00000000a80425fb" },
  {
    name: "--cap-add NET_ADMIN",
    add: ["NET_ADMIN"],
    mask: (0xa80425fbn | (1n << 12n)).toString(16).padStart(16, "0"),
  },
  { name: "--cap-drop chown", drop: ["chown"], mask: (0xa80425fbn & ~1n).toString(16).padStart(16, "0") },
  { name: "--cap-drop ALL", drop: ["ALL"], mask: "0000000000000000" },
  {
    name: "--cap-drop ALL --cap-add NET_BIND_SERVICE",
    drop: ["ALL"],
    add: ["NET_BIND_SERVICE"],
    mask: "0000000000000400",
  },
  { name: "--cap-add ALL (kernel's last cap 40)", add: ["ALL"], mask: "000001ffffffffff" },
  {
    name: "--cap-add ALL --cap-drop SYS_ADMIN",
    add: ["ALL"],
    drop: ["SYS_ADMIN"],
    mask: ((1n << 41n) - 1n - (1n << 21n)).toString(16).padStart(16, "0"),
  },
  { name: "adding a default again changes nothing", add: ["CAP_KILL", "kill"], mask: "00000000a80425fb" },
];
for (const row of table) {
  test(`capabilities: ${row.name}`, () => {
    const caps = tweakCapabilities(row.add, row.drop, 40);
    assert.equal(capabilityMask(caps), row.mask);
    assert.equal(new Set(caps).size, caps.length, "no repeats");
  });
}

test("--cap-add ALL stops at the kernel's last capability", () => {
  const caps = tweakCapabilities(["ALL"], [], 37);
  assert.equal(caps.length, 38);
  assert.ok(!caps.includes("CAP_PERFMON"));
});
