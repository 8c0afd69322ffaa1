/**
 * What `awr live` shows about itself: the `/v1/status` document, the metrics' gauges,
 * the start-up banner and the periodic status line.
 * @module
 */
import type { DriverExecutionHook } from "../driver/create_hook.ts";
import type { P2pNode } from "../net/p2p.ts";
import type { NodeRuntime } from "../node/runtime.ts";
import { snapshotToJson } from "../node/snapshot.ts";
import type { HttpServer } from "./http.ts";
import type { LiveOptions } from "./live_options.ts";
import { LiveMetrics } from "./metrics.ts";
import { networkGauges, networkStatus } from "./network.ts";
import type { RewardRuntime } from "./reward.ts";
import { tokenHint, tokenPath } from "./token.ts";

/** Metrics fed by the node's events and gauges read on each scrape. */
export function attachMetrics(
  node: NodeRuntime,
  reward: RewardRuntime,
  p2p: P2pNode | null,
  steps: { push(step: () => void): void },
): LiveMetrics {
  const metrics = new LiveMetrics();
  steps.push(metrics.attach(node.events));
  metrics.setGaugeSource(() => ({
    committedHeight: node.snapshot().consensus.committedHeight,
    executionHeight: reward.executionProgress().height,
    mempoolSize: node.mempoolSize,
    running: node.snapshot().running,
    halted: node.halted !== null,
    lagLimitEngaged: node.snapshot().lagLimit?.engaged ?? false,
    rewardFailing: reward.lastError !== null,
    rewardFailures: reward.failures,
    evidenceTotal: node.snapshot().evidence?.total ?? 0,
    executionDiverged: (node.snapshot().agreement?.divergence ?? null) !== null,
    divergedValidators: node.snapshot().agreement?.divergedValidators.length ?? 0,
    p2p: p2p ? networkGauges(p2p) : undefined,
  }));
  return metrics;
}

/** The `/v1/status` document: the node's snapshot plus execution, driver and reward fields. */
export function statusReader(
  options: LiveOptions,
  hook: DriverExecutionHook,
  node: NodeRuntime,
  reward: RewardRuntime,
  p2p: P2pNode | null,
): () => Promise<Record<string, unknown>> {
  return () => {
    const json = snapshotToJson(node.snapshot());
    const exec = reward.executionProgress();
    const agreement = node.snapshot().agreement;
    const diverged = new Set((agreement?.divergedValidators ?? []).map((v) => v.validator));
    const network = p2p ? networkStatus(p2p, diverged) : null;
    if (network) {
      const c = json.consensus as unknown as Record<string, unknown>;
      c.network_committed_height = network.network_committed_height;
      c.known_peer_heads = network.known_peer_heads;
    }
    // In bridge mode the node does not execute; report the bridge's progress.
    json.consensus.last_execution_height = exec.height;
    json.consensus.last_execution_block_hash = exec.executionBlockHash;
    json.consensus.last_execution_state_root = exec.executionStateRoot;
    return Promise.resolve({
      ...json,
      ...(network ? { p2p: network.p2p } : {}),
      execution_mode: options.execution,
      driver: options.driver,
      // Which world views the driver offers (the viewer asks only for those).
      driver_capabilities: [...hook.capabilities],
      execution_lag: json.consensus.committed_height - exec.height,
      mempool_size: node.mempoolSize,
      // The node's own error first; else the reward runtime's (unreadable record…).
      last_error: json.last_error ?? reward.lastError,
      reward: {
        last_error: reward.lastError,
        failures: reward.failures,
        settled_through_height: reward.ledger.settledThroughHeight,
        last_settled_epoch: reward.ledger.lastSettledEpoch,
        bridge_executions: reward.bridgeExecutions,
      },
    });
  };
}

/** The start-up lines: where the node, its data and its API are. */
export function printBanner(
  print: (line: string) => void,
  options: LiveOptions,
  http: HttpServer | null,
  p2p: P2pNode | null,
  token: string,
): void {
  print(
    `awr live: node ${options.nodeId} of world ${options.worldId}, execution ${options.execution} (driver ${options.driver})`,
  );
  print(`  data dir    ${options.dataDir}`);
  print(`  http        ${http ? http.url : "off"}`);
  if (p2p) print(`  p2p         ${p2p.addresses.join(" ")}`);
  print(`  api token   ${tokenPath(options.dataDir)} (send as: Authorization: Bearer <token>)`);
  print(`  token       ${tokenHint(token)} (the full token is in the file only)`);
}

/** The periodic status line. */
export function statusLine(node: NodeRuntime, reward: RewardRuntime): string {
  const snap = node.snapshot();
  const c = snap.consensus;
  const exec = reward.executionProgress();
  const halted = node.halted;
  const lagLimit = snap.lagLimit;
  return `status: slot ${c.slot} epoch ${c.epoch} committed ${c.committedHeight} executed ${exec.height} ` +
    `lag ${c.committedHeight - exec.height} root ${(exec.executionStateRoot ?? "-").slice(0, 12)}` +
    (halted ? ` HALTED (${halted.code}, ${halted.retries} retries)` : "") +
    (lagLimit?.engaged ? ` proposals paused (lag bound ${lagLimit.max})` : "") +
    (lagLimit?.growing && !lagLimit.engaged ? " LAG GROWING" : "") +
    (snap.lastError ? ` error: ${snap.lastError}` : "");
}
