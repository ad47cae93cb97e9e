import assert from "node:assert/strict";
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { convertToHostname, decodeAuth } from "./config.ts";
import { runCredentialHelper } from "./helper.ts";
import {
  authFilePath,
  credentialKey,
  lookupCredentials,
  parseCreds,
  removeCredentials,
  storeCredentials,
} from "./index.ts";

const HUB = "https://index.docker.io/v1/";

let root: string;
let bin: string;
let counter = 0;

/**
 * A real credential helper: a shell script that runs a small node program keeping secrets in the JSON file
 * $OSLTEST_STORE ({ServerURL: {Username, Secret}}) and logging each call (action and stdin) to $OSLTEST_LOG.
 * $OSLTEST_FAIL makes it fail like a locked keyring.
 */
const HELPER_JS = `
const fs = require("node:fs");
const action = process.argv[2];
const input = fs.readFileSync(0, "utf8");
const store = process.env.OSLTEST_STORE;
if (process.env.OSLTEST_LOG) fs.appendFileSync(process.env.OSLTEST_LOG, JSON.stringify({ action, input }) + "\\n");
if (process.env.OSLTEST_FAIL) {
  process.stderr.write("osltest: the keyring is locked\\n");
  process.exit(1);
}
const db = fs.existsSync(store) ? JSON.parse(fs.readFileSync(store, "utf8")) : {};
const notFound = () => {
  process.stdout.write("credentials not found in native keychain\\n");
  process.exit(1);
};
if (action === "get") {
  const e = db[input];
  if (!e) notFound();
  process.stdout.write(JSON.stringify({ ServerURL: input, Username: e.Username, Secret: e.Secret }));
} else if (action === "store") {
  const c = JSON.parse(input);
  db[c.ServerURL] = { Username: c.Username, Secret: c.Secret };
  fs.writeFileSync(store, JSON.stringify(db));
} else if (action === "erase") {
  if (!db[input]) notFound();
  delete db[input];
  fs.writeFileSync(store, JSON.stringify(db));
} else {
  process.stdout.write("unknown action\\n");
  process.exit(1);
}
`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "osless-auth-"));
  bin = join(root, "bin");
  await mkdir(bin);
  await writeFile(join(root, "helper.cjs"), HELPER_JS);
  const script = `#!/bin/sh\nexec '${process.execPath}' '${join(root, "helper.cjs")}' "$@"\n`;
  await writeFile(join(bin, "docker-credential-osltest"), script, { mode: 0o755 });
  // Holds its stdout open from a grandchild, like an agent started by a helper.
  await writeFile(join(bin, "docker-credential-oslslow"), "#!/bin/sh\nsleep 3\n", { mode: 0o755 });
  await writeFile(join(bin, "docker-credential-oslgarbage"), "#!/bin/sh\necho 'Secret: hunter2 {'\n", {
    mode: 0o755,
  });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Sandbox {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** The default file: $HOME/.docker/config.json. */
  config: string;
  store: string;
  log: string;
  helperStore(): Promise<Record<string, { Username: string; Secret: string }>>;
  calls(): Promise<{ action: string; input: string }[]>;
}

