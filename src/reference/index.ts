/**
 * Image references ("alpine", "ghcr.io/o/app:1.2@sha256:…"), parsed and normalised the way the Docker CLI does
 * (distribution/reference v0.6 `ParseNormalizedNamed` followed by `TagNameOnly`):
 *
 *   reference  := name [":" tag] ["@" digest]
 *   name       := [domain "/"] path
 *   domain     := (dns-name | "[" ipv6 "]") [":" digits]      (letters of any case)
 *   path       := component ("/" component)*                  (at most 255 characters, "library/" included)
 *   component  := [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The first "/"-separated element is a domain only if it contains "." or ":", is "localhost", or has an uppercase
 * letter; otherwise the image lives on Docker Hub ("docker.io"), where one-element paths get "library/".
 * A reference without "/" never names a domain: "localhost:5000" is the image "library/localhost" tagged "5000".
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { type Digest, parseDigest } from "../digest/index.ts";
import { isOslessError, OslessError } from "../errors.ts";

/** Docker Hub as written in canonical references. */
export const DOCKER_HUB_DOMAIN = "docker.io";
/** The legacy Docker Hub ("Docker Index") name, normalised to DOCKER_HUB_DOMAIN. */
const LEGACY_HUB_DOMAIN = "index.docker.io";
/** The host that actually serves Docker Hub's registry API. */
const DOCKER_HUB_HOST = "registry-1.docker.io";
const OFFICIAL_PREFIX = "library/";
export const DEFAULT_TAG = "latest";
/** Maximum length of the path (the domain is not counted, as in distribution/reference >= v0.6). */
export const MAX_PATH_LENGTH = 255;
export const MAX_TAG_LENGTH = 128;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const DNS_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** Docker only checks the character set inside the brackets (no zone ids, no dotted IPv4 tails). */
const BRACKETED_IPV6 = /^\[[A-Fa-f0-9:]+\]$/;
const PORT = /^[0-9]+$/;
/** Docker refuses a bare 64-hex string: it would be ambiguous with an image id. */
const IMAGE_ID = /^[a-f0-9]{64}$/;
/** Every character that can appear anywhere in a valid reference. */
const REFERENCE_CHARS = /[^A-Za-z0-9._\-/:@[\]+]/;

export interface ImageReference {
  /** "docker.io", "localhost:5000", "[::1]:5000"; case is kept as written. */
  readonly domain: string;
  /** "library/alpine". */
  readonly path: string;
  /** undefined only when a digest is given without tag, or when opts.defaultTag === false. */
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
  /** domain + "/" + path. */
  readonly name: string;
  /** Canonical full form: "docker.io/library/alpine:latest", "x/y:t@sha256:…". */
  toString(): string;
  /** Docker's short form: "alpine:latest", "user/app:1", "localhost:5000/x:y". */
  familiar(): string;
}

export interface ParseReferenceOptions {
  /** Add ":latest" when the reference has neither tag nor digest (default true, like `docker pull`). */
  defaultTag?: boolean | undefined;
}

class Reference implements ImageReference {
  readonly domain: string;
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
  readonly name: string;

  constructor(domain: string, path: string, tag: string | undefined, digest: Digest | undefined) {
    this.domain = domain;
    this.path = path;
    this.tag = tag;
    this.digest = digest;
    this.name = `${domain}/${path}`;
    Object.freeze(this);
  }

  #suffix(): string {
    return (
      (this.tag === undefined ? "" : `:${this.tag}`) + (this.digest === undefined ? "" : `@${this.digest}`)
    );
  }

  toString(): string {
    return this.name + this.#suffix();
  }

  familiar(): string {
    let short = this.name;
    if (this.domain === DOCKER_HUB_DOMAIN) {
      short = this.path;
      // Only a direct child of library/ is shortened ("library/a/b" stays as it is), as Docker does.
      const rest = this.path.slice(OFFICIAL_PREFIX.length);
      if (this.path.startsWith(OFFICIAL_PREFIX) && !rest.includes("/")) short = rest;
    }
    return short + this.#suffix();
  }
}

const EXAMPLE_HINT =
  'a reference looks like "alpine", "alpine:3.20", "ghcr.io/owner/app:1.0" or "name@sha256:<64 hex>"';

/**
 * Parse and normalise an image reference as `docker pull` does. Throws OslessError E_REFERENCE_INVALID whose
 * message quotes the input and names the offending part.
 */
