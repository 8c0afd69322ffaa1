/**
 * Node options: one exported `defaultNodeOptions`, one validator that names the bad
 * option. The CLI only maps flags onto these options.
 * @module
 */
import type { Validator } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/** What a node does in the network. Only sequencers propose in local mode. */
export type NodeRole = "sequencer" | "storage" | "observer";

/** Every node option, resolved. */
export interface NodeConfig {
  /** This node's id; names its folder `<data>/node/<node_id>`. */
  readonly nodeId: string;
  /** The world this chain runs. */
  readonly worldId: string;
  readonly role: NodeRole;
  /** Milliseconds between consensus ticks (> 0). */
  readonly tickIntervalMs: number;
  /** The validator set with stakes. */
  readonly validators: readonly Validator[];
  /** Validators this process attests for; all of them in local mode (the default). */
  readonly localValidators: readonly string[] | null;
  /** Root of the data directory. */
  readonly dataDir: string;
  readonly epochLengthSlots: number;
  /**
   * Kept for compatibility: local mode's BFT engine uses its fixed thresholds (> 2/3 of
   * stake to decide, > 1/3 to skip rounds), not this ratio.
   */
  readonly supermajorityNumerator: number;
  readonly supermajorityDenominator: number;
  /** Most actions taken from the mempool into one block. */
  readonly maxActionsPerBlock: number;
  /** Most actions waiting in the mempool; submissions beyond it are refused. */
  readonly maxMempoolSize: number;
  /** Most included action ids (with their idempotency keys) remembered for status and retries. */
  readonly maxRememberedActionIds: number;
  /** fsync every write (default true). Only logic tests turn it off. */
  readonly durable: boolean;
  /** How long `stop()` waits for execution to catch up before persisting. */
  readonly stopDrainTimeoutMs: number;
  /**
   * Most committed heights execution may trail by; at the bound the node stops
   * proposing until execution is back to half of it (default 64).
   */
  readonly maxExecutionLag: number;
  /** First retry delay after a failed write halted the node (doubles per retry). */
  readonly haltRetryBaseMs: number;
  /** Longest delay between two retries of a failed write. */
  readonly haltRetryMaxMs: number;
  /**
   * Networked nodes: most early consensus steps (an inbound message handled at once
   * rather than at the next tick) between two ticks; 0 = none (default 16).
   */
  readonly maxEarlyStepsPerTick: number;
}

/** Options a caller may leave out. */
export type NodeConfigInput =
  & Pick<NodeConfig, "nodeId" | "worldId" | "dataDir">
  & Partial<Omit<NodeConfig, "nodeId" | "worldId" | "dataDir">>;

/** Defaults for every optional node option. */
export const defaultNodeOptions: Omit<NodeConfig, "nodeId" | "worldId" | "dataDir" | "validators"> =
  {
    role: "sequencer",
    tickIntervalMs: 200,
    localValidators: null,
    epochLengthSlots: 32,
    supermajorityNumerator: 2,
    supermajorityDenominator: 3,
    maxActionsPerBlock: 256,
    maxMempoolSize: 10_000,
    maxRememberedActionIds: 100_000,
    durable: true,
    stopDrainTimeoutMs: 5_000,
    maxExecutionLag: 64,
    haltRetryBaseMs: 100,
    haltRetryMaxMs: 5_000,
    maxEarlyStepsPerTick: 16,
  };

/** Error for an option that cannot be used. */
export class NodeConfigError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function bad(option: string, why: string): never {
  throw new NodeConfigError("INVALID_OPTION", `option ${option}: ${why}`, { option });
}

function positiveInt(option: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) bad(option, `must be a positive integer, got ${v}`);
}

/**
 * Fills defaults and checks every option; the error names the option.
 *
 * @example
 * ```ts
 * import { resolveNodeConfig } from "./config.ts";
 * const cfg = resolveNodeConfig({ nodeId: "node-1", worldId: "world-1", dataDir: "./data" });
 * cfg.tickIntervalMs; // 200
 * ```
 */
export function resolveNodeConfig(input: NodeConfigInput): NodeConfig {
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const cfg = {
    ...defaultNodeOptions,
    validators: [{ id: input.nodeId, stake: 1 }],
    ...given,
  } as unknown as NodeConfig;
  // Ids become folder names: keep them to a safe alphabet, never a path.
  if (!ID_RE.test(cfg.nodeId)) bad("node_id", `"${cfg.nodeId}" must match ${ID_RE}`);
  if (!ID_RE.test(cfg.worldId)) bad("world_id", `"${cfg.worldId}" must match ${ID_RE}`);
  if (!["sequencer", "storage", "observer"].includes(cfg.role)) {
    bad("role", `must be sequencer, storage or observer, got "${cfg.role}"`);
  }
  if (!(typeof cfg.tickIntervalMs === "number" && cfg.tickIntervalMs > 0)) {
    bad("tick_interval_ms", `must be > 0, got ${cfg.tickIntervalMs}`);
  }
  positiveInt("epoch_length_slots", cfg.epochLengthSlots);
  positiveInt("supermajority_numerator", cfg.supermajorityNumerator);
  positiveInt("supermajority_denominator", cfg.supermajorityDenominator);
  positiveInt("max_actions_per_block", cfg.maxActionsPerBlock);
  positiveInt("max_mempool_size", cfg.maxMempoolSize);
  positiveInt("max_execution_lag", cfg.maxExecutionLag);
  positiveInt("halt_retry_base_ms", cfg.haltRetryBaseMs);
  positiveInt("halt_retry_max_ms", cfg.haltRetryMaxMs);
  if (cfg.haltRetryMaxMs < cfg.haltRetryBaseMs) {
    bad("halt_retry_max_ms", `must be >= halt_retry_base_ms (${cfg.haltRetryBaseMs})`);
  }
  positiveInt("max_remembered_action_ids", cfg.maxRememberedActionIds);
  if (!Number.isSafeInteger(cfg.maxEarlyStepsPerTick) || cfg.maxEarlyStepsPerTick < 0) {
    bad("max_early_steps_per_tick", `must be an integer >= 0, got ${cfg.maxEarlyStepsPerTick}`);
  }
  if (cfg.validators.length === 0) bad("validators", "at least one validator is required");
  if (cfg.localValidators) {
    const ids = new Set(cfg.validators.map((v) => v.id));
    for (const id of cfg.localValidators) {
      if (!ids.has(id)) bad("local_validators", `"${id}" is not in the validator set`);
    }
  }
  if (typeof cfg.dataDir !== "string" || cfg.dataDir === "") bad("data_dir", "must be a path");
  return cfg;
}
