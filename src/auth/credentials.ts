/**
 * Registry credentials as the Docker CLI finds and stores them (cli/config/configfile, cli/config/credentials):
 * the config file's `credHelpers[<server>]` beats its `credsStore`, which beats its `auths`. A credential store
 * that has no entry means anonymous: Docker does not fall back to `auths` then, and neither do we.
 */
import { OslessError } from "../errors.ts";
import {
  authFilePath,
  authsOf,
  type ConfigObject,
  convertToHostname,
  encodeAuth,
  fileEntry,
  helperFor,
  INDEX_SERVER,
  isHubHost,
  isObject,
  keyMatchesHost,
  readConfig,
  updateConfig,
} from "./config.ts";
import {
  checkHelperName,
  type HelperResult,
  helperFailure,
  helperProgram,
  isCredentialsNotFound,
  runCredentialHelper,
} from "./helper.ts";

export interface Credential {
  /** Basic user name; "<token>" in a helper answer means `password` is an identity token (then set identityToken instead). */
  username?: string | undefined;
  password?: string | undefined;
  /** OAuth2 refresh token (docker config `identitytoken`, or helper Username "<token>"). */
  identityToken?: string | undefined;
  /** Where it came from, for messages: "/root/.docker/config.json", "docker-credential-pass", "--creds". Never the secret. */
  source: string;
}

