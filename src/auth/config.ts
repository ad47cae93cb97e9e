/**
 * The docker config file (`~/.docker/config.json`, or podman's auth.json, which has the same shape):
 *
 *   { "auths": { "<server>": { "auth": base64("user:password"), "username", "password", "identitytoken" } },
 *     "credsStore": "<helper>", "credHelpers": { "<server>": "<helper>" }, ...fields of other tools }
 *
 * Reading never changes the file; writing replaces it atomically with mode 0600 and keeps every field it does not
 * own. Errors name the file and the key, never a value: values are secrets.
 */
import { mkdir, readFile, realpath } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { isErrno, writeFileAtomic } from "../_internal/fs.ts";
import { withLock } from "../_internal/lock.ts";
import { isOslessError, OslessError } from "../errors.ts";
import { DOCKER_HUB_DOMAIN, registryHost } from "../reference/index.ts";

/** The key Docker uses for Docker Hub in config.json and in credential helpers (registry.IndexServer). */
export const INDEX_SERVER = "https://index.docker.io/v1/";
/** Host names that all mean Docker Hub. */
const HUB_HOSTS = new Set([DOCKER_HUB_DOMAIN, "index.docker.io", registryHost(DOCKER_HUB_DOMAIN)]);

export type ConfigObject = Record<string, unknown>;

export interface LocateOptions {
  authFile?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * The auth file in effect: the explicit one, else REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json ($HOME of `opts.env`). Empty variables count as unset.
 */
export function authFilePath(opts: LocateOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.authFile) return resolve(opts.authFile);
  if (env.REGISTRY_AUTH_FILE) return resolve(env.REGISTRY_AUTH_FILE);
  if (env.DOCKER_CONFIG) return join(resolve(env.DOCKER_CONFIG), "config.json");
  return join(env.HOME || homedir(), ".docker", "config.json");
}

/**
 * Docker's `ConvertToHostname`: drop a scheme ("https://") and everything from the first "/" on, so that
 * "https://index.docker.io/v1/" -> "index.docker.io" and "http://localhost:5000/v2" -> "localhost:5000".
 */
export function convertToHostname(server: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(server);
  const rest = scheme ? server.slice(scheme[0].length) : server;
  const slash = rest.indexOf("/");
  return slash < 0 ? rest : rest.slice(0, slash);
}

export function isHubHost(host: string): boolean {
  return HUB_HOSTS.has(host.toLowerCase());
}

/** Whether a key of `auths` or `credHelpers` names the registry host `host` (host names compare without case). */
export function keyMatchesHost(key: string, host: string): boolean {
  const h = convertToHostname(key).toLowerCase();
  const want = host.toLowerCase();
  return h === want || (isHubHost(h) && isHubHost(want));
}

/** Read and parse the file. A missing file is undefined; an empty one is an empty config (as in Docker). */
export async function readConfig(path: string): Promise<ConfigObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (isErrno(e, "ENOENT")) return undefined;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new OslessError("E_IO", `cannot read the auth file ${path}: ${code}`, {
      hint:
        code === "EACCES"
          ? `make ${path} readable by this user, or name another file with --authfile`
          : `check that ${path} is a regular file in a directory, or name another file with --authfile`,
      details: { path },
      cause: e,
    });
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): ConfigObject {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text around the error, which may be a secret: report only the position.
    const pos = /position (\d+)/.exec(String((e as Error).message));
    const where = pos ? ` at ${lineColumn(text, Number(pos[1]))}` : "";
    throw new OslessError("E_JSON_INVALID", `the auth file ${path} is not valid JSON${where}`, {
      hint: `fix the JSON syntax of ${path} (e.g. check it with "python3 -m json.tool ${path}"), or move it away and log in again`,
      details: { path },
    });
  }
  if (!isObject(value)) {
    throw invalid(
      path,
      "the top level is not a JSON object",
      'a docker config file is an object like {"auths": {}}',
    );
  }
  return value;
}

/** The `auths` object, or undefined when absent; anything else than an object is an error. */
export function authsOf(config: ConfigObject, path: string): ConfigObject | undefined {
  const auths = config.auths;
  if (auths === undefined || auths === null) return undefined;
  if (!isObject(auths))
    throw invalid(path, '"auths" is not an object', '"auths" maps registry names to entries');
  return auths;
}

export interface HelperChoice {
  /** The helper name ("pass"); undefined = use the file itself. */
  name: string | undefined;
  /** Where it was named, for messages: 'credHelpers["ghcr.io"] in /x/config.json'. */
  origin: string;
}

/**
 * Docker's `getConfiguredCredentialStore`: a `credHelpers` entry for the registry beats `credsStore`. An entry
 * whose value is "" means "this registry's credentials live in the file" even when `credsStore` is set.
 * The entry is looked up by the exact key first, then by any key naming the same host.
 */
