/**
 * A minimal HTTP/1.1 client on node:http/node:https: one request, a Node Readable body, keep-alive pools, an idle
 * timeout that catches stalled bodies, and abort. Redirects, retries and auth are the transport's job.
 *
 * Why not undici (the pin in stack.md): importing it costs ~130 ms on this class of machine, on every CLI run —
 * over a third of what a whole `skopeo copy` of a 50 MB image takes — and nothing here needs more than node:http.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage & { dump(): Promise<void> };
}

export interface HttpPoolOptions {
  /** Verify TLS certificates (default true). */
  rejectUnauthorized?: boolean | undefined;
  /** A request whose socket is idle this long (no headers, no body bytes) fails with ETIMEDOUT. */
  idleTimeoutMs?: number | undefined;
  maxSockets?: number | undefined;
}

export interface HttpRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: Buffer | string | AsyncIterable<Uint8Array> | undefined;
  signal?: AbortSignal | undefined;
}

/** Keep-alive connection pools for http and https, shared by every request of one client. */
export class HttpPool {
  readonly #http: HttpAgent;
  /** node:https (and TLS) is loaded on the first https request only: plain-http runs never pay for it. */
  #https: Promise<{ agent: HttpsAgent; request: typeof import("node:https").request }> | undefined;
  readonly #rejectUnauthorized: boolean;
  readonly #maxSockets: number;
  readonly #idle: number;

  constructor(opts: HttpPoolOptions = {}) {
    const maxSockets = opts.maxSockets ?? 16;
    this.#maxSockets = maxSockets;
    this.#http = new HttpAgent({ keepAlive: true, maxSockets });
    this.#rejectUnauthorized = opts.rejectUnauthorized !== false;
    this.#idle = opts.idleTimeoutMs ?? 60_000;
  }

  #tls() {
    this.#https ??= import("node:https").then((m) => ({
      agent: new m.Agent({
        keepAlive: true,
        maxSockets: this.#maxSockets,
        rejectUnauthorized: this.#rejectUnauthorized,
      }),
      request: m.request,
    }));
    return this.#https;
  }

  async request(url: string, opts: HttpRequestOptions): Promise<HttpResponse> {
    const u = new URL(url);
    const tls = u.protocol === "https:" ? await this.#tls() : undefined;
    return new Promise((resolve, reject) => {
      const req = (tls ? tls.request : httpRequest)(u, {
        method: opts.method,
        headers: opts.headers,
        agent: tls ? tls.agent : this.#http,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      req.setTimeout(this.#idle, () => {
        req.destroy(Object.assign(new Error(`no data for ${this.#idle} ms`), { code: "ETIMEDOUT" }));
      });
      req.on("error", reject);
      req.on("response", (res) => {
        // A stall in the body: the socket timeout above still applies while the body streams.
        const body = res as HttpResponse["body"];
        body.dump = () =>
          new Promise<void>((done) => {
            // Not `res.complete`: that is true as soon as the parser has the whole body (always for HEAD and small
            // bodies), but the socket goes back to the pool only on 'end', which needs the body read.
            if (res.readableEnded || res.destroyed) return done();
            res.on("end", done);
            res.on("error", () => done());
            res.on("close", () => done());
            res.resume();
          });
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body });
      });
      const b = opts.body;
      if (b === undefined) req.end();
      else if (typeof b === "string" || Buffer.isBuffer(b)) req.end(b);
      else {
        // pipeline: an error on either side destroys the other (the source file is closed, the request aborted).
        pipeline(Readable.from(b, { objectMode: false }), req).catch((e) => req.destroy(e as Error));
      }
    });
  }

  close(): void {
    this.#http.destroy();
    void this.#https?.then((t) => t.agent.destroy());
  }
}
