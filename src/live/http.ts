/**
 * The live node's HTTP API: status, blocks, execution records, world summary,
 * server-sent events, Prometheus metrics, the viewer page and token-guarded action
 * submission. Every failure is answered as JSON `{"error": "...", "code": "..."}`;
 * no request can take the server down.
 * @module
 */
import { AwrError, errorChain, errorMessage } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import type { Logger } from "../logger.ts";
import type { NodeEvents } from "../node/events.ts";
import type { SubmitResult } from "../node/mempool.ts";
import type { ActionReport } from "./action_outcome.ts";
import { ActionError } from "../world/actions.ts";
import type { WorldAction } from "../world/actions.ts";
import {
  causeField,
  errorBody,
  HttpError,
  MAX_ACTIONS_BODY_BYTES,
  parseActionId,
  parseActionsBody,
  parseHeightParam,
  parseIdempotencyKey,
  quoted,
  readBodyText,
  requireBearerToken,
} from "./http_input.ts";
import {
  type BoundedServer,
  ClientGoneError,
  type ConnInfo,
  defaultHttpLimits,
  type HttpLimits,
  serveBounded,
} from "./http_server.ts";
import type { LiveMetrics } from "./metrics.ts";
import { SseHub } from "./sse.ts";
import type { SseHubOptions } from "./sse.ts";
import { viewerPageCsp, viewerPageHtml } from "./viewer_page.ts";
import { agentView, journalView, worldView } from "./http_views.ts";

/**
 * What the HTTP server needs from the live node.
 *
 * `status()` is the node snapshot in its snake_case JSON form (`snapshotToJson`),
 * optionally with extra top-level fields the page shows when present
 * (`mempool_size`, `execution_mode`). `world()` is the world summary with
 * snake_case keys (`clock`, `agent_count`, `bucket_count`, `journal_len`,
 * `energy_total`, `resource_totals`). `submitActions` may throw an {@link AwrError}
 * to refuse a batch: `MEMPOOL_FULL`, `NODE_HALTED`, `NODE_NOT_RUNNING` and
 * `MEMPOOL_IO` are answered 503, `IDEMPOTENCY_KEY_REUSED` 409 (see {@link statusOfCode}).
 */
export interface LiveApi {
  /** JSON for `GET /v1/status`. */
  status(): Promise<Record<string, unknown>>;
  /** JSON of the committed block at `height`; null = 404. */
  block(height: number): Promise<unknown | null>;
  /** JSON of the execution record at `height`; null = 404. */
  record(height: number): Promise<unknown | null>;
  /**
   * World summary for `GET /v1/world?limit=` and the page (the driver's `summary`
   * capability, with at most `agentLimit` agents in `agents`; may throw
   * `NOT_PROVIDED_BY_DRIVER`, answered 501).
   */
  world(agentLimit?: number): Promise<Record<string, unknown>>;
  /** Agent `id` (`agent` capability); null = 404. */
  agent(id: string): Promise<Record<string, unknown> | null>;
  /** Journal page `{from, events, next, journal_len}` (`journal` capability). */
  journal(from: number, limit: number): Promise<Record<string, unknown>>;
  /**
   * Queues checked actions (all or nothing) and resolves once they are durable; a
   * known idempotency key answers the original ids with `replayed: true`.
   */
  submitActions(actions: WorldAction[], idempotencyKey: string | null): Promise<SubmitResult>;
  /** Where action `id` is and what the world made of it; null when unknown (404). */
  actionStatus(id: string): Promise<ActionReport | null>;
  /** The node's events (feeds `GET /v1/events`). */
  readonly events: NodeEvents;
  /** Rendered by `GET /metrics`. */
  readonly metrics: LiveMetrics;
  /** Bearer token of state-changing calls; an empty token refuses every such call. */
  readonly token: string;
}

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

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

type Handler = (
  req: Request,
  param: string,
  info: ConnInfo,
) => Promise<Response> | Response;

/** A signal that aborts once the response is delivered or the client is gone. */
function responseEnded(info: ConnInfo): AbortSignal {
  const ended = new AbortController();
  const abort = () => ended.abort();
  info.completed.then(abort, abort);
  return ended.signal;
}

