/**
 * The local web server of `osless explore IMAGE --web`: the page (page.html.ts, page.js.ts, page.css.ts) and the
 * JSON API of api.ts (documented there) over one `ExplorerModel`, on node:http.
 *
 * Exposure: bound to 127.0.0.1 only; every request must name this server in its Host header (127.0.0.1:PORT or
 * localhost:PORT), so that a page of another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets a
 * 403; only GET is served (405 otherwise, HEAD included); anything outside the page's three files and /api/* is
 * a 404. Every answer carries a strict Content-Security-Policy (scripts, styles and fetches from this origin only,
 * no inline script or style, no framing), nosniff, no-referrer, same-origin resource and opener policies, and
 * no-store.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { isOslessError, OslessError } from "../../errors.ts";
import type { ExplorerModel } from "../types.ts";
import { downloadTarget, HttpError, imageInfo, search, toJson, treeChildren, treemap } from "./api.ts";
import { PAGE_CSS } from "./page.css.ts";
import { PAGE_HTML } from "./page.html.ts";
import { PAGE_JS } from "./page.js.ts";

export interface WebServerOptions {
  /** TCP port on 127.0.0.1; 0 or absent: a free one. */
  port?: number | undefined;
  /** Aborting closes the server. */
  signal?: AbortSignal | undefined;
}

export interface WebServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  close(): Promise<void>;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

const ASSETS: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: PAGE_HTML },
  "/index.html": { type: "text/html; charset=utf-8", body: PAGE_HTML },
  "/app.js": { type: "text/javascript; charset=utf-8", body: PAGE_JS },
  "/app.css": { type: "text/css; charset=utf-8", body: PAGE_CSS },
};

const API: Record<string, (model: ExplorerModel, q: URLSearchParams) => unknown> = {
  "/api/image": (model) => imageInfo(model),
  "/api/tree": treeChildren,
  "/api/search": search,
  "/api/treemap": treemap,
};

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
) {
  const buf = Buffer.from(body, "utf8");
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...extra,
    "Content-Type": type,
    "Content-Length": String(buf.length),
  });
  res.end(buf);
}

function sendError(res: ServerResponse, e: unknown): void {
  let status = 500;
  let message = e instanceof Error ? e.message : String(e);
  let hint: string | undefined;
  if (e instanceof HttpError) {
    status = e.status;
    hint = e.hint;
  } else if (isOslessError(e)) {
    status = e.code === "E_NOT_FOUND" ? 404 : 500;
    hint = e.hint;
  } else {
    message = `internal error: ${message}`;
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(
    res,
    status,
    "application/json; charset=utf-8",
    toJson({ error: { status, message, ...(hint ? { hint } : {}) } }),
  );
}

/** `filename` for Content-Disposition: an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 8187). */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_") || "download";
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

async function download(model: ExplorerModel, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const t = downloadTarget(model, q);
  // The first chunk is read before the headers go out, so that a model that fails at once still gets a 404/500.
  const it = model.readFile(t.path, t.layer)[Symbol.asyncIterator]();
  const first = await it.next();
  res.writeHead(200, {
    ...COMMON_HEADERS,
    "Content-Type": "application/octet-stream",
    "Content-Disposition": disposition(t.name),
  });
  async function* all(): AsyncGenerator<Buffer> {
    try {
      for (let r = first; !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  }
  await pipeline(all(), res);
}

function handler(model: ExplorerModel, hosts: () => Set<string>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!hosts().has(host)) {
      sendError(
        res,
        new HttpError(
          403,
          `Host ${JSON.stringify(req.headers.host ?? "")} is not this server`,
          `open ${[...hosts()][0]}`,
        ),
      );
      return;
    }
    if (req.method !== "GET") {
      res.setHeader("Allow", "GET");
      sendError(res, new HttpError(405, `${req.method} is not allowed: this server only answers GET`));
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `http://${host}`);
    } catch {
      sendError(res, new HttpError(400, "the request target is not a URL"));
      return;
    }
    const q = url.searchParams;
    const asset = ASSETS[url.pathname];
    if (asset) {
      send(res, 200, asset.type, asset.body);
      return;
    }
    if (url.pathname === "/api/file") {
      download(model, q, res).catch((e) => sendError(res, e));
      return;
    }
    try {
      const api = API[url.pathname];
      if (!api)
        throw new HttpError(
          404,
          `${url.pathname} is not a page or API of this server`,
          "the API is under /api/",
        );
      send(res, 200, "application/json; charset=utf-8", toJson(api(model, q)));
    } catch (e) {
      sendError(res, e);
    }
  };
}

/**
 * Serves `model` on 127.0.0.1 (`port`, or a free port) until `close()` or until `signal` aborts. E_USAGE for a bad
 * port, E_IO when the port cannot be bound.
 */
export async function startWebServer(model: ExplorerModel, opts: WebServerOptions = {}): Promise<WebServer> {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new OslessError("E_USAGE", `port ${port} is not a TCP port`, {
      hint: "give a port from 1 to 65535, or none",
    });
  opts.signal?.throwIfAborted();
  let allowed = new Set<string>();
  const server: Server = createServer(handler(model, () => allowed));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "EADDRINUSE"
          ? "the port is in use"
          : e.code === "EACCES"
            ? "permission denied"
            : e.message;
      reject(
        new OslessError("E_IO", `cannot serve on 127.0.0.1:${port}: ${why}`, {
          hint: "choose another --port, or leave it out for a free one",
          cause: e,
        }),
      );
    };
    server.once("error", onError);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  allowed = new Set([`127.0.0.1:${bound}`, `localhost:${bound}`]);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  if (opts.signal) {
    const onAbort = () => void close();
    opts.signal.addEventListener("abort", onAbort, { once: true });
    server.once("close", () => opts.signal?.removeEventListener("abort", onAbort));
  }
  return { url: `http://127.0.0.1:${bound}/`, close };
}
