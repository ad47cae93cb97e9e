/**
 * The HTTP layer of the registry client, one instance per registry: scheme choice (https; plain http only for
 * loopback and registries marked insecure), the `/v2/` ping, authentication (anonymous, Basic, the Bearer token
 * flow with per-scope token cache), retries with backoff honouring `Retry-After`, and redirects that never carry
 * credentials to another host. Rules: ../shared/design/registry-rules.md ("Auth", "Retries and resume").
 *
 * HTTP itself is ./http.ts (node:http with keep-alive pools); redirects are never followed behind our back: we
 * follow them here, to control where credentials go.
 */
import { getMaxListeners, setMaxListeners } from "node:events";
import { BlockList, isIP } from "node:net";
import type { Credential } from "../auth/index.ts";
import { isOslessError, OslessError } from "../errors.ts";
import type { EventSink } from "../events/index.ts";
import { isLoopbackRegistry, registryHost } from "../reference/index.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";
import { registryError, responseText } from "./errors.ts";
import { HttpPool, type HttpResponse } from "./http.ts";

export interface RetryPolicy {
  /** Attempts in all, including the first (default 5). */
  attempts: number;
  /** First backoff delay (default 1000 ms); multiplied by `factor` (3) each time, with 10 % jitter. */
  baseDelayMs: number;
  factor: number;
  /** Upper bound for any wait, including `Retry-After` (default 60 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, factor: 3, maxDelayMs: 60_000 };

export interface TransportOptions {
  /** Allow plain http and skip TLS verification (loopback registries always allow http). */
  insecure?: boolean | undefined;
  /** Looked up once, when the registry first asks for credentials. */
  credentials?: (() => Promise<Credential | undefined>) | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /**
   * A request whose connection is idle this long (no headers yet, or a body that stopped) is a stall: it fails
   * and is retried or resumed. Default 60 s.
   */
  bodyTimeoutMs?: number | undefined;
  /** Same as bodyTimeoutMs (one idle timer covers both); kept for callers that name it. */
  headersTimeoutMs?: number | undefined;
  events?: EventSink | undefined;
  signal?: AbortSignal | undefined;
  userAgent?: string | undefined;
}

export type Body = Buffer | string | (() => AsyncIterable<Uint8Array>);

export interface RequestSpec {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** A path under the registry ("/v2/…") or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string> | undefined;
  body?: Body | undefined;
  /** Token scopes this request needs, e.g. `repository:library/alpine:pull`. */
  scopes: string[];
  /** Follow redirects (default: GET and HEAD). */
  followRedirects?: boolean | undefined;
  /** Retry on 408/429/5xx and transport errors (default: true; false for non-replayable bodies). */
  retry?: boolean | undefined;
}

export type Response = HttpResponse;

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const TRANSPORT_ERRORS = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const MAX_REDIRECTS = 10;

/** Private, loopback, link-local and other non-public ranges (SSRF checks on realms and redirect targets). */
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
] as const)
  NON_PUBLIC.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::1", 128],
  ["::", 128],
  ["fc00::", 7],
  ["fe80::", 10],
] as const)
  NON_PUBLIC.addSubnet(net, bits, "ipv6");
// No "::ffff:0:0/96" rule: BlockList checks IPv4-mapped IPv6 addresses against the IPv4 rules above, and IPv4
// addresses against IPv6 rules as mapped ones, so that rule would make every IPv4 address non-public.

/** True for an IP literal in a non-public range (host names are not resolved: only literals are judged). */
export function isNonPublicAddress(hostname: string): boolean {
  const h = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const v = isIP(h);
  if (v === 0) return h.toLowerCase() === "localhost";
  return NON_PUBLIC.check(h, v === 4 ? "ipv4" : "ipv6");
}