interface Route {
  readonly name: string;
  readonly path: string | RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

function routes(api: LiveApi, hub: SseHub, logger: Logger): Route[] {
  const getJson = (load: () => Promise<unknown>): Handler => async () =>
    jsonResponse(200, await load());
  const byHeight = (what: string, load: (h: number) => Promise<unknown | null>): Handler => {
    return async (_req, param) => {
      const height = parseHeightParam(param);
      const found = await load(height);
      if (found === null || found === undefined) {
        throw new HttpError(404, "HTTP_NOT_FOUND", `no ${what} at height ${height}`, { height });
      }
      return jsonResponse(200, found);
    };
  };
  const submit: Handler = async (req) => {
    requireBearerToken(req, api.token);
    const key = parseIdempotencyKey(req);
    const actions = parseActionsBody(await readBodyText(req, MAX_ACTIONS_BODY_BYTES));
    // Answered only after the mempool log is fsynced: a 2xx is durable.
    const r = await api.submitActions(actions, key);
    logger.debug("actions accepted", { accepted: r.ids.length, replayed: r.replayed });
    return jsonResponse(r.replayed ? 200 : 202, {
      accepted: r.ids.length,
      ids: r.ids,
      replayed: r.replayed,
      mempool_size: r.mempoolSize,
    });
  };
  const actionStatus: Handler = async (_req, param) => {
    const id = parseActionId(param);
    const found = await api.actionStatus(id);
    if (!found) {
      throw new HttpError(404, "ACTION_UNKNOWN", `no action ${id} is pending or remembered`, {
        id,
      });
    }
    return jsonResponse(200, { id, ...found });
  };
  return [
    {
      name: "page",
      path: "/",
      methods: {
        GET: () =>
          new Response(viewerPageHtml(), {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "cache-control": "no-cache",
              "content-security-policy": viewerPageCsp(),
              "x-content-type-options": "nosniff",
              "referrer-policy": "no-referrer",
            },
          }),
      },
    },
    { name: "status", path: "/v1/status", methods: { GET: getJson(() => api.status()) } },
    {
      name: "world",
      path: "/v1/world",
      methods: { GET: async (req) => jsonResponse(200, await worldView(api, req.url)) },
    },
    {
      name: "agent",
      path: /^\/v1\/agents\/([^/]*)$/,
      methods: { GET: async (_req, param) => jsonResponse(200, await agentView(api, param)) },
    },
    {
      name: "journal",
      path: "/v1/journal",
      methods: { GET: async (req) => jsonResponse(200, await journalView(api, req.url)) },
    },
    {
      name: "blocks",
      path: /^\/v1\/blocks\/([^/]*)$/,
      methods: { GET: byHeight("committed block", (h) => api.block(h)) },
    },
    {
      name: "records",
      path: /^\/v1\/records\/([^/]*)$/,
      methods: { GET: byHeight("execution record", (h) => api.record(h)) },
    },
    {
      name: "events",
      path: "/v1/events",
      methods: {
        GET: (_req, _param, info) => {
          if (hub.full) {
            throw new HttpError(
              503,
              "HTTP_SSE_FULL",
              `the server streams events to ${hub.clientCount} clients already; retry later`,
            );
          }
          return hub.open(responseEnded(info));
        },
      },
    },
    {
      name: "metrics",
      path: "/metrics",
      methods: {
        GET: () =>
          new Response(api.metrics.render(), {
            headers: {
              "content-type": "text/plain; version=0.0.4; charset=utf-8",
              "cache-control": "no-store",
              "x-content-type-options": "nosniff",
            },
          }),
      },
    },
    { name: "actions", path: "/v1/actions", methods: { POST: submit } },
    { name: "action", path: /^\/v1\/actions\/([^/]*)$/, methods: { GET: actionStatus } },
  ];
}

function match(table: Route[], path: string): { route: Route; param: string } | null {
  for (const route of table) {
    if (typeof route.path === "string") {
      if (route.path === path) return { route, param: "" };
      continue;
    }
    const m = route.path.exec(path);
    if (m) return { route, param: m[1] };
  }
  return null;
}

/** Codes of {@link AwrError}s a handler may let through, and their HTTP status. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  NODE_HALTED: 503,
  NODE_NOT_RUNNING: 503,
  MEMPOOL_FULL: 503,
  MEMPOOL_IO: 503,
  IDEMPOTENCY_KEY_REUSED: 409,
  MEMPOOL_BATCH_TOO_LARGE: 413,
  MEMPOOL_BAD_KEY: 400,
  NOT_PROVIDED_BY_DRIVER: 501,
};

/**
 * HTTP status of an error the node raised, or null when it is not a client-facing code.
 *
 * @example
 * ```ts
 * import { statusOfCode } from "./http.ts";
 * statusOfCode("MEMPOOL_FULL"); // 503
 * ```
 */
export function statusOfCode(code: string): number | null {
  return Object.hasOwn(STATUS_OF_CODE, code) ? STATUS_OF_CODE[code] : null;
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

function errorResponse(err: unknown, logger: Logger, path: string): Response {
  // The client left (or dripped its body too slowly): nothing failed on our side.
  const gone = err instanceof ClientGoneError ? err : (err as Error | null)?.cause;
  if (gone instanceof ClientGoneError) {
    logger.debug("request body not received", { path, reason: gone.message });
    const status = gone.code === "HTTP_BODY_TIMEOUT"
      ? 408
      : gone.code === "HTTP_BODY_TOO_LARGE"
      ? 413
      : 400;
    return jsonResponse(status, { error: gone.message, code: gone.code });
  }
  const mapped = err instanceof AwrError && !(err instanceof HttpError)
    ? statusOfCode(err.code)
    : null;
  if (mapped !== null && err instanceof AwrError) {
    // 501: a view the driver does not offer (the viewer polls it); not worth a warning.
    if (mapped >= 500 && mapped !== 501) {
      logger.warn("write refused", { path, code: err.code, error: err.message });
    }
    // A refusal the client can retry later: say when (the node resumes by itself).
    const headers: Record<string, string> = mapped === 503 ? { "retry-after": "1" } : {};
    return jsonResponse(mapped, errorBody(err), headers);
  }
  if (err instanceof HttpError || err instanceof ActionError) {
    const status = err instanceof HttpError ? err.status : 400;
    const headers: Record<string, string> = status === 401
      ? { "www-authenticate": 'Bearer realm="awr"' }
      : status === 405
      ? { allow: String(err.context.allow) }
      : {};
    return jsonResponse(status, errorBody(err), headers);
  }
  logger.error("request failed", { path, error: errorChain(err) });
  return jsonResponse(500, {
    error: `internal error: ${errorChain(err)}`,
    code: "HTTP_INTERNAL",
    ...causeField(err),
  });
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
    const found = match(table, path);
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