export function parseReference(input: string, opts: ParseReferenceOptions = {}): ImageReference {
  const fail = (what: string, hint: string, cause?: unknown): OslessError =>
    new OslessError("E_REFERENCE_INVALID", `invalid reference ${JSON.stringify(String(input))}: ${what}`, {
      hint,
      cause,
      details: { reference: String(input) },
    });

  if (typeof input !== "string") throw fail(`expected a string, got ${typeof input}`, EXAMPLE_HINT);
  if (input === "") throw fail("reference is empty", EXAMPLE_HINT);
  if (input.includes("://")) {
    throw fail("a reference has no URL scheme", `drop "${input.slice(0, input.indexOf("://") + 3)}"`);
  }
  const badChar = REFERENCE_CHARS.exec(input);
  if (badChar) {
    const ch = badChar[0];
    if (/\s/.test(ch)) {
      throw fail(
        `contains whitespace at position ${badChar.index}`,
        "remove spaces, tabs and newlines (is the value quoted correctly?)",
      );
    }
    throw fail(
      `character ${JSON.stringify(ch)} at position ${badChar.index} is not allowed`,
      'references use only letters, digits and "." "_" "-" "/" ":" "@" (and "[" "]" around IPv6 addresses)',
    );
  }
  if (IMAGE_ID.test(input)) {
    throw fail(
      "cannot specify 64-byte hexadecimal strings as a repository name",
      'this looks like an image id; to use it as a name, give the domain, e.g. "docker.io/<name>"',
    );
  }

  // name[:tag] and digest: "@" cannot occur in a name or a tag.
  const at = input.indexOf("@");
  const nameAndTag = at < 0 ? input : input.slice(0, at);
  const digestText = at < 0 ? undefined : input.slice(at + 1);
  if (nameAndTag === "") throw fail('repository name is missing before "@"', EXAMPLE_HINT);

  // Domain: Docker's rules for the first element (see the module comment).
  const slash = nameAndTag.indexOf("/");
  let domain = DOCKER_HUB_DOMAIN;
  let remainder = nameAndTag;
  let explicitDomain = false;
  if (slash >= 0) {
    const first = nameAndTag.slice(0, slash);
    if (
      first === "localhost" ||
      first.includes(".") ||
      first.includes(":") ||
      first !== first.toLowerCase()
    ) {
      explicitDomain = true;
      domain = first === LEGACY_HUB_DOMAIN ? DOCKER_HUB_DOMAIN : first;
      remainder = nameAndTag.slice(slash + 1);
    }
  }
  if (explicitDomain) {
    checkDomain(domain, fail);
    if (remainder === "" || remainder.startsWith(":")) {
      throw fail(
        `repository name is missing after "${nameAndTag.slice(0, slash + 1)}"`,
        `name the repository, e.g. "${nameAndTag.slice(0, slash + 1)}app"`,
      );
    }
  }
  // One-element Docker Hub names are official images. The check is made before the tag is split off, as
  // Docker does; a tag cannot contain "/", so the outcome is the same.
  const implied = domain === DOCKER_HUB_DOMAIN && !remainder.includes("/");
  if (implied) remainder = OFFICIAL_PREFIX + remainder;

  const colon = remainder.indexOf(":");
  const path = colon < 0 ? remainder : remainder.slice(0, colon);
  const tagText = colon < 0 ? undefined : remainder.slice(colon + 1);

  checkPath(path, implied ? path.slice(OFFICIAL_PREFIX.length) : path, fail);
  if (tagText !== undefined) checkTag(tagText, fail);

  let digest: Digest | undefined;
  if (digestText !== undefined) {
    if (digestText === "") {
      throw fail(
        '"@" is not followed by a digest',
        'remove the "@" or add a digest such as "sha256:<64 hex>"',
      );
    }
    try {
      parseDigest(digestText, "digest");
    } catch (e) {
      if (!isOslessError(e)) throw e;
      const hint =
        !digestText.includes(":") && TAG.test(digestText)
          ? `to select a tag write ":${digestText}" instead of "@${digestText}"`
          : (e.hint ?? 'a digest looks like "sha256:" followed by 64 lowercase hex characters');
      throw fail(e.message, hint, e);
    }
    digest = digestText as Digest;
  }

  const tag = tagText ?? (digest === undefined && opts.defaultTag !== false ? DEFAULT_TAG : undefined);
  return new Reference(domain, path, tag, digest);
}

/** parseReference, or undefined when the input is not a valid reference. */
export function tryParseReference(input: string, opts?: ParseReferenceOptions): ImageReference | undefined {
  try {
    return parseReference(input, opts);
  } catch (e) {
    if (isOslessError(e, "E_REFERENCE_INVALID")) return undefined;
    throw e;
  }
}