/** A fresh HOME and helper store; env holds nothing from the real environment but a PATH with our helpers. */
async function sandbox(extra: NodeJS.ProcessEnv = {}): Promise<Sandbox> {
  const dir = join(root, `case-${++counter}`);
  const home = join(dir, "home");
  await mkdir(home, { recursive: true });
  const store = join(dir, "helper-store.json");
  const log = join(dir, "helper-log.jsonl");
  return {
    dir,
    home,
    config: join(home, ".docker", "config.json"),
    store,
    log,
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, OSLTEST_STORE: store, OSLTEST_LOG: log, ...extra },
    helperStore: async () => JSON.parse(await readFile(store, "utf8").catch(() => "{}")),
    calls: async () =>
      (await readFile(log, "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l)),
  };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  check?: (e: Error & { hint?: string }) => void,
) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isOslessError(e), `expected an OslessError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    check?.(e as Error & { hint?: string });
    return true;
  });
}

test("credentialKey maps every Docker Hub name to the index server and keeps other domains as written", () => {
  for (const d of [
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "Docker.IO",
    HUB,
    "https://docker.io",
  ]) {
    assert.equal(credentialKey(d), HUB, d);
  }
  assert.equal(credentialKey("localhost:5000"), "localhost:5000");
  assert.equal(credentialKey("127.0.0.1:5000"), "127.0.0.1:5000");
  assert.equal(credentialKey("ghcr.io"), "ghcr.io");
  assert.equal(credentialKey("https://ghcr.io/v2/"), "ghcr.io");
  assert.equal(credentialKey("[::1]:5000"), "[::1]:5000");
  assert.throws(
    () => credentialKey(""),
    (e: unknown) => isOslessError(e, "E_USAGE"),
  );
  assert.throws(
    () => credentialKey("https:///x"),
    (e: unknown) => isOslessError(e, "E_USAGE"),
  );
});

test("convertToHostname drops the scheme and the path like Docker's ConvertToHostname", () => {
  assert.equal(convertToHostname(HUB), "index.docker.io");
  assert.equal(convertToHostname("http://localhost:5000/v2/"), "localhost:5000");
  assert.equal(convertToHostname("ghcr.io/v2"), "ghcr.io");
  assert.equal(convertToHostname("ghcr.io"), "ghcr.io");
});

test("decodeAuth splits at the first colon and refuses what Docker refuses", () => {
  assert.deepEqual(decodeAuth(b64("u:p:a:ss")), { username: "u", password: "p:a:ss" });
  assert.deepEqual(decodeAuth(b64("u:")), { username: "u", password: "" });
  assert.deepEqual(decodeAuth(b64("u:pw\0\0")), { username: "u", password: "pw" });
  assert.equal(decodeAuth(b64("nocolon")), undefined);
  assert.equal(decodeAuth(b64(":pw")), undefined);
  assert.equal(decodeAuth("not base64!"), undefined);
  assert.deepEqual(decodeAuth("dTpw"), { username: "u", password: "p" });
  assert.equal(decodeAuth("dTpwdw"), undefined, "missing padding");
});

test("parseCreds splits at the first colon and never echoes the input", () => {
  assert.deepEqual(parseCreds("alice:pa:ss:word"), { username: "alice", password: "pa:ss:word" });
  assert.deepEqual(parseCreds("alice:"), { username: "alice", password: "" });
  for (const bad of ["", "s3cretWithoutColon", ":s3cret"]) {
    assert.throws(
      () => parseCreds(bad),
      (e: unknown) => {
        assert.ok(isOslessError(e, "E_USAGE"));
        assert.ok(!bad || !e.message.includes(bad), e.message);
        assert.ok(!e.message.includes("s3cret"), e.message);
        return true;
      },
    );
  }
});

test("auth file precedence: --authfile, REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json", async () => {
  const s = await sandbox();
  const files = {
    explicit: join(s.dir, "explicit.json"),
    registryAuthFile: join(s.dir, "containers", "auth.json"),
    dockerConfig: join(s.dir, "dc", "config.json"),
    home: s.config,
  };
  for (const [name, path] of Object.entries(files)) {
    await writeJson(path, { auths: { "ghcr.io": { auth: b64(`${name}:pw`) } } });
  }
  const full = { ...s.env, REGISTRY_AUTH_FILE: files.registryAuthFile, DOCKER_CONFIG: join(s.dir, "dc") };
  const user = async (opts: Parameters<typeof lookupCredentials>[1]) =>
    (await lookupCredentials("ghcr.io", opts))?.username;

  assert.equal(await user({ authFile: files.explicit, env: full }), "explicit");
  assert.equal(await user({ env: full }), "registryAuthFile");
  assert.equal(await user({ env: { ...full, REGISTRY_AUTH_FILE: "" } }), "dockerConfig");
  assert.equal(await user({ env: { ...s.env, DOCKER_CONFIG: join(s.dir, "dc") } }), "dockerConfig");
  assert.equal(await user({ env: s.env }), "home");
  assert.equal(authFilePath({ env: s.env }), s.config);
  assert.equal(authFilePath({ env: full }), files.registryAuthFile);

  const cred = await lookupCredentials("ghcr.io", { env: s.env });
  assert.equal(cred?.source, s.config);
  // A configured location without a file means anonymous: no fallback to the next one.
  assert.equal(await user({ env: { ...s.env, DOCKER_CONFIG: join(s.dir, "nowhere") } }), undefined);
  assert.equal(await user({ authFile: join(s.dir, "missing.json"), env: full }), undefined);
});

test("a missing or empty file is anonymous", async () => {
  const s = await sandbox();
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
  await writeJson(s.config, "  \n");
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
  await writeJson(s.config, { auths: { "quay.io": { auth: b64("q:q") } } });
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
});

test("Docker Hub entries are found under any of their keys and the canonical key wins", async () => {
  const s = await sandbox();
  for (const key of [
    HUB,
    "index.docker.io",
    "docker.io",
    "registry-1.docker.io",
    "https://index.docker.io/v2/",
  ]) {
    await writeJson(s.config, {
      auths: { "ghcr.io": { auth: b64("other:x") }, [key]: { auth: b64(`hub:${key}`) } },
    });
    for (const domain of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
      const cred = await lookupCredentials(domain, { env: s.env });
      assert.deepEqual(
        cred,
        { username: "hub", password: key, identityToken: undefined, source: s.config },
        `${key} for ${domain}`,
      );
    }
  }
  await writeJson(s.config, {
    auths: { "docker.io": { auth: b64("legacy:1") }, [HUB]: { auth: b64("canonical:2") } },
  });
  assert.equal((await lookupCredentials("docker.io", { env: s.env }))?.username, "canonical");
  // Docker's placeholder next to a credential store holds nothing and does not hide a real entry.
  await writeJson(s.config, { auths: { [HUB]: {}, "docker.io": { auth: b64("real:1") } } });
  assert.equal((await lookupCredentials("docker.io", { env: s.env }))?.username, "real");
});

test("other registries match their exact key or any URL naming the same host", async () => {
  const s = await sandbox();
  await writeJson(s.config, {
    auths: {
      "http://localhost:5000": { auth: b64("local:pw") },
      "https://ghcr.io/v2/": { auth: b64("gh:pw") },
      "127.0.0.1:5000": { auth: b64("loop:pw") },
      "ghcr.io.evil.example": { auth: b64("evil:pw") },
    },
  });
  assert.equal((await lookupCredentials("localhost:5000", { env: s.env }))?.username, "local");
  assert.equal((await lookupCredentials("ghcr.io", { env: s.env }))?.username, "gh");
  assert.equal((await lookupCredentials("127.0.0.1:5000", { env: s.env }))?.username, "loop");
  assert.equal(await lookupCredentials("127.0.0.1:5001", { env: s.env }), undefined);
  assert.equal(await lookupCredentials("localhost", { env: s.env }), undefined);
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
});

test("auth with ':' in the password, separate username/password fields and identitytoken", async () => {
  const s = await sandbox();
  await writeJson(s.config, {
    auths: {
      "a.example": { auth: b64("alice:pa:ss:w0rd") },
      "b.example": { username: "bob", password: "b:pw" },
      "c.example": { auth: b64("carol:ignored"), identitytoken: "refresh-123" },
      "d.example": { auth: b64("dave:new"), username: "old", password: "old" },
    },
  });
  const get = (d: string) => lookupCredentials(d, { env: s.env });
  assert.deepEqual(await get("a.example"), {
    username: "alice",
    password: "pa:ss:w0rd",
    identityToken: undefined,
    source: s.config,
  });
  assert.deepEqual(await get("b.example"), {
    username: "bob",
    password: "b:pw",
    identityToken: undefined,
    source: s.config,
  });
  assert.equal((await get("c.example"))?.identityToken, "refresh-123");
  assert.equal((await get("c.example"))?.username, "carol");
  assert.deepEqual(await get("d.example"), {
    username: "dave",
    password: "new",
    identityToken: undefined,
    source: s.config,
  });
});

test("a file that is not JSON names the file and its position, never the content", async () => {
  const s = await sandbox();
  await writeJson(s.config, `{"auths": {"ghcr.io": {"auth": "c2VjcmV0:"}}\n  hunter2 }`);
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) => {
    assert.ok(e.message.includes(s.config), e.message);
    assert.match(e.message, /line 2/);
    assert.ok(!e.message.includes("hunter2") && !e.message.includes("c2VjcmV0"), e.message);
    assert.ok(e.hint?.includes(s.config));
  });
  await writeJson(s.config, "[]");
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) =>
    assert.match(e.message, /top level is not a JSON object/),
  );
  await writeJson(s.config, { auths: ["ghcr.io"] });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) =>
    assert.match(e.message, /"auths" is not an object/),
  );
});

test("a malformed auth entry names the file and the key, not the value", async () => {
  const s = await sandbox();
  for (const auth of ["!!not-base64!!", b64("userwithoutcolon"), b64(":onlypassword"), 42]) {
    await writeJson(s.config, { auths: { "ghcr.io": { auth }, "quay.io": { auth: b64("q:fine") } } });
    await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) => {
      assert.ok(e.message.includes(s.config), e.message);
      assert.ok(e.message.includes('"ghcr.io"'), e.message);
      assert.ok(!e.message.includes(String(auth)), e.message);
      assert.ok(!e.message.includes("onlypassword") && !e.message.includes("userwithoutcolon"));
    });
    // Only the entry that is used is decoded: other registries still work.
    assert.equal((await lookupCredentials("quay.io", { env: s.env }))?.password, "fine");
  }
});

test("lookup order: credHelpers[key] beats credsStore beats auths", async () => {
  const s = await sandbox();
  await writeFile(
    s.store,
    JSON.stringify({
      "ghcr.io": { Username: "from-helper", Secret: "h" },
      "quay.io": { Username: "from-store", Secret: "s" },
      [HUB]: { Username: "hub-helper", Secret: "hs" },
    }),
  );
  await writeJson(s.config, {
    credHelpers: { "ghcr.io": "osltest", "plain.example": "" },
    auths: {
      "ghcr.io": { auth: b64("from-file:f") },
      "quay.io": { auth: b64("from-file:f") },
      "plain.example": { auth: b64("plain:p") },
    },
  });
  // credHelpers beats auths.
  assert.deepEqual(await lookupCredentials("ghcr.io", { env: s.env }), {
    username: "from-helper",
    password: "h",
    source: "docker-credential-osltest",
  });
  // No helper for quay.io: auths.
  assert.equal((await lookupCredentials("quay.io", { env: s.env }))?.username, "from-file");

  await writeJson(s.config, {
    credsStore: "oslmissing",
    credHelpers: { "ghcr.io": "osltest", "plain.example": "" },
    auths: { "quay.io": { auth: b64("from-file:f") }, "plain.example": { auth: b64("plain:p") } },
  });
  // credHelpers beats credsStore (which is not even installed).
  assert.equal((await lookupCredentials("ghcr.io", { env: s.env }))?.username, "from-helper");
  // An empty credHelpers entry means the file, whatever credsStore says.
  assert.equal((await lookupCredentials("plain.example", { env: s.env }))?.username, "plain");

  await writeJson(s.config, { credsStore: "osltest", auths: { "quay.io": { auth: b64("from-file:f") } } });
  // credsStore beats auths.
  assert.equal((await lookupCredentials("quay.io", { env: s.env }))?.username, "from-store");
  assert.equal((await lookupCredentials("docker.io", { env: s.env }))?.username, "hub-helper");
  // The helper is asked with the key: the index server URL for Hub, the domain as written otherwise.
  const gets = (await s.calls()).filter((c) => c.action === "get").map((c) => c.input);
  assert.deepEqual(gets.slice(-2), ["quay.io", HUB]);
  assert.ok(gets.every((g) => g === "ghcr.io" || g === "quay.io" || g === HUB));
});

test("credHelpers keys naming the same host (Hub aliases) are honoured", async () => {
  const s = await sandbox();
  await writeFile(s.store, JSON.stringify({ [HUB]: { Username: "hub", Secret: "x" } }));
  await writeJson(s.config, { credHelpers: { "docker.io": "osltest" } });
  assert.equal((await lookupCredentials("registry-1.docker.io", { env: s.env }))?.username, "hub");
});

test('a helper answering Username "<token>" gives an identity token', async () => {
  const s = await sandbox();
  await writeFile(s.store, JSON.stringify({ "ghcr.io": { Username: "<token>", Secret: "refresh-abc" } }));
  await writeJson(s.config, { credsStore: "osltest" });
  assert.deepEqual(await lookupCredentials("ghcr.io", { env: s.env }), {
    identityToken: "refresh-abc",
    source: "docker-credential-osltest",
  });
});

test("a helper without an entry means anonymous, without falling back to auths (like Docker)", async () => {
  const s = await sandbox();
  await writeJson(s.config, { credsStore: "osltest", auths: { "ghcr.io": { auth: b64("stale:pw") } } });
  assert.equal(await lookupCredentials("ghcr.io", { env: s.env }), undefined);
  assert.deepEqual(await s.calls(), [{ action: "get", input: "ghcr.io" }]);
});

test("a helper that is not installed is E_NOT_FOUND naming the program", async () => {
  const s = await sandbox();
  await writeJson(s.config, { credsStore: "oslmissing" });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_NOT_FOUND", (e) => {
    assert.ok(e.message.includes("docker-credential-oslmissing"), e.message);
    assert.ok(e.message.includes(s.config), e.message);
    assert.ok(e.hint?.includes("docker-credential-oslmissing"), e.hint);
  });
  await rejectsWith(
    storeCredentials("ghcr.io", { username: "u", password: "p" }, { env: s.env }),
    "E_NOT_FOUND",
  );
});

test("the helper is looked up on opts.env.PATH, not on the process PATH", async () => {
  const s = await sandbox();
  await writeFile(s.store, JSON.stringify({ "ghcr.io": { Username: "u", Secret: "p" } }));
  await writeJson(s.config, { credsStore: "osltest" });
  assert.equal((await lookupCredentials("ghcr.io", { env: s.env }))?.username, "u");
  await rejectsWith(
    lookupCredentials("ghcr.io", { env: { ...s.env, PATH: "/usr/bin:/bin" } }),
    "E_NOT_FOUND",
  );
});

test("a failing helper reports its stderr, never the secret", async () => {
  const s = await sandbox({ OSLTEST_FAIL: "1" });
  await writeJson(s.config, { credsStore: "osltest" });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_IO", (e) => {
    assert.match(
      e.message,
      /docker-credential-osltest get exited with status 1: osltest: the keyring is locked/,
    );
  });
  await rejectsWith(
    storeCredentials("ghcr.io", { username: "u", password: "TopSecret99" }, { env: s.env }),
    "E_IO",
    (e) => {
      assert.match(e.message, /store exited with status 1/);
      assert.ok(!e.message.includes("TopSecret99") && !e.hint?.includes("TopSecret99"));
    },
  );
});

test("a helper answering garbage is an error that does not quote the answer", async () => {
  const s = await sandbox();
  await writeJson(s.config, { credHelpers: { "ghcr.io": "oslgarbage" } });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) => {
    assert.ok(e.message.includes("docker-credential-oslgarbage"));
    assert.ok(!e.message.includes("hunter2"), e.message);
  });
});

test("helper names that are paths are refused before anything runs", async () => {
  const s = await sandbox();
  await writeJson(s.config, { credsStore: "../../bin/sh" });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID", (e) =>
    assert.ok(e.message.includes("credsStore"), e.message),
  );
});

test("a helper that does not answer is killed after the timeout even if a grandchild holds its output", async () => {
  const s = await sandbox();
  const start = Date.now();
  await rejectsWith(
    runCredentialHelper("oslslow", "get", "ghcr.io", { env: s.env, timeoutMs: 200 }),
    "E_IO",
    (e) => assert.match(e.message, /did not answer within 0.2 s/),
  );
  assert.ok(Date.now() - start < 2500, `took ${Date.now() - start} ms`);
});

test("store and erase through a credential helper leave the config file alone", async () => {
  const s = await sandbox();
  const original = JSON.stringify({ credsStore: "osltest", psFormat: "table {{.ID}}" }, null, 2);
  await writeJson(s.config, original);
  const where = await storeCredentials("docker.io", { username: "alice", password: "p:w" }, { env: s.env });
  assert.equal(where, "docker-credential-osltest");
  assert.deepEqual(await s.helperStore(), { [HUB]: { Username: "alice", Secret: "p:w" } });
  assert.equal(await readFile(s.config, "utf8"), original);
  assert.deepEqual(await lookupCredentials("index.docker.io", { env: s.env }), {
    username: "alice",
    password: "p:w",
    source: "docker-credential-osltest",
  });

  assert.equal(await removeCredentials("docker.io", { env: s.env }), true);
  assert.deepEqual(await s.helperStore(), {});
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
  assert.equal(await removeCredentials("docker.io", { env: s.env }), false);
  assert.equal(await readFile(s.config, "utf8"), original);
  assert.deepEqual(
    (await s.calls()).map((c) => [c.action, c.action === "store" ? JSON.parse(c.input).ServerURL : c.input]),
    [
      ["store", HUB],
      ["get", HUB],
      ["erase", HUB],
      ["get", HUB],
      ["erase", HUB],
    ],
  );
});

test("logout with a helper also removes a stale plaintext entry for the registry", async () => {
  const s = await sandbox();
  await writeJson(s.config, {
    credsStore: "osltest",
    auths: { "ghcr.io": { auth: b64("stale:pw") }, "quay.io": { auth: b64("q:q") } },
  });
  assert.equal(await removeCredentials("ghcr.io", { env: s.env }), true);
  const after = JSON.parse(await readFile(s.config, "utf8"));
  assert.deepEqual(after, { credsStore: "osltest", auths: { "quay.io": { auth: b64("q:q") } } });
});

test("store into a new file: directory 0700, file 0600, base64 auth", async () => {
  const s = await sandbox();
  const where = await storeCredentials(
    "localhost:5000",
    { username: "al", password: "x:y:z" },
    { env: s.env },
  );
  assert.equal(where, s.config);
  assert.equal((await stat(s.config)).mode & 0o777, 0o600);
  assert.equal((await stat(join(s.home, ".docker"))).mode & 0o777, 0o700);
  const saved = JSON.parse(await readFile(s.config, "utf8"));
  assert.deepEqual(saved, { auths: { "localhost:5000": { auth: b64("al:x:y:z") } } });
  assert.deepEqual(await lookupCredentials("localhost:5000", { env: s.env }), {
    username: "al",
    password: "x:y:z",
    identityToken: undefined,
    source: s.config,
  });
});

test("store into an existing file keeps other fields, replaces the entry and tightens the mode", async () => {
  const s = await sandbox();
  await writeJson(s.config, {
    psFormat: "table {{.ID}}",
    credHelpers: { "gcr.io": "gcloud" },
    auths: {
      [HUB]: { auth: b64("old:old"), identitytoken: "old-token", email: "a@b" },
      "quay.io": { auth: b64("q:q") },
    },
    proxies: { default: { httpProxy: "http://proxy:3128" } },
  });
  await chmod(s.config, 0o644);
  await storeCredentials("docker.io", { username: "new", password: "n:ew" }, { env: s.env });
  assert.equal((await stat(s.config)).mode & 0o777, 0o600);
  const saved = JSON.parse(await readFile(s.config, "utf8"));
  assert.deepEqual(saved, {
    psFormat: "table {{.ID}}",
    credHelpers: { "gcr.io": "gcloud" },
    auths: { [HUB]: { auth: b64("new:n:ew") }, "quay.io": { auth: b64("q:q") } },
    proxies: { default: { httpProxy: "http://proxy:3128" } },
  });
  const cred = await lookupCredentials("docker.io", { env: s.env });
  assert.equal(cred?.identityToken, undefined);
  assert.equal(cred?.password, "n:ew");
});

test("store follows a symlinked config file instead of replacing the link", async () => {
  const s = await sandbox();
  const real = join(s.dir, "dotfiles", "config.json");
  await writeJson(real, { auths: {} });
  await mkdir(join(s.home, ".docker"), { recursive: true });
  await symlink(real, s.config);
  await storeCredentials("ghcr.io", { username: "u", password: "p" }, { env: s.env });
  assert.ok((await lstat(s.config)).isSymbolicLink());
  assert.deepEqual(JSON.parse(await readFile(real, "utf8")), { auths: { "ghcr.io": { auth: b64("u:p") } } });
});

test("store goes to the file in effect: --authfile, then REGISTRY_AUTH_FILE, then DOCKER_CONFIG", async () => {
  const s = await sandbox();
  const explicit = join(s.dir, "explicit", "auth.json");
  const regAuth = join(s.dir, "containers", "auth.json");
  const dc = join(s.dir, "dc");
  const env = { ...s.env, REGISTRY_AUTH_FILE: regAuth, DOCKER_CONFIG: dc };
  assert.equal(
    await storeCredentials("a.example", { username: "u", password: "p" }, { authFile: explicit, env }),
    explicit,
  );
  assert.equal(await storeCredentials("b.example", { username: "u", password: "p" }, { env }), regAuth);
  const withoutRaf = { ...s.env, DOCKER_CONFIG: dc };
  assert.equal(
    await storeCredentials("c.example", { username: "u", password: "p" }, { env: withoutRaf }),
    join(dc, "config.json"),
  );
  assert.deepEqual(Object.keys(JSON.parse(await readFile(explicit, "utf8")).auths), ["a.example"]);
  assert.deepEqual(Object.keys(JSON.parse(await readFile(regAuth, "utf8")).auths), ["b.example"]);
  assert.deepEqual(Object.keys(JSON.parse(await readFile(join(dc, "config.json"), "utf8")).auths), [
    "c.example",
  ]);
  await assert.rejects(stat(s.config), { code: "ENOENT" });
});

test("concurrent stores into one file all survive", async () => {
  const s = await sandbox();
  const domains = Array.from({ length: 8 }, (_, i) => `r${i}.example`);
  await Promise.all(domains.map((d) => storeCredentials(d, { username: d, password: "p" }, { env: s.env })));
  const saved = JSON.parse(await readFile(s.config, "utf8"));
  assert.deepEqual(Object.keys(saved.auths).sort(), domains);
  await assert.rejects(stat(`${s.config}.lock`), { code: "ENOENT" });
});

test("store refuses bad input and never clobbers a file it cannot parse", async () => {
  const s = await sandbox();
  await rejectsWith(storeCredentials("ghcr.io", { username: "", password: "p" }, { env: s.env }), "E_USAGE");
  await rejectsWith(
    storeCredentials("ghcr.io", { username: "a:b", password: "p" }, { env: s.env }),
    "E_USAGE",
  );
  await rejectsWith(storeCredentials("ghcr.io", { username: "a", password: "" }, { env: s.env }), "E_USAGE");
  await assert.rejects(stat(s.config), { code: "ENOENT" });
  const broken = '{"auths": {"ghcr.io": {"auth": "x"}}, oops';
  await writeJson(s.config, broken);
  await rejectsWith(
    storeCredentials("ghcr.io", { username: "u", password: "p" }, { env: s.env }),
    "E_JSON_INVALID",
  );
  await rejectsWith(removeCredentials("ghcr.io", { env: s.env }), "E_JSON_INVALID");
  assert.equal(await readFile(s.config, "utf8"), broken);
  await writeJson(s.config, { auths: "nope" });
  await rejectsWith(
    storeCredentials("ghcr.io", { username: "u", password: "p" }, { env: s.env }),
    "E_JSON_INVALID",
  );
});

test("remove from the file deletes every spelling of the registry and keeps the rest", async () => {
  const s = await sandbox();
  await writeJson(s.config, {
    auths: {
      [HUB]: { auth: b64("a:1") },
      "docker.io": { auth: b64("b:2") },
      "registry-1.docker.io": { auth: b64("c:3") },
      "ghcr.io": { auth: b64("g:4") },
      "https://ghcr.io": { auth: b64("g:5") },
      "quay.io": { auth: b64("q:6") },
    },
    HttpHeaders: { "User-Agent": "x" },
  });
  assert.equal(await removeCredentials("docker.io", { env: s.env }), true);
  assert.equal(await lookupCredentials("docker.io", { env: s.env }), undefined);
  assert.equal(await removeCredentials("ghcr.io", { env: s.env }), true);
  assert.equal(await lookupCredentials("ghcr.io", { env: s.env }), undefined);
  assert.deepEqual(JSON.parse(await readFile(s.config, "utf8")), {
    auths: { "quay.io": { auth: b64("q:6") } },
    HttpHeaders: { "User-Agent": "x" },
  });
  assert.equal((await stat(s.config)).mode & 0o777, 0o600);
  const before = await readFile(s.config, "utf8");
  assert.equal(await removeCredentials("ghcr.io", { env: s.env }), false);
  assert.equal(await readFile(s.config, "utf8"), before, "nothing to remove: file untouched");
  assert.equal(await removeCredentials("ghcr.io", { env: (await sandbox()).env }), false, "no file at all");
});

test("an auth file that cannot be read is E_IO naming it", async () => {
  const s = await sandbox();
  // $HOME/.docker is a regular file, so $HOME/.docker/config.json cannot be opened (ENOTDIR, even for root).
  await writeFile(join(s.home, ".docker"), "not a directory");
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_IO", (e) =>
    assert.ok(e.message.includes(s.config) && e.message.includes("ENOTDIR"), e.message),
  );
  await rejectsWith(storeCredentials("ghcr.io", { username: "u", password: "p" }, { env: s.env }), "E_IO");
});

test("a directory where the auth file should be is E_IO", async () => {
  const s = await sandbox();
  await mkdir(s.config, { recursive: true });
  await rejectsWith(lookupCredentials("ghcr.io", { env: s.env }), "E_IO", (e) =>
    assert.ok(e.message.includes(s.config), e.message),
  );
});
