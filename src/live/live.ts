/**
 * `awr live`: a node with node-internal execution (or the legacy bridge), the reward
 * runtime and the HTTP viewer, wired once at start-up. The execution mode is chosen
 * here and nowhere else: in node mode the driver runs inside the node loop and no
 * bridge exists; in bridge mode the node runs without a hook and the reward runtime
 * drives the bridge. The data-dir lock keeps it to one process, so one executor
 * owns the records folder (DESIGN invariant 1).
 * @module
 */
import { committedBlockToWire } from "../consensus/block.ts";
import { AwrError, errorChain } from "../errors.ts";
import { createExecutionHook, type DriverExecutionHook } from "../driver/create_hook.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { NodeRuntime } from "../node/runtime.ts";
import { removeStaleTemps } from "../storage/atomic.ts";
import { openBlobReader } from "../storage/blob_store.ts";
import type { WorldAction } from "../world/actions.ts";
import { actionReport } from "./action_outcome.ts";
import { driverApi } from "./driver_api.ts";
import { LegacyBridge } from "./bridge.ts";
import { type HttpServer, type LiveApi, startHttpServer } from "./http.ts";
import { type DataDirLock, lockDataDir } from "../storage/lock.ts";
import { RewardRuntime } from "./reward.ts";
import { loadOrCreateToken } from "./token.ts";
import { crashAtHook } from "./crash_at.ts";
import { mempoolDir, reportsDir, rewardDir } from "../storage/data_dir.ts";
import { type GenesisNode, openGenesisNode } from "../net/genesis_node.ts";
import type { P2pNode } from "../net/p2p.ts";
import { announceOnExecution, startLiveNetwork } from "./network.ts";
import {
  defaultLiveOptions,
  type LiveDeps,
  type LiveNode,
  type LiveOptions,
} from "./live_options.ts";
import { attachMetrics, printBanner, statusLine, statusReader } from "./live_status.ts";

export {
  defaultLiveOptions,
  type ExecutionMode,
  type LiveDeps,
  type LiveNode,
  type LiveOptions,
} from "./live_options.ts";

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
  const steps = new TeardownSteps(log);
  try {
    const token = await claimDataDir(options, steps);
    if (options.p2p && options.genesis === null) {
      throw new AwrError("P2P_NEEDS_GENESIS", "--listen/--peers need --genesis FILE", {
        option: "p2p",
      });
    }
    const net = options.genesis === null ? null : await joinGenesis(options, input, log, print);
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
    steps.push(() => hook.close?.());
    const { node, reward, p2p } = await startNodeAndRewards(options, hook, net, log, steps);
    const metrics = attachMetrics(node, reward, p2p, steps);
    const status = statusReader(options, hook, node, reward, p2p);
    const api = await liveApi(options, hook, node, p2p, { status, metrics, token });
    let http: HttpServer | null = null;
    if (options.http) {
      const server = await startHttpServer(api, { ...options.http, logger: log });
      steps.push(() => server.shutdown());
      http = server;
    }
    printBanner(print, options, http, p2p, token);
    if (options.statusEveryMs > 0) {
      const statusTimer = setInterval(() => print(statusLine(node, reward)), options.statusEveryMs);
      steps.push(() => clearInterval(statusTimer));
    }
    const stop = () => steps.run();
    return { options, node, reward, http, token, metrics, status, stop };
  } catch (err) {
    await steps.run();
    log.error("live node failed to start", { error: errorChain(err) });
    throw err;
  }
}

/**
 * One teardown path for both a failed start and stop(): steps run in reverse order,
 * once; a failing step is logged and the others still run.
 */
class TeardownSteps {
  readonly #steps: Array<() => Promise<void> | void> = [];
  readonly #log: Logger;
  #running: Promise<void> | null = null;

  constructor(log: Logger) {
    this.#log = log;
  }

  push(step: () => Promise<void> | void): void {
    this.#steps.push(step);
  }

  run(): Promise<void> {
    return this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        await Promise.resolve().then(step).catch((err) =>
          this.#log.warn("live node teardown step failed", { error: errorChain(err) })
        );
      }
    })();
  }
}

/** Locks the data dir, removes stale temps of this process's folders, loads the API token. */
async function claimDataDir(options: LiveOptions, steps: TeardownSteps): Promise<string> {
  const lock: DataDirLock = await lockDataDir(options.dataDir);
  steps.push(() => lock.release());
  // Temps a crash left in the folders this process owns (node, execution and store
  // folders are cleaned by their own owners when they open).
  const dir = options.dataDir;
  for (const d of [dir, rewardDir(dir), reportsDir(dir), mempoolDir(dir)]) {
    await removeStaleTemps(d);
  }
  return await loadOrCreateToken(options.dataDir);
}

/**
 * Starts the node (with the hook in node mode), opens the legacy bridge in bridge
 * mode, and starts the reward runtime over both.
 */
