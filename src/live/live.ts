/**
 * `awr live`: a node with node-internal execution (or the legacy bridge), the reward
 * runtime and the HTTP viewer, wired once at start-up. The execution mode is chosen
 * here and nowhere else: in node mode the driver runs inside the node loop and no
 * bridge exists; in bridge mode the node runs without a hook and the reward runtime
 * drives the bridge. The data-dir lock keeps it to one process, so one executor
 * owns the records folder (DESIGN invariant 1).
 * @module
 */
import { join } from "../std/path.ts";
import { committedBlockToWire } from "../consensus/block.ts";
import type { Validator } from "../consensus/types.ts";
import { errorChain } from "../errors.ts";
import { createExecutionHook } from "../execution/create_hook.ts";
import type { DriverGrants } from "../execution/sandbox.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { NodeRuntime } from "../node/runtime.ts";
import { snapshotToJson } from "../node/snapshot.ts";
import { removeStaleTemps } from "../storage/atomic.ts";
import { openBlobReader } from "../storage/blob_store.ts";
import type { WorldAction } from "../world/actions.ts";
import { actionReport } from "./action_outcome.ts";
import { driverApi } from "./driver_api.ts";
import { LegacyBridge } from "./bridge.ts";
import { type HttpServer, type HttpServerOptions, type LiveApi, startHttpServer } from "./http.ts";
import { type DataDirLock, lockDataDir } from "../storage/lock.ts";
import { LiveMetrics } from "./metrics.ts";
import { RewardRuntime } from "./reward.ts";
import { loadOrCreateToken, tokenHint, tokenPath } from "./token.ts";
import { type CrashAt, crashAtHook } from "./crash_at.ts";

/** Where execution runs. */
export type ExecutionMode = "node" | "bridge";

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

/**
 * Starts a live node. Rejects (with everything started so far stopped again) when
 * the data dir is locked, the driver cannot load, or start-up reconciliation fails.
 *
 * @example
 * ```ts
 * import { startLiveNode } from "./live.ts";
 * const live = await startLiveNode({ dataDir: "/tmp/awr-live", http: null });
 * console.log((await live.status()).consensus);
 * await live.stop();
 * ```
 */
