/**
 * The runtime's execution side: the start-up handshake with the hook, the feed that
 * hands it committed heights, the node's result log and the execution position in
 * the state file. `NodeRuntime` owns one when it has an execution hook.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { NodeAgreement } from "./agreement_node.ts";
import type { BlockStore } from "./block_store.ts";
import type { CommitWriter } from "./commit_writer.ts";
import type { NodeConfig } from "./config.ts";
import type { NodeEvents } from "./events.ts";
import { ExecutionFeed } from "./execution_feed.ts";
import {
  commitContext,
  type ExecutionPosition,
  type NodeExecutionCommitContext,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
} from "./execution_hook.ts";
import { reconcileExecution } from "./handshake.ts";
import { type ExecutionResultEntry, ExecutionResultLog, type ResultHashes } from "./result_log.ts";
import type { PosNodeState } from "./state_file.ts";

/** Committed blocks kept in memory for the hook's contexts (older ones are read from disk). */
const RECENT_BLOCKS = 1024;

/** Prefix of `lastError` while an execution call fails (cleared by the next success). */
export const EXECUTION_ERROR_PREFIX = "execution of height";

/** What the execution side needs from the runtime. */
export interface RuntimeExecutionDeps {
  hook: NodeExecutionHook;
  config: NodeConfig;
  log: Logger;
  clock: () => number;
  events: NodeEvents;
  blocks: BlockStore;
  writer: CommitWriter;
  agreement: NodeAgreement;
  /** The node's state (read and updated in place). */
  state: () => PosNodeState;
  /** Sets the node's `lastError`, or clears it when it starts with `clearPrefix`. */
  setError: (message: string | null, clearPrefix?: string) => void;
}

/**
 * Execution bookkeeping of a running node.
 *
 * @example
 * ```ts ignore
 * const exec = new RuntimeExecution(deps);
 * await exec.open(nodeDir, statePath); // handshake; the feed is ready
 * await exec.catchUp();                // replay missing heights
 * ```
 */
export class RuntimeExecution {
  readonly #d: RuntimeExecutionDeps;
  #feed: ExecutionFeed | null = null;
  #results: ExecutionResultLog | null = null;
  #recent = new Map<number, CommittedBlock>();

  /** @param deps the hook and the runtime parts it reads and updates */
  constructor(deps: RuntimeExecutionDeps) {
    this.#d = deps;
  }

  /** The hook's driver name (or "hook"). */
  get driverName(): string {
    return this.#d.hook.driverName ?? "hook";
  }

  /** Height of the execution call in flight (0 when none). */
  get inFlightHeight(): number {
    return this.#feed?.inFlightHeight ?? 0;
  }

