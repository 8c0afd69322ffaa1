/**
 * A test-only front for the node's HTTP server that adds the driver-provided views
 * the viewer reads (`GET /v1/world` with agents, `GET /v1/journal?from=&limit=`,
 * `GET /v1/agents/:id`) from a {@link FakeLiveApi}, and passes every other request
 * (the page, status, events, actions) through to the real server untouched.
 *
 * Why a front: those routes belong to the driver-agnostic API work on another
 * branch; until it lands, this serves the proposed shapes (and the JSON 501
 * `{code: "NOT_PROVIDED_BY_DRIVER", driver}` of a driver without the world
 * capability) without touching `src/live/http.ts`.
 * @module
 */
import { AwrError } from "../../src/errors.ts";
import type { FakeLiveApi } from "./fake_live_api.ts";

/** A running front. */
export interface FakeViewsFront {
  /** Base URL the browser should open. */
  readonly url: string;
  /** Stops the front (end the upstream's event streams first, or this waits for them). */
  shutdown(): Promise<void>;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

async function view(load: () => Promise<unknown | null>, what: string): Promise<Response> {
  try {
    const found = await load();
    return found === null ? json(404, { error: `no ${what}`, code: "HTTP_NOT_FOUND" }) : json(
      200,
      found,
    );
  } catch (err) {
    if (err instanceof AwrError && err.code === "NOT_PROVIDED_BY_DRIVER") {
      return json(501, { ...err.context, error: err.message, code: err.code });
    }
    throw err;
  }
}

const MAX_JOURNAL_LIMIT = 500;

function intParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  const n = v === null ? fallback : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : fallback;
}

/**
 * Starts a front on 127.0.0.1 (any free port) before `upstream` (the real
 * server's base URL).
 */
export function startFakeViewsFront(api: FakeLiveApi, upstream: string): FakeViewsFront {
  const client = Deno.createHttpClient({});
  const base = new URL(upstream);
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (req.method === "GET" && path === "/v1/world") return await view(() => api.world(), "world");
    if (req.method === "GET" && path === "/v1/journal") {
      const from = intParam(url, "from", 0);
      const limit = Math.min(intParam(url, "limit", 100), MAX_JOURNAL_LIMIT);
      return await view(() => api.journal(from, limit), "journal");
    }
    const agent = /^\/v1\/agents\/([^/]+)$/.exec(path);
    if (req.method === "GET" && agent) {
      const id = decodeURIComponent(agent[1]);
      return await view(() => api.agent(id), `agent ${id}`);
    }
    const target = new URL(path + url.search, base);
    const headers = new Headers(req.headers);
    headers.set("host", base.host);
    const res = await fetch(target, {
      method: req.method,
      headers,
      body: req.body,
      client,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    shutdown: async () => {
      await server.shutdown();
      client.close();
    },
  };
}