export async function startLiveNode(
  input: Partial<LiveOptions> = {},
  deps: LiveDeps = {},
): Promise<LiveNode> {
  const options: LiveOptions = { ...defaultLiveOptions, ...input };
  const log = deps.logger ?? silentLogger;
  const print = deps.print ?? (() => {});
  // One teardown path for both a failed start and stop(): steps run in reverse order.
  const cleanup: Array<() => Promise<void> | void> = [];
  let tearingDown: Promise<void> | null = null;
  const teardown = () =>
    tearingDown ??= (async () => {
      for (const fn of cleanup.reverse()) {
        await Promise.resolve().then(fn).catch((err) =>
          log.warn("live node teardown step failed", { error: errorChain(err) })
        );
      }
    })();
  try {
    const lock: DataDirLock = await lockDataDir(options.dataDir);
    cleanup.push(() => lock.release());
    // Temps a crash left in the folders this process owns (node, execution and store
    // folders are cleaned by their own owners when they open).
    for (const d of ["", "reward", "reports", "mempool"]) {
      await removeStaleTemps(join(options.dataDir, d));
    }
    const token = await loadOrCreateToken(options.dataDir);
    const hook = await createExecutionHook({
      dataDir: options.dataDir,
      nodeId: options.nodeId,
      worldId: options.worldId,
      driver: options.driver,
      pluginsDir: options.pluginsDir ?? undefined,
      mode: options.execution,
      heightTimeoutMs: options.heightTimeoutMs,
      driverAllow: options.driverAllow,
      logger: log,
    });
    cleanup.push(() => hook.close?.());
    let bridge: LegacyBridge | null = null;
    const node = new NodeRuntime({
      nodeId: options.nodeId,
      worldId: options.worldId,
      dataDir: options.dataDir,
      tickIntervalMs: options.tickMs,
      validators: options.validators ?? undefined,
      maxExecutionLag: options.maxExecutionLag,
      maxMempoolSize: options.maxMempoolSize,
    }, {
      executionHook: options.execution === "node" ? hook : undefined,
      logger: log,
      // Bridge mode: bound the lag by the bridge's progress (unknown until it opens).
      executedHeight: () => bridge?.progress.height ?? null,
      crashPoint: options.crashAt ? crashAtHook(options.crashAt) : undefined,
    });
    await node.start();
    let reward: RewardRuntime | null = null;
    // Node first (drains execution in node mode), then a last reward pass on what it left.
    cleanup.push(async () => {
      await node.stop();
      await reward?.stop();
    });
    bridge = options.execution === "bridge"
      ? await LegacyBridge.open(hook, node.blocks, options.worldId, options.nodeId)
      : null;
    bridge?.onExecuted((result, nodeBlockHash, durationMs) =>
      node.events.emit("execution", { result, nodeBlockHash, durationMs })
    );
    const rewardRuntime = await RewardRuntime.open(
      {
        dataDir: options.dataDir,
        nodeId: options.nodeId,
        worldId: options.worldId,
        mode: options.execution,
        intervalMs: options.rewardIntervalMs,
        logger: log,
      },
      node,
      bridge,
    );
    reward = rewardRuntime;
    rewardRuntime.start();

    const metrics = new LiveMetrics();
    cleanup.push(metrics.attach(node.events));
    metrics.setGaugeSource(() => ({
      committedHeight: node.snapshot().consensus.committedHeight,
      executionHeight: rewardRuntime.executionProgress().height,
      mempoolSize: node.mempoolSize,
      running: node.snapshot().running,
      halted: node.halted !== null,
      lagLimitEngaged: node.snapshot().lagLimit?.engaged ?? false,
      rewardFailing: rewardRuntime.lastError !== null,
      rewardFailures: rewardRuntime.failures,
      evidenceTotal: node.snapshot().evidence?.total ?? 0,
    }));

    const status = async (): Promise<Record<string, unknown>> => {
      const json = snapshotToJson(node.snapshot());
      const exec = rewardRuntime.executionProgress();
      // In bridge mode the node does not execute; report the bridge's progress.
      json.consensus.last_execution_height = exec.height;
      json.consensus.last_execution_block_hash = exec.blockHash;
      json.consensus.last_execution_state_root = exec.stateRoot;
      return await Promise.resolve({
        ...json,
        execution_mode: options.execution,
        driver: options.driver,
        // Which world views the driver offers (the viewer asks only for those).
        driver_capabilities: [...hook.capabilities],
        execution_lag: json.consensus.committed_height - exec.height,
        mempool_size: node.mempoolSize,
        // The node's own error first; else the reward runtime's (unreadable record…).
        last_error: json.last_error ?? rewardRuntime.lastError,
        reward: {
          last_error: rewardRuntime.lastError,
          failures: rewardRuntime.failures,
          settled_through_height: rewardRuntime.ledger.settledThroughHeight,
          last_settled_epoch: rewardRuntime.ledger.lastSettledEpoch,
          bridge_executions: rewardRuntime.bridgeExecutions,
        },
      });
    };

    const cas = await openBlobReader(options.dataDir); // read-only: never cuts the pack
    const views = driverApi(hook, node, options.dataDir);
    const api: LiveApi = {
      status,
      block: async (height: number) => {
        if (height > node.durableCommittedHeight) return null;
        const b = await node.blocks.getBlock(height);
        return b ? committedBlockToWire(b) : null;
      },
      ...views,
      submitActions: (actions: WorldAction[], idempotencyKey: string | null) =>
        node.submitActions(actions, { idempotencyKey }),
      actionStatus: async (id: string) => {
        const s = node.actionStatus(id);
        return s ? await actionReport(s, options.dataDir, cas) : null;
      },
      events: node.events,
      metrics,
      token,
    };

    let http: HttpServer | null = null;
    if (options.http) {
      http = await startHttpServer(api, { ...options.http, logger: log });
      cleanup.push(() => http!.shutdown());
    }

    print(
      `awr live: node ${options.nodeId} of world ${options.worldId}, execution ${options.execution} (driver ${options.driver})`,
    );
    print(`  data dir    ${options.dataDir}`);
    print(`  http        ${http ? http.url : "off"}`);
    print(`  api token   ${tokenPath(options.dataDir)} (send as: Authorization: Bearer <token>)`);
    print(`  token       ${tokenHint(token)} (the full token is in the file only)`);

    if (options.statusEveryMs > 0) {
      const statusTimer = setInterval(() => {
        const c = node.snapshot().consensus;
        const exec = rewardRuntime.executionProgress();
        const err = node.snapshot().lastError;
        const halted = node.halted;
        const lagLimit = node.snapshot().lagLimit;
        print(
          `status: slot ${c.slot} epoch ${c.epoch} committed ${c.committedHeight} executed ${exec.height} ` +
            `lag ${c.committedHeight - exec.height} root ${(exec.stateRoot ?? "-").slice(0, 12)}` +
            (halted ? ` HALTED (${halted.code}, ${halted.retries} retries)` : "") +
            (lagLimit?.engaged ? ` proposals paused (lag bound ${lagLimit.max})` : "") +
            (lagLimit?.growing && !lagLimit.engaged ? " LAG GROWING" : "") +
            (err ? ` error: ${err}` : ""),
        );
      }, options.statusEveryMs);
      cleanup.push(() => clearInterval(statusTimer));
    }
    return { options, node, reward: rewardRuntime, http, token, metrics, status, stop: teardown };
  } catch (err) {
    await teardown();
    log.error("live node failed to start", { error: errorChain(err) });
    throw err;
  }
}
