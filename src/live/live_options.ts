/**
 * The options of `awr live` (with their embedded defaults), what it prints and logs
 * through, and the handle of a running live node.
 * @module
 */
import type { Validator } from "../consensus/types.ts";
import type { DriverGrants } from "../driver/sandbox.ts";
import type { ExecutionMode } from "../execution/state_file.ts";
import type { Logger } from "../logger.ts";
import type { NodeRuntime } from "../node/runtime.ts";
import type { CrashAt } from "./crash_at.ts";
import type { HttpServer, HttpServerOptions } from "./http.ts";
import type { LiveMetrics } from "./metrics.ts";
import type { LiveNetworkOptions } from "./network.ts";
import type { RewardRuntime } from "./reward.ts";

export type { ExecutionMode } from "../execution/state_file.ts";

/** Options of the live node. */
export interface LiveOptions {
  dataDir: string;
  nodeId: string;
  worldId: string;
  tickMs: number;
  driver: string;
  /** Drop-in plugins folder; default: `plugins/` beside the binary (the repo's under `deno run`). */
  pluginsDir: string | null;
  /** HTTP listen address (and optional limits), or null for no HTTP. */
  http:
    | ({ hostname: string; port: number } & Partial<Pick<HttpServerOptions, "limits" | "sse">>)
    | null;
  execution: ExecutionMode;
  /** Validator set; default one local validator named after the node. */
  validators: Validator[] | null;
  /** Milliseconds between status lines (0 = none). */
  statusEveryMs: number;
  rewardIntervalMs: number;
  /** Per-height time budget of the driver worker. */
  heightTimeoutMs: number;
  /** Most heights execution may trail consensus by before proposals pause. */
  maxExecutionLag: number;
  /** Permissions the driver's Worker gets beyond its sandbox (`--driver-allow`); default none. */
  driverAllow: DriverGrants;
  /** Most acknowledged actions waiting for a block (the durable mempool's bound). */
  maxMempoolSize: number;
  /**
   * Genesis file of a network of separate processes (`--genesis`), or null for local
   * mode. It sets the world id, the validators and, through the data dir's key, which
   * one this node is; a world id or validators given beside it must agree with it.
   */
  genesis: string | null;
  /**
   * The p2p network (`--listen`, `--peers`); needs `genesis`. Null: no network (a
   * genesis node then runs alone).
   */
  p2p: LiveNetworkOptions | null;
  /** TEST ONLY (hidden `--crash-at`): SIGKILL this process at a signer-persist point. */
  crashAt?: CrashAt | null;
}

/** The embedded defaults: `awr live` with no flags. */
export const defaultLiveOptions: LiveOptions = {
  dataDir: "./data",
  nodeId: "node-1",
  worldId: "world-1",
  tickMs: 200,
  driver: "bridge",
  pluginsDir: null,
  http: { hostname: "127.0.0.1", port: 7070 },
  execution: "node",
  validators: null,
  statusEveryMs: 5_000,
  rewardIntervalMs: 500,
  heightTimeoutMs: 30_000,
  maxExecutionLag: 64,
  driverAllow: {},
  maxMempoolSize: 10_000,
  genesis: null,
  p2p: null,
};

/** What the live node prints and logs through. */
export interface LiveDeps {
  logger?: Logger;
  /** Operator-facing lines (where things are, periodic status). */
  print?: (line: string) => void;
}

/** A running live node. */
export interface LiveNode {
  readonly options: LiveOptions;
  readonly node: NodeRuntime;
  readonly reward: RewardRuntime;
  readonly http: HttpServer | null;
  readonly token: string;
  readonly metrics: LiveMetrics;
  /** Status JSON as served at `/v1/status`. */
  status(): Promise<Record<string, unknown>>;
  /** Stops everything, persisting state; safe to call twice. */
  stop(): Promise<void>;
}