  /** Keeps a committed block at hand for the hook's context. */
  remember(block: CommittedBlock): void {
    this.#recent.set(block.header.height, block);
    if (this.#recent.size > RECENT_BLOCKS) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  /**
   * The handshake: reconciles the hook with the state file (throws `HandshakeError`
   * when they cannot be), records the position and makes the feed.
   */
  async open(dir: string, statePath: string): Promise<void> {
    const d = this.#d;
    this.#results ??= await ExecutionResultLog.open(dir, d.config.durable);
    const pos = await reconcileExecution(d.state(), d.hook, d.blocks, statePath, d.log);
    d.log.info("execution handshake", {
      committed_height: d.state().committedHeight,
      execution_height: pos.height,
      from: pos.source,
    });
    this.#setPosition(pos);
    d.agreement.executed(pos.height, pos.executionStateRoot);
    // After a crash the hook's position may be ahead of the log: write that entry again.
    const atPos = pos.height > 0 ? await d.blocks.getBlock(pos.height) : null;
    if (atPos && !await this.#results.get(pos.height)) {
      this.#logResult(pos.height, atPos.hash, pos);
    }
    this.#feed = this.#makeFeed(pos);
  }

  /** Hands over the committed heights the hook is missing; false when a call failed. */
  async catchUp(deadline?: number): Promise<boolean> {
    return this.#feed ? await this.#feed.catchUp(deadline) : true;
  }

  /** Wakes the feed (a new commit, or the node resumed). */
  kick(): void {
    this.#feed?.kick();
  }

  /** Stops handing heights and waits for the call in flight. */
  async pause(): Promise<void> {
    if (!this.#feed) return;
    this.#feed.pause();
    await this.#feed.idle();
  }

  /** Syncs the result log (before the state file, which must never claim more). */
  async sync(): Promise<void> {
    await this.#results?.sync();
  }

  /** The logged result of `height`, or null when not executed yet or missing. */
  async result(height: number): Promise<ExecutionResultEntry | null> {
    if (!this.#results || height > this.#d.state().lastExecutionHeight) return null;
    return await this.#results.get(height);
  }

  /** Closes the result log and the hook. */
  async close(): Promise<void> {
    this.#results?.close();
    await this.#d.hook.close?.();
  }

  #makeFeed(start: ExecutionPosition): ExecutionFeed {
    const d = this.#d;
    return new ExecutionFeed({
      hook: d.hook,
      // Only heights whose commit is on disk: the hook must never run ahead of the state file.
      committedHeight: () => d.writer.persistedHeight,
      contextFor: (h) => this.#contextFor(h),
      onResult: (r, ctx, ms) => this.#onExecuted(r, ctx, ms),
      onError: (height, message, code) => {
        // The driver's code (DRIVER_TIMEOUT, DRIVER_CRASHED, …) leads, for operators and tools.
        d.setError(
          `${EXECUTION_ERROR_PREFIX} ${height} failed: ${code ? `${code}: ` : ""}${message}`,
        );
        d.log.warn("execution failed", { height, code, error: message });
        d.events.emit("error", { source: "execution", height, message, code });
      },
      retryBaseMs: Math.max(d.config.tickIntervalMs, 10),
      retryMaxMs: 2_000,
      now: () => performance.now(),
    }, start);
  }

  async #contextFor(height: number): Promise<NodeExecutionCommitContext> {
    const blocks = this.#d.blocks;
    const block = this.#recent.get(height) ?? await blocks.getBlock(height);
    if (!block) {
      throw new AwrError(
        "BLOCK_MISSING",
        `committed block ${height} is missing from ${blocks.dir}`,
        { height, dir: blocks.dir },
      );
    }
    return commitContext(this.#d.config.worldId, this.#d.config.nodeId, block);
  }

  #onExecuted(r: NodeExecutionCommitResult, ctx: NodeExecutionCommitContext, ms: number): void {
    const d = this.#d;
    this.#logResult(r.executionHeight, ctx.nodeBlockHash, r);
    this.#setPosition({
      height: r.executionHeight,
      executionBlockHash: r.executionBlockHash,
      executionStateRoot: r.executionStateRoot,
    });
    d.agreement.executed(r.executionHeight, r.executionStateRoot);
    d.setError(null, EXECUTION_ERROR_PREFIX);
    d.events.emit("execution", { result: r, nodeBlockHash: ctx.nodeBlockHash, durationMs: ms });
  }

  #setPosition(p: ExecutionPosition): void {
    const s = this.#d.state();
    if (
      s.lastExecutionHeight === p.height && s.lastExecutionBlockHash === p.executionBlockHash &&
      s.lastExecutionStateRoot === p.executionStateRoot
    ) return;
    s.lastExecutionHeight = p.height;
    s.lastExecutionBlockHash = p.executionBlockHash;
    s.lastExecutionStateRoot = p.executionStateRoot;
    this.#d.writer.dirty = true;
  }

  #logResult(height: number, nodeBlockHash: string, r: ResultHashes): void {
    this.#results?.record(height, nodeBlockHash, r, this.driverName, this.#d.clock(), this.#d.log);
  }
}
