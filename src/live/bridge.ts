/**
 * The legacy execution bridge, kept as the fallback for nodes started with
 * node-internal execution off (`--execution bridge`). The reward runtime calls
 * `catchUp()`; it reads committed blocks from the block store and hands them to the
 * same driver (and so the same execution core) the node would use, through the same
 * delivery loop ({@link ExecutionFeed}) — only the caller differs. In node mode this
 * object is never built (DESIGN invariant 1).
 * @module
 */
import { AwrError, isErrorCode } from "../errors.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import { ExecutionFeed } from "../node/execution_feed.ts";
import {
  commitContext,
  type ExecutionPosition,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
} from "../node/execution_hook.ts";

/**
 * Executes committed heights from the block store, in order, through a driver hook.
 *
 * @example
 * ```ts
 * import { LegacyBridge } from "./bridge.ts";
 * // const bridge = await LegacyBridge.open(hook, blockStore, "world-1", "node-1");
 * // await bridge.catchUp(node.snapshot().consensus.committedHeight);
 * ```
 */
export class LegacyBridge {
  readonly #hook: NodeExecutionHook;
  readonly #feed: ExecutionFeed;
  // The height the current catchUp() may deliver up to (the feed reads it).
  #target = 0;
  #executions = 0;
  #failure: AwrError | null = null;
  #onExecuted:
    | ((result: NodeExecutionCommitResult, nodeBlockHash: string, ms: number) => void)
    | null = null;

  private constructor(
    hook: NodeExecutionHook,
    blocks: CommittedBlockReader,
    worldId: string,
    nodeId: string,
    start: ExecutionPosition,
  ) {
    this.#hook = hook;
    this.#target = start.height;
    this.#feed = new ExecutionFeed({
      hook,
      committedHeight: () => this.#target,
      contextFor: async (h) => {
        const block = await blocks.getBlock(h);
        if (!block) {
          throw new AwrError(
            "BRIDGE_BLOCK_MISSING",
            `committed block ${h} is missing from the block store`,
            { height: h },
          );
        }
        return commitContext(worldId, nodeId, block);
      },
      onResult: (r, ctx, ms) => {
        this.#executions++;
        this.#onExecuted?.(r, ctx.nodeBlockHash, ms);
      },
      onError: (height, message, code) => {
        // The driver's own code when it is a registered one (DRIVER_TIMEOUT…).
        this.#failure = code !== undefined && isErrorCode(code)
          ? new AwrError(code, `bridge: ${message}`, { height } as never)
          : new AwrError("BRIDGE_EXECUTION_FAILED", `bridge: ${message}`, { height });
      },
      // catchUp() retries at once on its next call; the reward runtime's interval paces it.
      retryBaseMs: 0,
      retryMaxMs: 0,
      now: () => performance.now(),
    }, start);
  }

  /** Opens the bridge at the driver's own last applied height. */
  static async open(
    hook: NodeExecutionHook,
    blocks: CommittedBlockReader,
    worldId: string,
    nodeId: string,
  ): Promise<LegacyBridge> {
    const info = hook.info ? await hook.info() : null;
    return new LegacyBridge(hook, blocks, worldId, nodeId, {
      height: info?.lastHeight ?? 0,
      executionBlockHash: info?.lastExecutionBlockHash ?? null,
      executionStateRoot: info?.lastExecutionStateRoot ?? null,
    });
  }

  /** Subscribes to each executed height (the live node forwards them as `execution` events). */
  onExecuted(
    fn: (result: NodeExecutionCommitResult, nodeBlockHash: string, ms: number) => void,
  ): void {
    this.#onExecuted = fn;
  }

  /** Last height executed. */
  get progress(): Readonly<ExecutionPosition> {
    return this.#feed.progress;
  }

  /** Heights this bridge has executed since it opened. */
  get executions(): number {
    return this.#executions;
  }

  /**
   * Executes heights above the bridge's up to `committedHeight` (at most `limit`).
   * Returns how many it executed; a driver error rejects (with the driver's code)
   * after the heights before it were kept.
   */
  async catchUp(committedHeight: number, limit = 256): Promise<number> {
    const before = this.#executions;
    this.#target = Math.min(committedHeight, this.#feed.progress.height + limit);
    this.#failure = null;
    const ok = await this.#feed.catchUp();
    if (!ok && this.#failure) throw this.#failure;
    return this.#executions - before;
  }

  /** Closes the driver. */
  async close(): Promise<void> {
    await this.#feed.idle();
    await this.#hook.close?.();
  }
}
