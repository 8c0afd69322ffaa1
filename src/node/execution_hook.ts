/**
 * The contract between the node and execution (seed PRG-B1): the node calls
 * `onCommit` after each commit is persisted, in height order, one call at a time.
 * @module
 */
import type { BlockAction, CommittedBlock } from "../consensus/types.ts";

/** What the node hands the execution hook for one committed height. */
export interface NodeExecutionCommitContext {
  readonly worldId: string;
  readonly nodeId: string;
  readonly height: number;
  readonly slot: number;
  readonly epoch: number;
  /** Hash of the committed consensus block at `height`. */
  readonly nodeBlockHash: string;
  /** When the node observed the commit (unix ms); replays carry the stored value. */
  readonly committedAtUnixMs: number;
  /** The committed block's actions, in block order. */
  readonly actions: readonly BlockAction[];
}

/** What execution reports back for a height. */
export interface NodeExecutionCommitResult {
  readonly executionHeight: number;
  readonly executionBlockHash: string;
  readonly executionStateRoot: string;
}

/**
 * Where execution stands: the last executed height and its hashes (null before the
 * first height). The one position type of the node: the state file's `last_execution_*`
 * fields, the handshake's answer, the feed's start and the legacy bridge's progress.
 */
export interface ExecutionPosition {
  readonly height: number;
  readonly executionBlockHash: string | null;
  readonly executionStateRoot: string | null;
}

/** The hook's own view of how far it got (CometBFT's ABCI `Info`). */
export interface NodeExecutionHookInfo {
  /** Last height the hook has applied (0 when none). */
  readonly lastHeight: number;
  /** Node block hash it applied at `lastHeight` (null when none). */
  readonly lastNodeBlockHash: string | null;
  readonly lastExecutionBlockHash: string | null;
  readonly lastExecutionStateRoot: string | null;
}

/**
 * Execution injected into `NodeRuntime`.
 *
 * @example
 * ```ts
 * import type { NodeExecutionHook } from "./execution_hook.ts";
 * const hook: NodeExecutionHook = {
 *   onCommit: (ctx) =>
 *     Promise.resolve({
 *       executionHeight: ctx.height,
 *       executionBlockHash: ctx.nodeBlockHash,
 *       executionStateRoot: ctx.nodeBlockHash,
 *     }),
 * };
 * ```
 */
export interface NodeExecutionHook {
  /** Name written beside each result in the node's result log; default `hook`. */
  readonly driverName?: string;
  /** Executes the committed height described by `ctx` (and any gap below it). */
  onCommit(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult>;
  /** Reports the hook's last applied height, for the start-up handshake. */
  info?(): Promise<NodeExecutionHookInfo>;
  /** Releases resources; called by `NodeRuntime.stop()` after the last call. */
  close?(): Promise<void>;
}

/**
 * The hook context for a committed block: one definition for every caller (the
 * node loop, start-up replay and the legacy bridge), so they cannot diverge.
 *
 * @example
 * ```ts
 * import { commitContext } from "./execution_hook.ts";
 * // const ctx = commitContext("world-1", "node-1", committedBlock);
 * ```
 */
export function commitContext(
  worldId: string,
  nodeId: string,
  block: CommittedBlock,
): NodeExecutionCommitContext {
  return {
    worldId,
    nodeId,
    height: block.header.height,
    slot: block.header.slot,
    epoch: block.header.epoch,
    nodeBlockHash: block.hash,
    committedAtUnixMs: block.committedAtUnixMs,
    actions: block.actions,
  };
}