export function helperFor(config: ConfigObject, key: string, path: string): HelperChoice {
  const helpers = config.credHelpers;
  if (helpers !== undefined && helpers !== null) {
    if (!isObject(helpers)) {
      throw invalid(
        path,
        '"credHelpers" is not an object',
        '"credHelpers" maps registry names to helper names',
      );
    }
    const host = convertToHostname(key);
    const found = Object.hasOwn(helpers, key)
      ? key
      : Object.keys(helpers).find((k) => keyMatchesHost(k, host));
    if (found !== undefined) {
      const name = helpers[found];
      const origin = `credHelpers[${JSON.stringify(found)}] in ${path}`;
      if (name === null || name === "") return { name: undefined, origin };
      if (typeof name !== "string")
        throw invalid(path, `${origin} is not a string`, 'name a helper, e.g. "pass"');
      return { name, origin };
    }
  }
  const store = config.credsStore;
  const origin = `credsStore in ${path}`;
  if (store === undefined || store === null || store === "") return { name: undefined, origin: path };
  if (typeof store !== "string")
    throw invalid(path, '"credsStore" is not a string', 'name a helper, e.g. "pass"');
  return { name: store, origin };
}

export interface FileEntry {
  key: string;
  username: string | undefined;
  password: string | undefined;
  identityToken: string | undefined;
}

/**
 * The `auths` entry for `key` (from `credentialKey`): the exact key first, then, in file order, any key that names
 * the same host after `convertToHostname` (for Docker Hub any of its names). Entries that hold nothing (Docker
 * writes `{}` next to a credential store) are skipped. A malformed entry that is consulted is an error.
 */
export function fileEntry(config: ConfigObject, key: string, path: string): FileEntry | undefined {
  const auths = authsOf(config, path);
  if (auths === undefined) return undefined;
  const host = convertToHostname(key);
  const keys = Object.keys(auths).filter((k) => k !== key && keyMatchesHost(k, host));
  if (Object.hasOwn(auths, key)) keys.unshift(key);
  for (const k of keys) {
    const entry = decodeEntry(auths[k], k, path);
    if (entry.username !== undefined || entry.password !== undefined || entry.identityToken !== undefined) {
      return entry;
    }
  }
  return undefined;
}

function decodeEntry(value: unknown, key: string, path: string): FileEntry {
  const where = `auths[${JSON.stringify(key)}] in ${path}`;
  const out: FileEntry = { key, username: undefined, password: undefined, identityToken: undefined };
  if (value === null) return out;
  if (!isObject(value))
    throw invalid(path, `${where} is not an object`, 'an entry looks like {"auth": "<base64>"}');
  const field = (name: string): string | undefined => {
    const v = value[name];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string")
      throw invalid(path, `"${name}" of ${where} is not a string`, "write it as a JSON string");
    return v;
  };
  out.username = field("username");
  out.password = field("password");
  out.identityToken = field("identitytoken");
  const auth = field("auth");
  if (auth !== undefined) {
    const decoded = decodeAuth(auth);
    if (decoded === undefined) {
      throw new OslessError("E_JSON_INVALID", `"auth" of ${where} is not base64 of "user:password"`, {
        hint: `log in to ${key} again to rewrite it, or delete the entry from ${path}`,
        details: { path, key },
      });
    }
    out.username = decoded.username;
    out.password = decoded.password;
  }
  return out;
}

/**
 * Docker's `decodeAuth`: standard base64 (padding required, CR/LF ignored as Go does), split at the first ":",
 * the user name must not be empty, trailing NULs of the password are dropped.
 */
export function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const b64 = auth.replace(/[\r\n]/g, "");
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  const text = Buffer.from(b64, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/^\0+|\0+$/g, "") };
}

export function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

/**
 * Read-modify-write the file under a lock next to it. `change` gets the parsed file ({} when missing) and returns
 * false to leave the file alone. The file keeps all fields it does not change, is written atomically with mode 0600
 * (a new directory gets 0700) and indented with tabs like Docker's. A symlink is followed, not replaced.
 */
export async function updateConfig(
  path: string,
  change: (config: ConfigObject) => boolean,
): Promise<boolean> {
  const target = await realpath(path).catch((e: unknown) => {
    if (isErrno(e, "ENOENT")) return path;
    throw ioError(path, e);
  });
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw ioError(dir, e);
  });
  try {
    return await withLock(
      `${target}.lock`,
      async () => {
        const config = (await readConfig(target)) ?? {};
        if (!change(config)) return false;
        await writeFileAtomic(target, JSON.stringify(config, null, "\t"), 0o600).catch((e: unknown) => {
          throw ioError(target, e);
        });
        return true;
      },
      { timeoutMs: 10_000 },
    );
  } catch (e) {
    if (isOslessError(e, "E_LOCKED")) {
      throw new OslessError("E_LOCKED", `the auth file ${target} is locked by another process`, {
        hint: `wait for the other login or logout to finish, or remove ${target}.lock if that process is gone`,
        details: { path: target },
        cause: e,
      });
    }
    if (isOslessError(e)) throw e;
    throw ioError(target, e);
  }
}

function ioError(path: string, e: unknown): OslessError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new OslessError("E_IO", `cannot write the auth file ${path}: ${code}`, {
    hint: `check that ${dirname(path)} is writable by this user, or name another file with --authfile`,
    details: { path },
    cause: e,
  });
}

function invalid(path: string, what: string, hint: string): OslessError {
  return new OslessError("E_JSON_INVALID", `the auth file ${path} is not valid: ${what}`, {
    hint: `${hint}; fix ${path} or move it away and log in again`,
    details: { path },
  });
}

export function isObject(v: unknown): v is ConfigObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}, column ${column}`;
}