/** A transport error worth retrying (connection reset, refused, timeouts, premature close). */
export function isTransportError(e: unknown): boolean {
  if (isOslessError(e)) return false;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && TRANSPORT_ERRORS.has(code)) return true;
  const msg = String((e as Error)?.message ?? "");
  return /premature close|other side closed|socket hang up|terminated|^aborted$/i.test(msg);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `Retry-After` in ms: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(s)) return Number(s) * 1000;
  // Only HTTP-date shapes (they start with a day name): V8's Date.parse reads "1.5" or "foo 1" as dates in 2001.
  if (!/^\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s/i.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export function header(res: { headers: Response["headers"] }, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

interface Token {
  token: string;
  expiresAt: number;
}

export class Transport {
  /** The domain as written in references ("docker.io", "127.0.0.1:5000"). */
  readonly domain: string;
  /** host[:port] actually contacted ("registry-1.docker.io"). */
  readonly host: string;
  readonly insecure: boolean;
  readonly retry: RetryPolicy;
  #opts: TransportOptions;
  #pool: HttpPool;
  #base: string | undefined;
  #challenges: Challenge[] | undefined;
  #pinging: Promise<void> | undefined;
  #credentials: Promise<Credential | undefined> | undefined;
  #tokens = new Map<string, Token>();
  /** Token fetches in flight, by scope key: concurrent requests that need the same token share one fetch. */
  #fetching = new Map<string, Promise<string>>();
  /** Scopes the registry asked for in a challenge, merged into later token requests. */
  #extraScopes: string[] = [];

  constructor(domain: string, opts: TransportOptions = {}) {
    this.domain = domain;
    this.host = registryHost(domain);
    this.insecure = opts.insecure === true || isLoopbackRegistry(domain);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#opts = opts;
    // Every request in flight listens on the signal (the listener goes when the request ends): a pull with a
    // dozen requests at once is not a leak, and must not print Node's MaxListenersExceededWarning.
    const signal = opts.signal;
    if (signal && getMaxListeners(signal) !== 0 && getMaxListeners(signal) < 1000)
      setMaxListeners(1000, signal);
    this.#pool = new HttpPool({
      rejectUnauthorized: !this.insecure,
      idleTimeoutMs: opts.bodyTimeoutMs ?? opts.headersTimeoutMs ?? 60_000,
    });
  }

  get signal(): AbortSignal | undefined {
    return this.#opts.signal;
  }

  async close(): Promise<void> {
    this.#pool.close();
  }

  /** "https://host" or "http://host", decided by the first ping. */
  async base(): Promise<string> {
    await this.ping();
    return this.#base as string;
  }

  /**
   * `GET /v2/`: learn the scheme and the auth challenge. https first; a registry allowed plain http (loopback or
   * insecure) is tried over http when https cannot connect, as Docker does.
   */
  ping(): Promise<void> {
    this.#pinging ??= this.#ping().catch((e) => {
      this.#pinging = undefined;
      throw e;
    });
    return this.#pinging;
  }

  async #ping(): Promise<void> {
    // Loopback registries are nearly always plain http: ask that first (a TLS registry answers a plain request
    // with 400, and https is tried next). Other insecure registries: https first, as Docker does.
    const schemes = isLoopbackRegistry(this.domain)
      ? ["http", "https"]
      : this.insecure
        ? ["https", "http"]
        : ["https"];
    let lastError: unknown;
    for (const scheme of schemes) {
      const url = `${scheme}://${this.host}/v2/`;
      let res: Response;
      try {
        res = await this.#withRetries(() => this.#send("GET", url, {}, undefined), true, url);
      } catch (e) {
        lastError = e;
        if (isOslessError(e) && e.code !== "E_NETWORK") throw e;
        continue;
      }
      await res.body.dump().catch(() => {});
      if (scheme === "http" && res.statusCode === 400 && scheme !== schemes.at(-1)) continue;
      if (res.statusCode === 200 || res.statusCode === 401) {
        this.#base = `${scheme}://${this.host}`;
        this.#challenges = res.statusCode === 401 ? parseChallenges(res.headers["www-authenticate"]) : [];
        return;
      }
      throw new OslessError(
        "E_REGISTRY",
        `${this.domain} is not a container registry: GET ${url} answered ${res.statusCode}`,
        {
          hint: "check the registry host name and port",
          details: { host: this.host, status: res.statusCode },
        },
      );
    }
    throw lastError;
  }

  /**
   * Send a request with authentication, retries and redirects. The caller reads (or dumps) the body. Status
   * codes other than 401 and the retried ones are returned as they are.
   */
  async request(spec: RequestSpec): Promise<Response> {
    await this.ping();
    const method = spec.method;
    const replayable = typeof spec.body !== "function" || spec.retry === true;
    const retry = spec.retry ?? replayable;
    const follow = spec.followRedirects ?? (method === "GET" || method === "HEAD");
    let url = spec.url.startsWith("/") ? `${this.#base}${spec.url}` : spec.url;
    let authRetried = false;
    let scopes = spec.scopes;
    for (let redirects = 0; ; ) {
      const target = new URL(url);
      // Upload locations and pagination links are absolute URLs the registry chose: a TLS proxy that does not
      // forward the scheme hands out http://<same host>/…, where credentials would go out in clear text.
      if (target.protocol !== "https:" && !this.insecure) {
        throw new OslessError(
          "E_REGISTRY",
          `${this.domain}: refusing to send ${method} to ${target.protocol}//${target.host}${target.pathname}: not https`,
          {
            hint: "the registry (or its proxy) hands out plain-http URLs; fix its scheme forwarding, or mark it insecure only if you trust the network",
          },
        );
      }
      const sameHost = target.host === new URL(this.#base as string).host;
      const headers: Record<string, string> = { ...spec.headers };
      if (sameHost) {
        const auth = await this.#authorization(scopes);
        if (auth) headers.authorization = auth;
      }
      const res = await this.#withRetries(() => this.#send(method, url, headers, spec.body), retry, url);
      if (res.statusCode === 401 && sameHost) {
        const challenges = parseChallenges(res.headers["www-authenticate"]);
        const message = await responseText(res);
        if (authRetried) throw this.#unauthorized(message, challenges);
        authRetried = true;
        const bearer = challenges.find((c) => c.scheme === "bearer");
        if (bearer) {
          this.#challenges = challenges;
          const asked = (bearer.params.scope ?? "").split(" ").filter(Boolean);
          // New scopes first: some registries only read the first one.
          scopes = [...new Set([...asked, ...scopes])];
          this.#extraScopes = [...new Set([...asked, ...this.#extraScopes])];
          this.#tokens.clear();
          this.#fetching.clear();
          continue;
        }
        if (challenges.some((c) => c.scheme === "basic")) {
          this.#challenges = challenges;
          // Credentials refused once are not sent again (a second try could count towards an account lockout).
          if ((await this.#credential()) === undefined || headers.authorization?.startsWith("Basic ")) {
            throw this.#unauthorized(message, challenges);
          }
          continue;
        }
        throw this.#unauthorized(message, challenges);
      }
      if (follow && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        await res.body.dump().catch(() => {});
        if (++redirects > MAX_REDIRECTS) {
          throw new OslessError(
            "E_REGISTRY",
            `${this.domain}: more than ${MAX_REDIRECTS} redirects for ${spec.url}`,
          );
        }
        const next = new URL(header(res, "location") as string, url);
        this.#checkRedirect(url, next);
        url = next.toString();
        continue;
      }
      return res;
    }
  }

  #checkRedirect(from: string, to: URL): void {
    if (to.protocol !== "https:" && to.protocol !== "http:") {
      throw new OslessError("E_REGISTRY", `${this.domain}: refusing a redirect to ${to.protocol} URL ${to}`);
    }
    const fromHost = new URL(from).hostname;
    if (to.protocol === "http:" && !this.insecure) {
      throw new OslessError(
        "E_REGISTRY",
        `${this.domain}: refusing a redirect from https to plain http (${to.host})`,
        {
          hint: "mark the registry insecure only if you trust the network",
        },
      );
    }
    if (!isNonPublicAddress(fromHost) && isNonPublicAddress(to.hostname)) {
      throw new OslessError(
        "E_REGISTRY",
        `${this.domain}: refusing a redirect from public host ${fromHost} to non-public address ${to.hostname}`,
        { hint: "the registry (or something in between) tried to reach a private network" },
      );
    }
  }

  #unauthorized(message: string, challenges: Challenge[]): OslessError {
    const scheme = challenges[0]?.scheme;
    const err = registryError(401, message, `${this.domain}`);
    const hasCreds = this.#credentialsKnown;
    return new OslessError(
      "E_UNAUTHORIZED",
      `${this.domain}: authentication ${hasCreds ? "failed" : "required"}${scheme ? ` (${scheme})` : ""}: ${err.message}`,
      {
        hint: hasCreds
          ? `check the credentials from ${hasCreds}, or run \`osless login ${this.domain}\` again`
          : `run \`osless login ${this.domain}\` (or pass --creds USER:PASSWORD)`,
        details: { host: this.host },
      },
    );
  }

  #credentialsKnown: string | undefined;

  #credential(): Promise<Credential | undefined> {
    this.#credentials ??= (async () => {
      const c = await this.#opts.credentials?.();
      this.#credentialsKnown = c?.source;
      return c;
    })();
    return this.#credentials;
  }

  async #authorization(scopes: string[]): Promise<string | undefined> {
    const challenges = this.#challenges ?? [];
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer) return `Bearer ${await this.#token(bearer, scopes)}`;
    if (challenges.some((c) => c.scheme === "basic")) {
      const c = await this.#credential();
      if (c?.username !== undefined && c.password !== undefined) {
        return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
      }
    }
    return undefined;
  }

  async #token(challenge: Challenge, wanted: string[]): Promise<string> {
    const scopes = [...new Set([...wanted, ...this.#extraScopes])];
    const key = scopeKey(scopes);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    let pending = this.#fetching.get(key);
    if (!pending) {
      const p = this.#fetchToken(challenge, scopes, key).finally(() => {
        if (this.#fetching.get(key) === p) this.#fetching.delete(key);
      });
      this.#fetching.set(key, p);
      pending = p;
    }
    return pending;
  }

  async #fetchToken(challenge: Challenge, scopes: string[], key: string): Promise<string> {
    const realm = this.#checkRealm(challenge.params.realm);
    const service = challenge.params.service;
    const cred = await this.#credential();
    const withCreds =
      realm.protocol === "https:" || realm.hostname === new URL(this.#base as string).hostname;
    let body: unknown;
    if (cred?.identityToken && withCreds) {
      body = await this.#oauthToken(realm, service, scopes, cred.identityToken);
    }
    if (body === undefined) {
      const u = new URL(realm);
      if (service !== undefined) u.searchParams.set("service", service);
      for (const s of scopes) u.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      if (withCreds && cred?.username !== undefined && cred.password !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
      }
      const res = await this.#tokenRequest("GET", u, headers, undefined);
      body = await this.#tokenBody(res, realm);
    }
    const b = body as { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    const token = typeof b.token === "string" && b.token !== "" ? b.token : b.access_token;
    if (typeof token !== "string" || token === "") {
      throw new OslessError(
        "E_UNAUTHORIZED",
        `${this.domain}: the token server at ${realm.host} sent no token`,
        {
          hint: "the registry's auth service is misbehaving; try again later",
        },
      );
    }
    const expiresIn = typeof b.expires_in === "number" && b.expires_in > 0 ? b.expires_in : 60;
    const issued = typeof b.issued_at === "string" ? Date.parse(b.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    // Renew a little early so that a token does not expire in flight.
    this.#tokens.set(key, { token, expiresAt: start + expiresIn * 1000 - Math.min(10_000, expiresIn * 100) });
    return token;
  }

  /** The OAuth2 refresh-token flow (identity tokens from `docker login` to Docker Hub and others). */
  async #oauthToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    refresh: string,
  ): Promise<unknown> {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refresh,
      client_id: "osless",
      scope: scopes.join(" "),
    });
    if (service !== undefined) form.set("service", service);
    const res = await this.#tokenRequest(
      "POST",
      realm,
      { "content-type": "application/x-www-form-urlencoded" },
      form.toString(),
    );
    if (res.statusCode === 404 || res.statusCode === 405) {
      await res.body.dump().catch(() => {});
      return undefined; // the server only speaks the GET flow
    }
    return this.#tokenBody(res, realm);
  }

  async #tokenRequest(
    method: "GET" | "POST",
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Response> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const res = await this.#withRetries(
        () => this.#send(method, current.toString(), current.host === url.host ? headers : {}, body),
        true,
        current.toString(),
      );
      if (
        res.statusCode >= 300 &&
        res.statusCode < 400 &&
        res.headers.location &&
        redirects < MAX_REDIRECTS
      ) {
        await res.body.dump().catch(() => {});
        const next = new URL(header(res, "location") as string, current);
        this.#checkRealm(next.toString());
        current = next;
        continue;
      }
      return res;
    }
  }

  async #tokenBody(res: Response, realm: URL): Promise<unknown> {
    const text = await responseText(res, 1 << 20);
    if (res.statusCode !== 200) {
      const err = registryError(res.statusCode, text, `token server ${realm.host}`);
      const denied = res.statusCode === 401 || res.statusCode === 403;
      throw new OslessError(
        denied ? "E_UNAUTHORIZED" : "E_REGISTRY",
        `${this.domain}: the token server at ${realm.host} answered ${res.statusCode}: ${err.message}`,
        {
          hint: denied
            ? this.#credentialsKnown
              ? `check the credentials from ${this.#credentialsKnown}, or run \`osless login ${this.domain}\``
              : `run \`osless login ${this.domain}\``
            : "try again later",
          details: { host: this.host, status: res.statusCode },
        },
      );
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new OslessError(
        "E_UNAUTHORIZED",
        `${this.domain}: the token server at ${realm.host} sent invalid JSON`,
      );
    }
  }

  /** A realm must be https (http only for insecure registries) and must not point into private networks. */
  #checkRealm(realm: string | undefined): URL {
    let u: URL;
    try {
      if (!realm) throw new Error("empty");
      u = new URL(realm);
    } catch {
      throw new OslessError(
        "E_UNAUTHORIZED",
        `${this.domain}: the Bearer challenge has no valid realm (${realm})`,
        {
          hint: "the registry's auth configuration is broken",
        },
      );
    }
    const registryHostname = new URL(this.#base as string).hostname;
    if (u.protocol !== "https:" && !(u.protocol === "http:" && this.insecure)) {
      throw new OslessError("E_UNAUTHORIZED", `${this.domain}: refusing token realm ${u.origin}: not https`, {
        hint: "only registries marked insecure may use plain-http token servers",
      });
    }
    if (isNonPublicAddress(u.hostname) && u.hostname !== registryHostname) {
      throw new OslessError(
        "E_UNAUTHORIZED",
        `${this.domain}: refusing token realm ${u.origin}: a private, loopback or link-local address`,
        { hint: "a registry must not send credentials into a private network; check the registry" },
      );
    }
    return u;
  }

  async #withRetries(send: () => Promise<Response>, retry: boolean, url: string): Promise<Response> {
    const policy = this.retry;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await send();
      } catch (e) {
        if (this.#opts.signal?.aborted) throw this.#opts.signal.reason;
        // Refused before the registry ever answered: a wrong host or port, not a blip. Fail at once instead of
        // backing off for a minute per scheme (ggcr never retries ECONNREFUSED).
        const refusedAtFirst = (e as { code?: unknown })?.code === "ECONNREFUSED" && this.#base === undefined;
        if (retry && attempt < policy.attempts && isTransportError(e) && !refusedAtFirst) {
          await this.#backoff(attempt, undefined, url, (e as Error).message);
          continue;
        }
        throw this.#networkError(e, url);
      }
      if (retry && RETRY_STATUSES.has(res.statusCode) && attempt < policy.attempts) {
        const after = parseRetryAfter(res.headers["retry-after"]);
        await res.body.dump().catch(() => {});
        await this.#backoff(attempt, after, url, `HTTP ${res.statusCode}`);
        continue;
      }
      return res;
    }
  }

  /** The backoff of the retry policy, for callers that retry whole sequences of requests (uploads). */
  backoff(attempt: number, url: string, why: string): Promise<void> {
    return this.#backoff(attempt, undefined, url, why);
  }

  /** Wait before attempt `attempt + 1`: Retry-After when given, else exponential backoff with jitter. */
  async #backoff(attempt: number, retryAfterMs: number | undefined, url: string, why: string): Promise<void> {
    const p = this.retry;
    const exp = p.baseDelayMs * p.factor ** (attempt - 1);
    const delay = Math.min(p.maxDelayMs, retryAfterMs ?? exp * (1 + (Math.random() - 0.5) * 0.2));
    this.#opts.events?.({
      type: "note",
      level: "info",
      text: `${new URL(url).host}: ${why}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${p.attempts})`,
    });
    await sleep(delay, this.#opts.signal);
  }

  #networkError(e: unknown, url: string): unknown {
    if (isOslessError(e)) return e;
    if ((e as Error)?.name === "AbortError" || this.#opts.signal?.aborted) return e;
    const u = new URL(url);
    const code = (e as { code?: string }).code;
    const cause = (e as Error)?.message ?? String(e);
    return new OslessError("E_NETWORK", `cannot reach ${u.host}: ${code ? `${code} ` : ""}${cause}`, {
      hint:
        code === "ENOTFOUND" || code === "EAI_AGAIN"
          ? "check the registry host name and your DNS"
          : code === "ECONNREFUSED"
            ? "is the registry running on that host and port?"
            : /certificate|SSL|TLS|EPROTO/i.test(`${code} ${cause}`)
              ? `TLS failed; for a registry without valid TLS pass --tls-verify=false (only if you trust the network)`
              : "check the network and the registry address, then try again",
      details: { host: u.host, code },
      cause: e,
    });
  }

  #send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Body | undefined,
  ): Promise<Response> {
    const h: Record<string, string> = { "user-agent": this.#opts.userAgent ?? "osless/0.1", ...headers };
    return this.#pool.request(url, {
      method,
      headers: h,
      body: typeof body === "function" ? body() : body,
      signal: this.#opts.signal,
    });
  }
}

function scopeKey(scopes: string[]): string {
  return [...scopes].sort().join(" ");
}
