/**
 * What pull, push and copy share: a registry client per domain with the user's credentials and TLS choices, and a
 * small concurrency limiter.
 */
import { type AuthOptions, type Credential, lookupCredentials } from "../auth/index.ts";
import type { EventSink } from "../events/index.ts";
import { RegistryClient } from "../registry/client.ts";
import type { RetryPolicy } from "../registry/transport.ts";

export interface RemoteOptions {
  /** Registries (domains as in references) where plain http and unverified TLS are allowed; loopback always is. */
  insecureRegistries?: string[] | undefined;
  /** false = every registry of this operation is insecure (podman/skopeo `--tls-verify=false`). */
  tlsVerify?: boolean | undefined;
  /** Credentials for this operation (skopeo `--creds`), instead of the auth file. */
  creds?: { username: string; password: string } | undefined;
  auth?: AuthOptions | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  bodyTimeoutMs?: number | undefined;
  events?: EventSink | undefined;
  signal?: AbortSignal | undefined;
}

export function registryClient(domain: string, opts: RemoteOptions): RegistryClient {
  const creds = opts.creds;
  return new RegistryClient(domain, {
    insecure: opts.tlsVerify === false || (opts.insecureRegistries ?? []).includes(domain),
    credentials: async (): Promise<Credential | undefined> =>
      creds ? { ...creds, source: "--creds" } : lookupCredentials(domain, opts.auth),
    retry: opts.retry,
    bodyTimeoutMs: opts.bodyTimeoutMs,
    events: opts.events,
    signal: opts.signal,
  });
}

/**
 * Run `fn` over `items` with at most `limit` in flight. The first failure stops new work, calls `onFailure` (to
 * cancel what is in flight, e.g. other downloads), waits for the running calls to settle, and is thrown: the
 * first one in time, not an abort error it caused elsewhere.
 */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
  onFailure?: (error: unknown) => void,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (e) {
        if (failure === undefined) {
          failure = { error: e };
          onFailure?.(e);
        }
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return out;
}

/** The short id Docker shows for a blob: the first 12 hex digits. */
export function shortId(digest: string): string {
  const i = digest.indexOf(":");
  return digest.slice(i + 1, i + 13);
}
