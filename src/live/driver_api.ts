/**
 * The parts of the live API that depend on the driver: execution records (the node's
 * own result log, for any driver, with the bridge driver's richer record fields
 * when present) and the world views, which come from the driver's optional
 * capabilities (`summary`, `agent`, `journal`); without one the API answers
 * 501 `NOT_PROVIDED_BY_DRIVER` naming the driver.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { DriverExecutionHook } from "../driver/create_hook.ts";
import { readRecord } from "../execution/records.ts";
import { WORLD_AGENTS_LIMIT } from "../execution/world_views.ts";
import { resultEntryJson } from "../node/result_log.ts";
import type { NodeRuntime } from "../node/runtime.ts";

/** Default and most journal events one `GET /v1/journal` answers. */
export const JOURNAL_LIMIT = { default: 100, max: 1_000 } as const;

/** What {@link driverApi} serves. */
export interface DriverApi {
  /** The node's result of `height` merged with the bridge record's fields; null = none. */
  record(height: number): Promise<Record<string, unknown> | null>;
  /**
   * The driver's `summary` with at most `agentLimit` agents (default
   * {@link WORLD_AGENTS_LIMIT}`.default`; throws `NOT_PROVIDED_BY_DRIVER` without it).
   */
  world(agentLimit?: number): Promise<Record<string, unknown>>;
  /** The driver's `agent(id)`; null when the world has no such agent. */
  agent(id: string): Promise<Record<string, unknown> | null>;
  /** The driver's `journal(from, limit)` as `{from, events, next, journal_len}`. */
  journal(from: number, limit: number): Promise<Record<string, unknown>>;
}

/**
 * Records and world views for the live API.
 *
 * @example
 * ```ts ignore
 * import { driverApi } from "./driver_api.ts";
 * const api = driverApi(hook, node, "./data");
 * console.log(await api.record(1));
 * ```
 */
export function driverApi(
  hook: Pick<DriverExecutionHook, "driverName" | "capabilities" | "query">,
  node: Pick<NodeRuntime, "executionResult">,
  dataDir: string,
): DriverApi {
  const ask = async (name: "summary" | "agent" | "journal", args: unknown[]) => {
    if (!hook.capabilities.includes(name)) {
      throw new AwrError(
        "NOT_PROVIDED_BY_DRIVER",
        `driver "${hook.driverName}" does not provide "${name}" (an optional driver capability)`,
        { driver: hook.driverName, capability: name },
      );
    }
    return await hook.query(name, args);
  };
  return {
    record: async (height) => {
      const [entry, rich] = await Promise.all([
        node.executionResult(height),
        readRecord(dataDir, height),
      ]);
      if (!entry && !rich) return null;
      // The bridge driver's record adds its chain and blob references; a record
      // that disagrees with the node's entry is not this chain's (a driver switch).
      const agrees = rich && (!entry || rich.executionBlockHash === entry.executionBlockHash);
      return {
        ...(entry ? resultEntryJson(entry) : { height }),
        ...(agrees ? recordJson(rich) : {}),
      };
    },
    world: async (agentLimit = WORLD_AGENTS_LIMIT.default) => {
      const limit = Math.min(agentLimit, WORLD_AGENTS_LIMIT.max);
      const summary = await ask("summary", [limit]) as Record<string, unknown>;
      // A driver may ignore the limit: the answer stays bounded anyway.
      const agents = summary?.agents;
      if (!Array.isArray(agents) || agents.length <= limit) return summary;
      return { ...summary, agents: agents.slice(0, limit), agents_truncated: true };
    },
    agent: async (id) => await ask("agent", [id]) as Record<string, unknown> | null,
    journal: async (from, limit) => {
      const page = await ask("journal", [from, limit]) as {
        from: number;
        events: unknown[];
        next: number;
        journalLen: number;
      };
      return {
        from: page.from,
        events: page.events,
        next: page.next,
        journal_len: page.journalLen,
      };
    },
  };
}

function recordJson(r: NonNullable<Awaited<ReturnType<typeof readRecord>>>) {
  return {
    world_id: r.worldId,
    height: r.height,
    node_block_hash: r.nodeBlockHash,
    execution_block_hash: r.executionBlockHash,
    prev_execution_block_hash: r.prevExecutionBlockHash,
    execution_state_root: r.executionStateRoot,
    journal_len: r.journalLen,
    manifest_ref: r.manifestRef,
    journal_ref: r.journalRef,
    timestamp_ms: r.timestampMs,
    hash: r.hash,
  };
}
