/** The browser view of the explorer: `startWebServer(model, { port, signal })`; the JSON API is documented in api.ts. */
export { CONTENT_SECURITY_POLICY, startWebServer, type WebServer, type WebServerOptions } from "./server.ts";
