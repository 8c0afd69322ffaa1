/**
 * What a running node reports about itself (`NodeRuntime.snapshot()`), and its JSON
 * form with the seed's snake_case names (used by `awr status --json` and HTTP).
 * @module
 */
import type { NodeRole } from "./config.ts";
import type { AgreementSnapshot } from "./agreement.ts";
import type { HaltInfo } from "./halt.ts";
import type { LagLimitSnapshot } from "./lag_limit.ts";
import type { EvidenceSummary } from "./local_consensus.ts";
import type { PosNodeState } from "./state_file.ts";

/** Consensus mode: `local` = one process attests for every configured validator. */
export type ConsensusMode = "local" | "network";

/** Consensus view of the node (seed §3), including the execution fields. */
export interface NodeConsensusSnapshot {
  mode: ConsensusMode;
  slot: number;
  epoch: number;
  latestHeight: number;
  committedHeight: number;
  networkCommittedHeight: number;
  knownPeerHeads: Record<string, number>;
  lastStatus: string | null;
  lastBlockHash: string | null;
  lastExecutionHeight: number;
  lastExecutionBlockHash: string | null;
  lastExecutionStateRoot: string | null;
}

/** Everything a node reports. */
export interface NodeSnapshot {
  nodeId: string;
  worldId: string;
  role: NodeRole;
  running: boolean;
  tickCount: number;
  lastTickUnixMs: number | null;
  consensus: NodeConsensusSnapshot;
  lastError: string | null;
  /** Set while a failed write keeps the node from committing (then `running` is false). */
  halted?: HaltInfo | null;
  /** The execution lag bound and its state. */
  lagLimit?: LagLimitSnapshot;
  /** Duplicate-vote evidence seen: total, and the newest (at most 16). */
  evidence?: { total: number; recent: readonly EvidenceSummary[] };
  /** Execution agreement: this node's divergence and the validators that diverged. */
  agreement?: AgreementSnapshot;
}

/** JSON form of {@link NodeConsensusSnapshot} (snake_case). */
export interface NodeConsensusSnapshotJson {
  mode: ConsensusMode;
  slot: number;
  epoch: number;
  latest_height: number;
  committed_height: number;
  network_committed_height: number;
  known_peer_heads: Record<string, number>;
  last_status: string | null;
  last_block_hash: string | null;
  last_execution_height: number;
  last_execution_block_hash: string | null;
  last_execution_state_root: string | null;
}

/** JSON form of {@link NodeSnapshot} (snake_case). */
export interface NodeSnapshotJson {
  node_id: string;
  world_id: string;
  role: NodeRole;
  running: boolean;
  tick_count: number;
  last_tick_unix_ms: number | null;
  consensus: NodeConsensusSnapshotJson;
  last_error: string | null;
  /** Null when fine. */
  halted: { reason: string; code: string; since_unix_ms: number; retries: number } | null;
  max_execution_lag: number | null;
  lag_limit_engaged: boolean;
  /** Episodes in which the lag bound paused proposals. */
  lag_limit_engaged_count: number;
  /** Highest execution lag seen at a tick since start (0 before the first tick). */
  execution_lag_peak: number;
  /** True while the execution lag keeps growing (early warning before the bound). */
  lag_growing: boolean;
  /** Duplicate-vote evidence: `count` seen since start, `recent` the newest 16. */
  evidence: { count: number; recent: EvidenceSummary[] };
  /** This node's execution divergence (it stopped voting), or null. */
  divergence: {
    height: number;
    own_root: string;
    network_root: string;
    claimant: string;
    since: number;
  } | null;
  /** Validators whose execution claims differ from this node's roots. */
  diverged_validators: {
    validator: string;
    height: number;
    own_root: string;
    their_root: string;
    since: number;
  }[];
  /** Execution claims compared, waiting for their height, and dropped unchecked. */
  execution_claims: { checked: number; pending: number; dropped: number };
}

/**
 * Converts a snapshot to its snake_case JSON form.
 *
 * @example
 * ```ts
 * import { snapshotToJson } from "./snapshot.ts";
 * // JSON.stringify(snapshotToJson(runtime.snapshot()))
 * ```
 */
export function snapshotToJson(s: NodeSnapshot): NodeSnapshotJson {
  return {
    node_id: s.nodeId,
    world_id: s.worldId,
    role: s.role,
    running: s.running,
    tick_count: s.tickCount,
    last_tick_unix_ms: s.lastTickUnixMs,
    consensus: consensusToJson(s.consensus),
    last_error: s.lastError,
    halted: s.halted
      ? {
        reason: s.halted.reason,
        code: s.halted.code,
        since_unix_ms: s.halted.sinceUnixMs,
        retries: s.halted.retries,
      }
      : null,
    max_execution_lag: s.lagLimit?.max ?? null,
    lag_limit_engaged: s.lagLimit?.engaged ?? false,
    lag_limit_engaged_count: s.lagLimit?.episodes ?? 0,
    execution_lag_peak: s.lagLimit?.peak ?? 0,
    lag_growing: s.lagLimit?.growing ?? false,
    evidence: { count: s.evidence?.total ?? 0, recent: [...(s.evidence?.recent ?? [])] },
    ...agreementToJson(s.agreement),
  };
}

function agreementToJson(
  a: AgreementSnapshot | undefined,
): Pick<NodeSnapshotJson, "divergence" | "diverged_validators" | "execution_claims"> {
  const d = a?.divergence;
  return {
    divergence: d
      ? {
        height: d.height,
        own_root: d.ownRoot,
        network_root: d.networkRoot,
        claimant: d.claimant,
        since: d.sinceUnixMs,
      }
      : null,
    diverged_validators: (a?.divergedValidators ?? []).map((v) => ({
      validator: v.validator,
      height: v.height,
      own_root: v.ownRoot,
      their_root: v.theirRoot,
      since: v.sinceUnixMs,
    })),
    execution_claims: {
      checked: a?.checkedClaims ?? 0,
      pending: a?.pendingClaims ?? 0,
      dropped: a?.droppedClaims ?? 0,
    },
  };
}

/** Converts the consensus part of a snapshot to its snake_case JSON form. */
export function consensusToJson(c: NodeConsensusSnapshot): NodeConsensusSnapshotJson {
  return {
    mode: c.mode,
    slot: c.slot,
    epoch: c.epoch,
    latest_height: c.latestHeight,
    committed_height: c.committedHeight,
    network_committed_height: c.networkCommittedHeight,
    known_peer_heads: { ...c.knownPeerHeads },
    last_status: c.lastStatus,
    last_block_hash: c.lastBlockHash,
    last_execution_height: c.lastExecutionHeight,
    last_execution_block_hash: c.lastExecutionBlockHash,
    last_execution_state_root: c.lastExecutionStateRoot,
  };
}

/** The consensus part of a snapshot, as a stopped node's state file implies it. */
export function consensusFromState(state: PosNodeState): NodeConsensusSnapshot {
  return {
    mode: "local",
    slot: state.slot,
    epoch: state.epoch,
    latestHeight: state.latestHeight,
    committedHeight: state.committedHeight,
    networkCommittedHeight: state.committedHeight,
    knownPeerHeads: {},
    lastStatus: state.lastStatus,
    lastBlockHash: state.lastBlockHash,
    lastExecutionHeight: state.lastExecutionHeight,
    lastExecutionBlockHash: state.lastExecutionBlockHash,
    lastExecutionStateRoot: state.lastExecutionStateRoot,
  };
}