export interface AuthOptions {
  /** Explicit auth file (podman/skopeo --authfile); else REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  authFile?: string | undefined;
  /** Environment for the file lookup and for credential helpers (their PATH too); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The user name a helper answers with when its secret is an identity token. */
const TOKEN_USERNAME = "<token>";

/**
 * The key Docker uses in config.json and with credential helpers for a registry domain: Docker Hub under any of
 * its names -> "https://index.docker.io/v1/", any other domain as written. A URL is reduced to its host first
 * ("https://ghcr.io/v2/" -> "ghcr.io"), as `docker login` does.
 */
export function credentialKey(domain: string): string {
  const host = convertToHostname(domain.trim());
  if (host === "" || /[\s\x00-\x1f\x7f]/.test(host)) {
    throw new OslessError("E_USAGE", `registry ${JSON.stringify(domain)} is not a registry host`, {
      hint: 'name a registry like "docker.io", "ghcr.io" or "localhost:5000"',
    });
  }
  return isHubHost(host) ? INDEX_SERVER : host;
}

/**
 * Find credentials for a registry domain ("docker.io", "127.0.0.1:5000", "ghcr.io"): credHelpers[key] beats
 * credsStore beats auths. Returns undefined = anonymous (no file, no entry, or the helper has no entry).
 */
export async function lookupCredentials(
  domain: string,
  opts: AuthOptions = {},
): Promise<Credential | undefined> {
  const env = opts.env ?? process.env;
  const key = credentialKey(domain);
  const path = authFilePath({ authFile: opts.authFile, env });
  const config = await readConfig(path);
  if (config === undefined) return undefined;
  const helper = helperFor(config, key, path);
  if (helper.name !== undefined) return helperGet(helper.name, key, env, helper.origin);
  const entry = fileEntry(config, key, path);
  if (entry === undefined) return undefined;
  return {
    username: entry.username,
    password: entry.password,
    identityToken: entry.identityToken,
    source: path,
  };
}

/**
 * What `osless login` stores: into the helper named by credHelpers/credsStore, else into the file's
 * auths[key].auth (base64 "user:password"). Returns where it went: the file path or the helper program.
 */
export async function storeCredentials(
  domain: string,
  cred: { username: string; password: string },
  opts: AuthOptions = {},
): Promise<string> {
  checkStorable(cred);
  const env = opts.env ?? process.env;
  const key = credentialKey(domain);
  const path = authFilePath({ authFile: opts.authFile, env });
  const config = await readConfig(path);
  const helper = config === undefined ? undefined : helperFor(config, key, path);
  if (helper?.name !== undefined) {
    const input = JSON.stringify({ ServerURL: key, Username: cred.username, Secret: cred.password });
    const result = await runHelper(helper.name, "store", input, env, helper.origin);
    if (result.status !== 0) throw helperFailure(helper.name, "store", result, helper.origin);
    return helperProgram(helper.name);
  }
  await updateConfig(path, (c) => {
    const auths = authsOf(c, path) ?? {};
    // The whole entry is replaced, as `docker login` does: an old identitytoken must not outlive the new login.
    auths[key] = { auth: encodeAuth(cred.username, cred.password) };
    c.auths = auths;
    return true;
  });
  return path;
}

/**
 * `osless logout`: erase the entry in the helper (if one is configured) and every `auths` entry naming the
 * registry (any spelling, so that lookup cannot find a leftover). Returns false when nothing was stored.
 */
export async function removeCredentials(domain: string, opts: AuthOptions = {}): Promise<boolean> {
  const env = opts.env ?? process.env;
  const key = credentialKey(domain);
  const path = authFilePath({ authFile: opts.authFile, env });
  const config = await readConfig(path);
  if (config === undefined) return false;
  let removed = false;
  const helper = helperFor(config, key, path);
  if (helper.name !== undefined) {
    const result = await runHelper(helper.name, "erase", key, env, helper.origin);
    if (result.status === 0) removed = true;
    else if (!isCredentialsNotFound(result.stdout + result.stderr)) {
      throw helperFailure(helper.name, "erase", result, helper.origin);
    }
  }
  const host = convertToHostname(key);
  const auths = authsOf(config, path);
  if (auths !== undefined && Object.keys(auths).some((k) => keyMatchesHost(k, host))) {
    await updateConfig(path, (c) => {
      const current = authsOf(c, path);
      if (current === undefined) return false;
      const doomed = Object.keys(current).filter((k) => keyMatchesHost(k, host));
      for (const k of doomed) {
        // The `{}` Docker leaves next to a credential store held nothing: removing it is not a logout.
        if (holdsCredentials(current[k])) removed = true;
        delete current[k];
      }
      return doomed.length > 0;
    });
  }
  return removed;
}

function holdsCredentials(entry: unknown): boolean {
  if (!isObject(entry)) return false;
  return ["auth", "username", "password", "identitytoken"].some(
    (f) => typeof entry[f] === "string" && entry[f] !== "",
  );
}

/** Parse "user:password" (skopeo --creds); the password may contain ":" and may be empty. E_USAGE on bad input. */
export function parseCreds(s: string): { username: string; password: string } {
  const hint = 'write the credentials as USER:PASSWORD, e.g. --creds "alice:s3cret"';
  // Never quote the input: it holds a password.
  if (s === "") throw new OslessError("E_USAGE", "the credentials are empty", { hint });
  const colon = s.indexOf(":");
  if (colon < 0)
    throw new OslessError("E_USAGE", 'the credentials have no ":" between user name and password', { hint });
  if (colon === 0) throw new OslessError("E_USAGE", "the user name in the credentials is empty", { hint });
  return { username: s.slice(0, colon), password: s.slice(colon + 1) };
}

function checkStorable(cred: { username: string; password: string }): void {
  if (cred.username === "") {
    throw new OslessError("E_USAGE", "the user name is empty", {
      hint: "give the user name of your registry account",
    });
  }
  if (cred.username.includes(":")) {
    throw new OslessError("E_USAGE", 'a user name cannot contain ":"', {
      hint: 'registries read "user:password" and split it at the first ":"; check the user name',
    });
  }
  if (cred.password === "") {
    throw new OslessError("E_USAGE", "the password is empty", {
      hint: "give the password or an access token of your registry account",
    });
  }
}

async function runHelper(
  name: string,
  action: "get" | "store" | "erase",
  input: string,
  env: NodeJS.ProcessEnv,
  origin: string,
): Promise<HelperResult> {
  checkHelperName(name, origin);
  return runCredentialHelper(name, action, input, { env, origin });
}

async function helperGet(
  name: string,
  key: string,
  env: NodeJS.ProcessEnv,
  origin: string,
): Promise<Credential | undefined> {
  const result = await runHelper(name, "get", key, env, origin);
  if (result.status !== 0) {
    if (isCredentialsNotFound(result.stdout + result.stderr)) return undefined;
    throw helperFailure(name, "get", result, origin);
  }
  const program = helperProgram(name);
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    answer = undefined;
  }
  // The output may hold the secret: describe what is wrong, never quote it.
  if (!isObject(answer) || !isOptionalString(answer.Username) || !isOptionalString(answer.Secret)) {
    throw new OslessError(
      "E_JSON_INVALID",
      `credential helper ${program} get did not answer with {ServerURL, Username, Secret}`,
      {
        hint: `check that ${program} is a docker credential helper; it is named by ${origin}`,
        details: { program },
      },
    );
  }
  const username = (answer as ConfigObject).Username as string | undefined;
  const secret = (answer as ConfigObject).Secret as string | undefined;
  if (!username && !secret) return undefined;
  if (username === TOKEN_USERNAME) return { identityToken: secret || undefined, source: program };
  return { username: username || undefined, password: secret || undefined, source: program };
}

function isOptionalString(v: unknown): boolean {
  return v === undefined || v === null || typeof v === "string";
}
