/**
 * Handlers of the driver-capability routes of the HTTP API (`/v1/world`,
 * `/v1/agents/:id`, `/v1/journal?from=&limit=`) and their input checks. A driver
 * without the capability is answered 501 `NOT_PROVIDED_BY_DRIVER` (see `http.ts`).
 * @module
 */
import { HttpError, quoted } from "./http_input.ts";
import type { LiveApi } from "./http_routes.ts";
import { JOURNAL_LIMIT } from "./driver_api.ts";
import { WORLD_AGENTS_LIMIT } from "../execution/world_views.ts";

/** Longest agent id a path may carry. */
export const MAX_AGENT_ID_CHARS = 64;

const AGENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/**
 * Checks the `:id` of `/v1/agents/:id` (the world's agent id syntax). Throws
 * {@link HttpError} 400 `HTTP_BAD_AGENT_ID`.
 *
 * @example
 * ```ts
 * import { parseAgentId } from "./http_views.ts";
 * parseAgentId("ada"); // "ada"
 * ```
 */
export function parseAgentId(text: string): string {
  let id = text;
  try {
    id = decodeURIComponent(text);
  } catch { /* checked below */ }
  if (id.length > MAX_AGENT_ID_CHARS || !AGENT_ID_RE.test(id)) {
    throw new HttpError(
      400,
      "HTTP_BAD_AGENT_ID",
      `agent id must be 1..${MAX_AGENT_ID_CHARS} characters of A-Z a-z 0-9 _ . : - ` +
        `(starting with a letter or digit), got ${quoted(text)}`,
    );
  }
  return id;
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new HttpError(
      400,
      "HTTP_BAD_QUERY",
      `query parameter ${name} must be an integer in ${min}..${max}, got ${quoted(raw)}`,
      { param: name, min, max },
    );
  }
  return n;
}

/**
 * Reads `from` (default 0) and `limit` (default {@link JOURNAL_LIMIT}.default, at most
 * `.max`) of `GET /v1/journal`. Throws {@link HttpError} 400 `HTTP_BAD_QUERY`.
 *
 * @example
 * ```ts
 * import { parseJournalQuery } from "./http_views.ts";
 * parseJournalQuery(new URL("http://x/v1/journal?from=5")); // { from: 5, limit: 100 }
 * ```
 */
export function parseJournalQuery(url: URL): { from: number; limit: number } {
  return {
    from: intParam(url, "from", 0, 0, Number.MAX_SAFE_INTEGER),
    limit: intParam(url, "limit", JOURNAL_LIMIT.default, 1, JOURNAL_LIMIT.max),
  };
}

/**
 * Reads `limit` of `GET /v1/world` (agents in the `agents` sample; default
 * {@link WORLD_AGENTS_LIMIT}`.default`, 0..`.max`). Throws {@link HttpError} 400
 * `HTTP_BAD_QUERY`.
 *
 * @example
 * ```ts
 * import { parseWorldQuery } from "./http_views.ts";
 * parseWorldQuery(new URL("http://x/v1/world?limit=10")); // { limit: 10 }
 * ```
 */
export function parseWorldQuery(url: URL): { limit: number } {
  return {
    limit: intParam(url, "limit", WORLD_AGENTS_LIMIT.default, 0, WORLD_AGENTS_LIMIT.max),
  };
}

/** Answer of `GET /v1/world?limit=`: the summary with a bounded `agents` sample. */
export async function worldView(
  api: Pick<LiveApi, "world">,
  url: string,
): Promise<Record<string, unknown>> {
  return await api.world(parseWorldQuery(new URL(url)).limit);
}

/** Answer of `GET /v1/agents/:id` (404 `AGENT_UNKNOWN` when the world has none). */
export async function agentView(
  api: Pick<LiveApi, "agent">,
  param: string,
): Promise<Record<string, unknown>> {
  const id = parseAgentId(param);
  const found = await api.agent(id);
  if (!found) throw new HttpError(404, "AGENT_UNKNOWN", `no agent ${quoted(id)}`, { id });
  return found;
}

/** Answer of `GET /v1/journal?from=&limit=`. */
export async function journalView(
  api: Pick<LiveApi, "journal">,
  url: string,
): Promise<Record<string, unknown>> {
  const q = parseJournalQuery(new URL(url));
  return await api.journal(q.from, q.limit);
}