async function startNodeAndRewards(
  options: LiveOptions,
  hook: DriverExecutionHook,
  net: GenesisNode | null,
  log: Logger,
  steps: TeardownSteps,
): Promise<{ node: NodeRuntime; reward: RewardRuntime; p2p: P2pNode | null }> {
  let bridge: LegacyBridge | null = null;
  let p2p: P2pNode | null = null;
  const node = new NodeRuntime({
    nodeId: options.nodeId,
    worldId: options.worldId,
    dataDir: options.dataDir,
    tickIntervalMs: options.tickMs,
    validators: options.validators ?? undefined,
    localValidators: net ? (net.localValidator === null ? [] : [net.localValidator]) : undefined,
    maxExecutionLag: options.maxExecutionLag,
    maxMempoolSize: options.maxMempoolSize,
  }, {
    executionHook: options.execution === "node" ? hook : undefined,
    logger: log,
    // Bridge mode: bound the lag by the bridge's progress (unknown until it opens).
    executedHeight: () => bridge?.progress.height ?? null,
    crashPoint: options.crashAt ? crashAtHook(options.crashAt) : undefined,
    keys: net?.keys,
    onBroadcast: net && options.p2p ? (m) => p2p?.broadcast(m) : undefined,
    networked: net !== null && options.p2p !== null,
  });
  await node.start();
  let reward: RewardRuntime | null = null;
  // Node first (drains execution in node mode), then a last reward pass on what it left.
  steps.push(async () => {
    await node.stop();
    await reward?.stop();
  });
  if (net && options.p2p) {
    const started = await startLiveNetwork(net, node, options.p2p, log);
    p2p = started;
    steps.push(() => started.stop()); // runs before node.stop (reverse order)
    steps.push(announceOnExecution(node, started));
  }
  if (options.execution === "bridge") {
    bridge = await LegacyBridge.open(hook, node.blocks, options.worldId, options.nodeId);
    bridge.onExecuted((result, nodeBlockHash, durationMs) =>
      node.events.emit("execution", { result, nodeBlockHash, durationMs })
    );
  }
  reward = await RewardRuntime.open(
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
  reward.start();
  return { node, reward, p2p };
}

/** The routes' data sources: node, block store, driver views, actions. */
async function liveApi(
  options: LiveOptions,
  hook: DriverExecutionHook,
  node: NodeRuntime,
  p2p: P2pNode | null,
  parts: Pick<LiveApi, "status" | "metrics" | "token">,
): Promise<LiveApi> {
  const cas = await openBlobReader(options.dataDir); // read-only: never cuts the pack
  return {
    ...parts,
    block: async (height: number) => {
      if (height > node.durableCommittedHeight) return null;
      const b = await node.blocks.getBlock(height);
      return b ? committedBlockToWire(b) : null;
    },
    ...driverApi(hook, node, options.dataDir),
    submitActions: async (actions: WorldAction[], idempotencyKey: string | null) => {
      // A key of our own when none is given, so every node derives the same ids.
      const key = idempotencyKey ?? (p2p ? crypto.randomUUID() : null);
      const r = await node.submitActions(actions, { idempotencyKey: key });
      if (p2p && key !== null && !r.replayed) p2p.gossipActions(key, actions);
      return r;
    },
    actionStatus: async (id: string) => {
      const s = node.actionStatus(id);
      return s ? await actionReport(s, options.dataDir, cas) : null;
    },
    events: node.events,
  };
}

/**
 * Reads the genesis and the node's key into `options` (world id, validators, and the
 * node id when none was given: the local validator's id). A validator set given beside
 * the genesis is refused (`GENESIS_CONFLICT`).
 */
async function joinGenesis(
  options: LiveOptions,
  input: Partial<LiveOptions>,
  log: Logger,
  print: (line: string) => void,
): Promise<GenesisNode> {
  if (input.validators) {
    throw new AwrError(
      "GENESIS_CONFLICT",
      `validators are given beside the genesis ${options.genesis}; leave them out`,
      { option: "validators", path: options.genesis },
    );
  }
  const net = await openGenesisNode({
    genesisPath: options.genesis!,
    dataDir: options.dataDir,
    worldId: input.worldId,
  });
  options.worldId = net.worldId;
  options.validators = net.validators;
  options.nodeId = input.nodeId ?? net.localValidator ?? defaultLiveOptions.nodeId;
  const pub = net.key.publicKeyHex;
  if (net.keyCreated) log.info("validator key created", { path: net.keyPath, public_key: pub });
  print(
    `awr live: ${net.keyCreated ? "created" : "loaded"} validator key ${net.keyPath} ` +
      `(public key ${pub}); ` +
      (net.localValidator === null
        ? "not in the genesis: following the chain, proposing and voting nothing"
        : `validator ${net.localValidator} of ${net.validators.length}`),
  );
  return net;
}
