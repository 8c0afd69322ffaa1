/**
 * The live node's HTTP API server: status, blocks, execution records, world summary,
 * server-sent events, Prometheus metrics, the viewer page and token-guarded action
 * submission (routes in `http_routes.ts`). Every failure is answered as JSON
 * `{"error": "...", "code": "..."}` (`http_errors.ts`); no request can take the
 * server down.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import type { Logger } from "../logger.ts";
import { HttpError, quoted } from "./http_input.ts";
import {
  type BoundedServer,
  type ConnInfo,
  defaultHttpLimits,
  type HttpLimits,
  serveBounded,
} from "./http_server.ts";
import { errorResponse } from "./http_errors.ts";
import { type LiveApi, matchRoute, routes } from "./http_routes.ts";
import { SseHub } from "./sse.ts";
import type { SseHubOptions } from "./sse.ts";

export type { LiveApi } from "./http_routes.ts";
export { statusOfCode } from "./http_errors.ts";

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Address to bind. */
  hostname: string;
  /** TCP port; 0 = any free port. */
  port: number;
  logger: Logger;
  /** Event stream tuning (ping interval, slow-client limit, client cap). */
  sse: Partial<SseHubOptions>;
  /** Connection, timeout and size limits (see {@link defaultHttpLimits}). */
  limits: Partial<HttpLimits>;
}

/** Defaults of {@link HttpServerOptions}. */
export const defaultHttpServerOptions: Readonly<HttpServerOptions> = {
  hostname: "127.0.0.1",
  port: 7070,
  logger: silentLogger,
  sse: {},
  limits: defaultHttpLimits,
};

/** A running server. */
export interface HttpServer {
  /** Base URL, e.g. `http://127.0.0.1:7070/`. */
  readonly url: string;
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  readonly hostname: string;
  /** Ends event streams, waits for requests in flight, closes the listener. */
  shutdown(): Promise<void>;
}

/**
 * Whether `host` (a `Host` header value, with or without port) names this machine's
 * loopback interface: `localhost`, `127.x.x.x` or `[::1]`.
 */
export function isLoopbackHostHeader(host: string): boolean {
  const name = /^(\[[^\]]*\]|[^:]*)(?::\d{1,5})?$/.exec(host.trim())?.[1]?.toLowerCase();
  if (name === undefined) return false;
  return isLoopbackName(name.replace(/^\[|\]$/g, ""));
}

/** Whether a host name or address (no port, no brackets) is a loopback one. */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return n === "localhost" || n === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(n);
}

/**
 * Starts the HTTP server for `api`. Throws an {@link AwrError} `HTTP_LISTEN` when the
 * address cannot be bound.
 *
 * @example
 * ```ts ignore
 * import { startHttpServer } from "./http.ts";
 * const server = await startHttpServer(api, { port: 0 });
 * console.log(server.url);
 * await server.shutdown();
 * ```
 */
export function startHttpServer(
  api: LiveApi,
  options: Partial<HttpServerOptions> = {},
): Promise<HttpServer> {
  // Binding is synchronous now; the promise keeps callers' `await` and rejections.
  try {
    return Promise.resolve(startNow(api, options));
  } catch (err) {
    return Promise.reject(err);
  }
}

function startNow(api: LiveApi, options: Partial<HttpServerOptions>): HttpServer {
  const opts: HttpServerOptions = { ...defaultHttpServerOptions, ...options };
  const { hostname, logger } = opts;
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new AwrError("HTTP_OPTIONS", `port must be an integer in 0..65535, got ${opts.port}`);
  }
  const hub = new SseHub(api.events, { logger, ...opts.sse });
  const table = routes(api, hub, logger);
  // Bound to loopback, the API is for this machine only: a page from another origin
  // that re-points its DNS name at 127.0.0.1 (DNS rebinding) still sends its own name.
  const checkHost = isLoopbackName(hostname);

  const handle = async (req: Request, info: ConnInfo): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const found = matchRoute(table, path);
    let res: Response;
    try {
      const host = req.headers.get("host") ?? "";
      if (checkHost && !isLoopbackHostHeader(host)) {
        throw new HttpError(
          421,
          "HTTP_HOST_REFUSED",
          `this node serves loopback clients only; Host ${quoted(host)} is not a loopback name`,
        );
      }
      if (!found) throw new HttpError(404, "HTTP_NOT_FOUND", `no such path: ${quoted(path)}`);
      const methods = found.route.methods;
      // HEAD is GET without the body (the server drops it).
      const handler = methods[req.method] ?? (req.method === "HEAD" ? methods.GET : undefined);
      if (!handler) {
        const allow = Object.keys(methods).flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m])
          .join(", ");
        throw new HttpError(
          405,
          "HTTP_METHOD_NOT_ALLOWED",
          `${req.method} is not allowed on ${path}; use ${allow}`,
          { allow },
        );
      }
      res = await handler(req, found.param, info);
    } catch (err) {
      res = errorResponse(err, logger, path);
    }
    api.metrics.countHttpRequest(found?.route.name ?? "unknown", res.status);
    return res;
  };

  let server: BoundedServer;
  try {
    server = serveBounded(handle, {
      ...defaultHttpLimits,
      ...opts.limits,
      hostname,
      port: opts.port,
      logger,
    });
  } catch (err) {
    if (err instanceof AwrError) throw err;
    throw new AwrError(
      "HTTP_LISTEN",
      `cannot listen on ${hostname}:${opts.port}: ${errorMessage(err)}`,
      { hostname, port: opts.port },
      { cause: err },
    );
  }
  api.metrics.setSseClientSource(() => hub.clientCount);
  const port = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  logger.info("http listening", { url: `http://${host}:${port}/` });
  let stopping: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}/`,
    port,
    hostname,
    shutdown: () =>
      stopping ??= (async () => {
        // Event streams never end on their own; close them so shutdown can finish.
        hub.closeAll();
        await server.shutdown();
        api.metrics.setSseClientSource(() => 0);
      })(),
  };
}