/** Hostname to contact for a domain: docker.io / index.docker.io -> "registry-1.docker.io"; others unchanged. */
export function registryHost(domain: string): string {
  return domain === DOCKER_HUB_DOMAIN || domain === LEGACY_HUB_DOMAIN ? DOCKER_HUB_HOST : domain;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/**
 * True for localhost, 127.0.0.0/8 and ::1, with or without a port (IPv4-mapped forms such as [::ffff:7f00:1]
 * included). Docker treats these registries as insecure by default, so plain http is allowed for them.
 */
export function isLoopbackRegistry(domain: string): boolean {
  const { host } = splitHostPort(domain);
  if (host.startsWith("[") && host.endsWith("]")) {
    const ip = host.slice(1, -1);
    return isIPv6(ip) && LOOPBACK.check(ip, "ipv6");
  }
  if (host.toLowerCase() === "localhost") return true;
  return isIPv4(host) && LOOPBACK.check(host, "ipv4");
}

type Fail = (what: string, hint: string, cause?: unknown) => OslessError;

function splitHostPort(domain: string): { host: string; port: string | undefined } {
  if (domain.startsWith("[")) {
    const close = domain.indexOf("]");
    if (close >= 0 && domain[close + 1] === ":") {
      return { host: domain.slice(0, close + 1), port: domain.slice(close + 2) };
    }
    return { host: domain, port: undefined };
  }
  const colon = domain.indexOf(":");
  return colon < 0
    ? { host: domain, port: undefined }
    : { host: domain.slice(0, colon), port: domain.slice(colon + 1) };
}

const DOMAIN_HINT =
  'a registry is a host name or IPv4 address (letters, digits, "-" and "."), or an IPv6 address in brackets, ' +
  'optionally followed by ":port", e.g. "registry.example.com:5000"';

function checkDomain(domain: string, fail: Fail): void {
  if (!domain.startsWith("[") && (domain.match(/:/g)?.length ?? 0) > 1) {
    throw fail(`registry "${domain}" is not valid`, 'put IPv6 addresses in brackets, e.g. "[::1]:5000/app"');
  }
  const { host, port } = splitHostPort(domain);
  if (host.startsWith("[") ? !BRACKETED_IPV6.test(host) : !DNS_NAME.test(host)) {
    const why = host === "" ? "registry host is empty" : `registry host "${host}" is not valid`;
    throw fail(why, DOMAIN_HINT);
  }
  if (port !== undefined && !PORT.test(port)) {
    throw fail(
      port === "" ? `registry "${domain}" has an empty port` : `registry port "${port}" is not a number`,
      `write the port as digits after the host, e.g. "${host}:5000"`,
    );
  }
}

const PATH_HINT =
  'repository path components are lowercase letters and digits, separated inside a component by ".", "_", "__" ' +
  'or dashes, and joined by single "/" (e.g. "my-org/my_app.v2")';

/** `written` is the path as the user wrote it (without an implied "library/"), for messages. */
function checkPath(path: string, written: string, fail: Fail): void {
  if (path !== path.toLowerCase()) {
    throw fail(
      `repository name must be lowercase (got "${written}")`,
      `write "${written.toLowerCase()}"; only the registry host and the tag may contain uppercase letters`,
    );
  }
  if (written === "") throw fail("repository name is missing", EXAMPLE_HINT);
  const components = written.split("/");
  for (const [i, component] of components.entries()) {
    if (PATH_COMPONENT.test(component)) continue;
    let why: string;
    if (component === "") {
      why =
        i === components.length - 1
          ? `repository name "${written}" ends with "/"`
          : i === 0
            ? `repository name "${written}" starts with "/"`
            : `repository name "${written}" contains "//"`;
    } else if (/^[._-]/.test(component)) {
      why = `path component "${component}" starts with "${component[0]}"`;
    } else if (/[._-]$/.test(component)) {
      why = `path component "${component}" ends with "${component.at(-1)}"`;
    } else {
      const invalidChar = /[^a-z0-9._-]/.exec(component);
      const run = /[._-]{2,}/.exec(component);
      why = invalidChar
        ? `path component "${component}" contains "${invalidChar[0]}"`
        : `path component "${component}" has the invalid separator "${run?.[0] ?? component}"`;
    }
    throw fail(why, PATH_HINT);
  }
  if (path.length > MAX_PATH_LENGTH) {
    const implied = path === written ? "" : `, counting the implied "${OFFICIAL_PREFIX}"`;
    throw fail(
      `repository name is ${path.length} characters long (at most ${MAX_PATH_LENGTH}${implied})`,
      "use a shorter repository path; the registry host does not count towards the limit",
    );
  }
}

const TAG_HINT = `a tag is 1 to ${MAX_TAG_LENGTH} letters, digits, "_", "." or "-", and does not start with "." or "-"`;

function checkTag(tag: string, fail: Fail): void {
  if (tag === "")
    throw fail('tag is empty after ":"', 'remove the trailing ":" or add a tag, e.g. ":latest"');
  if (!TAG.test(tag)) {
    const invalidChar = /[^A-Za-z0-9_.-]/.exec(tag);
    const why = invalidChar
      ? `tag "${tag}" contains "${invalidChar[0]}"`
      : `tag "${tag}" starts with "${tag[0]}"`;
    const hint = invalidChar?.[0] === ":" ? "a reference has at most one tag" : TAG_HINT;
    throw fail(why, hint);
  }
  if (tag.length > MAX_TAG_LENGTH) {
    throw fail(`tag is ${tag.length} characters long (at most ${MAX_TAG_LENGTH})`, TAG_HINT);
  }
}
