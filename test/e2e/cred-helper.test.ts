// Credentials through a real docker-credential-* helper program, as Docker Desktop, pass or ecr-login set them
// up: `credHelpers` in DOCKER_CONFIG's config.json names the helper for the registry; pull and push use what the
// helper answers; `osless login` with `credsStore` stores into the helper and leaves config.json's auths empty.
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

let reg: TestRegistry;
let bin: string;
let calls: string;
let secrets: string;

before(async () => {
  reg = await startRegistry({ auth: "htpasswd" });
  const dir = await tmpdir("cred-helper-");
  bin = join(dir, "bin");
  calls = join(dir, "calls.log");
  secrets = join(dir, "secrets.json");
  await mkdir(bin);
  await writeFile(secrets, JSON.stringify({ [reg.host]: { Username: "testuser", Secret: "testpass" } }));
  // A helper speaking the docker-credential protocol: the action as argument, the server URL (or JSON) on stdin.
  const helper = `#!/usr/bin/env node
const fs = require("fs");
const action = process.argv[2];
const input = fs.readFileSync(0, "utf8").trim();
fs.appendFileSync(${JSON.stringify(calls)}, action + " " + (action === "store" ? JSON.parse(input).ServerURL : input) + "\\n");
const db = JSON.parse(fs.readFileSync(${JSON.stringify(secrets)}, "utf8"));
if (action === "get") {
  const e = db[input];
  if (!e) { process.stdout.write("credentials not found in native keychain\\n"); process.exit(1); }
  process.stdout.write(JSON.stringify({ ServerURL: input, ...e }));
} else if (action === "store") {
  const c = JSON.parse(input);
  db[c.ServerURL] = { Username: c.Username, Secret: c.Secret };
  fs.writeFileSync(${JSON.stringify(secrets)}, JSON.stringify(db));
} else if (action === "erase") {
  delete db[input];
  fs.writeFileSync(${JSON.stringify(secrets)}, JSON.stringify(db));
}
`;
  await writeFile(join(bin, "docker-credential-osless-e2e"), helper);
  await chmod(join(bin, "docker-credential-osless-e2e"), 0o755);
});

after(async () => {
  await reg?.stop();
});

async function dockerConfig(config: unknown): Promise<Record<string, string>> {
  const dir = await tmpdir("docker-config-");
  await writeFile(join(dir, "config.json"), JSON.stringify(config));
  return { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` };
}

test("credHelpers: push and pull with what the helper answers; without the helper entry the registry refuses", async () => {
  const env = await dockerConfig({ credHelpers: { [reg.host]: "osless-e2e" } });
  const root = join(await tmpdir("cred-store-"), "s");
  const load = await osless(root, ["load", "--json", "-i", `oci:${await ociLayout(IMAGES.hello)}:latest`], {
    env,
  });
  assert.equal(load.code, 0, load.stderr);
  const id = (JSON.parse(load.stdout) as { images: { id: string }[] }).images[0]?.id as string;
  const name = `${reg.host}/helper/hello:1`;
  assert.equal((await osless(root, ["tag", id, name], { env })).code, 0);
  const push = await osless(root, ["push", name], { env });
  assert.equal(push.code, 0, push.stderr);
  const pull = await osless(join(root, "..", "s2"), ["pull", "-q", name], { env });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(await readFile(calls, "utf8"), new RegExp(`^get ${reg.host.replace(/\./g, "\\.")}$`, "m"));
  const none = await dockerConfig({});
  const refused = await osless(join(root, "..", "s3"), ["pull", "-q", name], { env: none });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /authentication required/);
  assert.match(refused.stderr, new RegExp(`osless login ${reg.host.replace(/\./g, "\\.")}`));
});

test("login with credsStore stores into the helper (config.json keeps no secret); logout erases it", async () => {
  await writeFile(secrets, "{}");
  const env = await dockerConfig({ credsStore: "osless-e2e" });
  const root = join(await tmpdir("cred-login-"), "s");
  const login = await osless(root, ["login", reg.host, "-u", "testuser", "--password-stdin"], {
    env,
    input: Buffer.from("testpass\n"),
  });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  const stored = JSON.parse(await readFile(secrets, "utf8")) as Record<
    string,
    { Username: string; Secret: string }
  >;
  assert.deepEqual(stored[reg.host], { Username: "testuser", Secret: "testpass" });
  const config = await readFile(join(env.DOCKER_CONFIG as string, "config.json"), "utf8");
  assert.doesNotMatch(config, /testpass|dGVzdHVzZXI6dGVzdHBhc3M/);
  const bad = await osless(root, ["login", reg.host, "-u", "testuser", "--password-stdin"], {
    env,
    input: Buffer.from("wrong\n"),
  });
  assert.equal(bad.code, 1, "a wrong password is refused before anything is stored");
  assert.deepEqual((JSON.parse(await readFile(secrets, "utf8")) as Record<string, unknown>)[reg.host], {
    Username: "testuser",
    Secret: "testpass",
  });
  const logout = await osless(root, ["logout", reg.host], { env });
  assert.equal(logout.code, 0, logout.stderr);
  assert.equal((JSON.parse(await readFile(secrets, "utf8")) as Record<string, unknown>)[reg.host], undefined);
});
