/**
 * The live API's route table: what the node offers ({@link LiveApi}) and which
 * path and method answer it. The server in `http.ts` matches a request here and
 * turns thrown errors into JSON (`http_errors.ts`).
 * @module
 */
import type { Logger } from "../logger.ts";
import type { NodeEvents } from "../node/events.ts";
import type { SubmitResult } from "../node/mempool.ts";
import type { WorldAction } from "../world/actions.ts";
import type { ActionReport } from "./action_outcome.ts";
import {
  HttpError,
  MAX_ACTIONS_BODY_BYTES,
  parseActionId,
  parseActionsBody,
  parseHeightParam,
  parseIdempotencyKey,
  readBodyText,
  requireBearerToken,
} from "./http_input.ts";
import type { ConnInfo } from "./http_server.ts";
import { agentView, journalView, worldView } from "./http_views.ts";
import type { LiveMetrics } from "./metrics.ts";
import type { SseHub } from "./sse.ts";
import { viewerPageCsp, viewerPageHtml } from "./viewer_page.ts";

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

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/** A JSON response with the API's no-store, nosniff headers. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

/** Answers one request; `param` is the path's captured segment (or ""). */
export type Handler = (
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

/** One path and the handlers of its methods. */
export interface Route {
  readonly name: string;
  readonly path: string | RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

/** The route table of the live API. */
export function routes(api: LiveApi, hub: SseHub, logger: Logger): Route[] {
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

/** The route serving `path` and its captured segment, or null. */
export function matchRoute(table: Route[], path: string): { route: Route; param: string } | null {
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
