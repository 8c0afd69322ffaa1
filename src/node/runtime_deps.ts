/**
 * What `NodeRuntime` is given besides its options: the execution hook, logger, clocks,
 * keys and the network's callbacks.
 * @module
 */
import type { BftOptions } from "../consensus/bft/options.ts";
import type { BftMessage } from "../consensus/bft/types.ts";
import type { Logger } from "../logger.ts";
import type { NodeWriters } from "./commit_writer.ts";
import type { NodeExecutionHook } from "./execution_hook.ts";
import type { RetryTimer } from "./halt.ts";
import type { CrashPoint, LocalKeys } from "./local_consensus.ts";

/** What the runtime is given besides its options. */
export interface NodeRuntimeDeps {
  /** Execution injected into the loop (seed PRG-B1); none = consensus only. */
  executionHook?: NodeExecutionHook;
  logger?: Logger;
  /** Wall clock (unix ms); tests may inject one. */
  clock?: () => number;
  /** Timer of the halted node's write retries; tests inject one to drive them. */
  retryTimer?: RetryTimer;
  /** Wraps the node's two writes (tests inject failures: ENOSPC, EROFS…). */
  writers?: (real: NodeWriters) => NodeWriters;
  /**
   * Executed height when execution runs outside the node (bridge mode), for the lag
   * bound; null = unknown (no bound). Ignored when there is an execution hook.
   */
  executedHeight?: () => number | null;
  /** Keys of the local validators (default {@link localModeKeys}). */
  keys?: LocalKeys;
  /** BFT engine options (timeouts, bounds); default `defaultBftOptions`. */
  bft?: Partial<BftOptions>;
  /**
   * TEST ONLY: called at each crash point of the signer-state persist (the CLI's hidden
   * `--crash-at` kills the process there).
   */
  crashPoint?: (point: CrashPoint) => void;
  /**
   * Called with each consensus message a local validator sends (after its signer state
   * is durable): the network layer gossips it to the remote validators.
   */
  onBroadcast?: (message: BftMessage) => void;
  /**
   * The node is part of a network (validator or follower): blocks may carry actions
   * other nodes queued, matched by content in the mempool (see `Mempool.committedBlock`).
   */
  networked?: boolean;
}
