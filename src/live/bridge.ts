/**
 * The legacy execution bridge, kept as the fallback for nodes started with
 * node-internal execution off (`--execution bridge`). The reward runtime calls
 * `catchUp()`; it reads committed blocks from the block store and hands them to the
 * same driver (and so the same execution core) the node would use — only the
 * caller differs. In node mode this object is never built (DESIGN invariant 1).
 * @module
 */
import { AwrError } from "../errors.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import {
  commitContext,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
  type NodeExecutionHookInfo,
} from "../node/execution_hook.ts";

/** Where the bridge stands. */
export interface BridgeProgress {
  height: number;
  executionBlockHash: string | null;
  executionStateRoot: string | null;
}

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
  readonly #blocks: CommittedBlockReader;
  readonly #worldId: string;
  readonly #nodeId: string;
  #progress: BridgeProgress;
  #executions = 0;
  #onExecuted:
    | ((result: NodeExecutionCommitResult, nodeBlockHash: string, ms: number) => void)
    | null = null;

  private constructor(
    hook: NodeExecutionHook,
    blocks: CommittedBlockReader,
    worldId: string,
    nodeId: string,
    info: NodeExecutionHookInfo,
  ) {
    this.#hook = hook;
    this.#blocks = blocks;
    this.#worldId = worldId;
    this.#nodeId = nodeId;
    this.#progress = {
      height: info.lastHeight,
      executionBlockHash: info.lastExecutionBlockHash,
      executionStateRoot: info.lastExecutionStateRoot,
    };
  }

  /** Opens the bridge at the driver's own last applied height. */
  static async open(
    hook: NodeExecutionHook,
    blocks: CommittedBlockReader,
    worldId: string,
    nodeId: string,
  ): Promise<LegacyBridge> {
    const info = hook.info ? await hook.info() : {
      lastHeight: 0,
      lastNodeBlockHash: null,
      lastExecutionBlockHash: null,
      lastExecutionStateRoot: null,
    };
    return new LegacyBridge(hook, blocks, worldId, nodeId, info);
  }

  /** Subscribes to each executed height (the live node forwards them as `execution` events). */
  onExecuted(
    fn: (result: NodeExecutionCommitResult, nodeBlockHash: string, ms: number) => void,
  ): void {
    this.#onExecuted = fn;
  }

  /** Last height executed. */
  get progress(): Readonly<BridgeProgress> {
    return this.#progress;
  }

  /** Heights this bridge has executed since it opened. */
  get executions(): number {
    return this.#executions;
  }

  /**
   * Executes heights above the bridge's up to `committedHeight` (at most `limit`).
   * Returns how many it executed; a driver error propagates after the heights
   * before it were kept.
   */
  async catchUp(committedHeight: number, limit = 256): Promise<number> {
    let done = 0;
    while (this.#progress.height < committedHeight && done < limit) {
      const h = this.#progress.height + 1;
      const block = await this.#blocks.getBlock(h);
      if (!block) {
        throw new AwrError(
          "BLOCK_MISSING",
          `bridge: committed block ${h} is missing from the block store`,
          { height: h },
        );
      }
      const t0 = performance.now();
      const r = await this.#hook.onCommit(commitContext(this.#worldId, this.#nodeId, block));
      if (r.executionHeight !== h) {
        throw new AwrError(
          "DRIVER_BAD_RESULT",
          `bridge: driver returned height ${r.executionHeight} for ${h}`,
          {
            driver: this.#hook.driverName ?? "bridge",
            height: h,
            executionHeight: r.executionHeight,
          },
        );
      }
      this.#progress = {
        height: h,
        executionBlockHash: r.executionBlockHash,
        executionStateRoot: r.executionStateRoot,
      };
      this.#executions++;
      done++;
      this.#onExecuted?.(r, block.hash, performance.now() - t0);
    }
    return done;
  }

  /** Closes the driver. */
  async close(): Promise<void> {
    await this.#hook.close?.();
  }
}
