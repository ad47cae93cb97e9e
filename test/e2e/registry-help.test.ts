// The help of the registry commands says what the commands do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { osless } from "./cli.ts";
import { newStore, ok } from "./registry-kit.ts";

test("login and logout help name $REGISTRY_AUTH_FILE, which they honour before $DOCKER_CONFIG", async () => {
  const root = await newStore();
  for (const cmd of ["login", "logout"]) {
    const help = (await ok(root, [cmd, "--help"])).stdout.replace(/\s+/g, " ");
    assert.match(help, /--authfile <path>.*\$REGISTRY_AUTH_FILE.*\$DOCKER_CONFIG/, `${cmd} --help:\n${help}`);
  }
});

test("copy help shows docker-archive:FILE:NAME for the source too", async () => {
  const help = (await ok(await newStore(), ["copy", "--help"])).stdout;
  const source = help.slice(help.indexOf("source"), help.indexOf("destination "));
  assert.match(source, /docker-archive:FILE\[:name\]/, help);
});

test("--platform with --all-platforms is a usage error (exit 2), as with podman", async () => {
  const root = await newStore();
  for (const cmd of [
    ["pull", "--platform", "linux/arm64", "--all-platforms", "127.0.0.1:1/x:1"],
    ["copy", "--platform", "linux/arm64", "-a", "docker://127.0.0.1:1/x:1", "y:1"],
  ]) {
    const r = await osless(root, cmd);
    assert.equal(r.code, 2, `${cmd.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--platform and --all-platforms cannot be used together/);
  }
});
