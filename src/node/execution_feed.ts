/**
 * Hands committed heights to the execution hook: in height order, one call in
 * flight, never blocking the tick loop. A failed call is retried with backoff from
 * the same height, so nothing is skipped and nothing succeeds twice. An exception
 * thrown by the node's own callbacks (`contextFor`, `onResult`, `onError`) is caught
 * here: it never leaves a call in flight for ever. The one delivery loop of both
 * execution modes: the node runs it after each commit and tick, the legacy bridge
 * (`live/bridge.ts`) on each reward pass.
 * @module
 */
import { AwrError, errorChain, errorCode } from "../errors.ts";
import type {
  ExecutionPosition,
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
} from "./execution_hook.ts";

/** What the feed needs from the node. */
export interface ExecutionFeedDeps {
  hook: NodeExecutionHook;
  /** Highest committed height (read on every decision). */
  committedHeight(): number;
  /** Builds the hook context for a committed height. */
  contextFor(height: number): Promise<NodeExecutionCommitContext>;
  /** Called after each successful call, in height order. */
  onResult(result: NodeExecutionCommitResult, ctx: NodeExecutionCommitContext, ms: number): void;
  /**
   * Called when a call fails (the height will be handed over again); `code` is the
   * error's machine-readable code (e.g. `DRIVER_TIMEOUT`, `DRIVER_CRASHED`) or null.
   */
  onError(height: number, message: string, code: string | null): void;
  /** First retry delay after a failure (doubles up to `retryMaxMs`). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Monotonic milliseconds. */
  now(): number;
}

/**
 * The execution delivery loop (node mode and the legacy bridge).
 *
 * @example
 * ```ts
 * import { ExecutionFeed } from "./execution_feed.ts";
 * // const feed = new ExecutionFeed(deps, { height: 0, executionBlockHash: null, executionStateRoot: null });
 * // feed.kick(); // after every commit and every tick
 * ```
 */
export class ExecutionFeed {
  readonly #deps: ExecutionFeedDeps;
  #progress: ExecutionPosition;
  #inFlight: Promise<void> | null = null;
  #inFlightHeight = 0;
  #failures = 0;
  #retryAt = 0;
  #paused = false;
  #errorCount = 0;

  /**
   * @param deps the node's side
   * @param start the position agreed by the start-up handshake
   */
  constructor(deps: ExecutionFeedDeps, start: ExecutionPosition) {
    this.#deps = deps;
    this.#progress = { ...start };
  }

  /** Current execution position. */
  get progress(): Readonly<ExecutionPosition> {
    return this.#progress;
  }

  /** Height of the call in flight, or 0. */
  get inFlightHeight(): number {
    return this.#inFlightHeight;
  }

  /** How many calls have failed since start. */
  get errorCount(): number {
    return this.#errorCount;
  }

  /** Stops handing out new heights (the call in flight finishes). */
  pause(): void {
    this.#paused = true;
  }

  /** Starts the next call if none is in flight, a height is waiting and no backoff applies. */
  kick(): void {
    if (this.#paused || this.#inFlight) return;
    const next = this.#progress.height + 1;
    if (next > this.#deps.committedHeight()) return;
    if (this.#failures > 0 && this.#deps.now() < this.#retryAt) return;
    this.#inFlightHeight = next;
    this.#inFlight = this.#deliver(next).catch(() => false).then((ok) => {
      this.#inFlight = null;
      this.#inFlightHeight = 0;
      // Keep going while heights are waiting: execution catches up without waiting for a tick.
      if (ok) this.kick();
    });
  }

  /** Resolves when no call is in flight. */
  async idle(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  /**
   * Delivers every waiting height one after another (start-up replay, stop drain).
   * Returns false at the first failure or when `deadline` (monotonic ms) passes.
   */
  async catchUp(deadline = Infinity): Promise<boolean> {
    await this.idle();
    while (this.#progress.height < this.#deps.committedHeight()) {
      if (this.#deps.now() > deadline) return false;
      const before = this.#errorCount;
      this.#failures = 0; // catch-up retries once immediately rather than waiting for backoff
      const wasPaused = this.#paused;
      this.#paused = false;
      this.kick();
      this.#paused = wasPaused;
      await this.idle();
      if (this.#errorCount !== before) return false;
    }
    return true;
  }

  async #deliver(height: number): Promise<boolean> {
    const t0 = this.#deps.now();
    let ctx: NodeExecutionCommitContext;
    let result: NodeExecutionCommitResult;
    try {
      ctx = await this.#deps.contextFor(height);
      result = await this.#deps.hook.onCommit(ctx);
      if (!result || result.executionHeight !== height) {
        throw new AwrError(
          "BAD_HOOK_RESULT",
          `execution hook returned height ${result?.executionHeight} for committed height ${height}`,
          { height, executionHeight: result?.executionHeight },
        );
      }
      if (
        typeof result.executionBlockHash !== "string" ||
        typeof result.executionStateRoot !== "string"
      ) {
        throw new AwrError(
          "BAD_HOOK_RESULT",
          `execution hook returned no hashes for height ${height}`,
          { height },
        );
      }
    } catch (err) {
      this.#failures++;
      this.#errorCount++;
      const delay = Math.min(
        this.#deps.retryMaxMs,
        this.#deps.retryBaseMs * 2 ** Math.min(this.#failures - 1, 16),
      );
      this.#retryAt = this.#deps.now() + delay;
      this.#report(height, errorChain(err), errorCode(err));
      return false;
    }
    this.#failures = 0;
    this.#progress = {
      height,
      executionBlockHash: result.executionBlockHash,
      executionStateRoot: result.executionStateRoot,
    };
    try {
      this.#deps.onResult(result, ctx, this.#deps.now() - t0);
    } catch (err) {
      // The height is executed; only the node's bookkeeping failed. Report it and go on.
      this.#report(
        height,
        `handling the result of height ${height} failed: ${errorChain(err)}`,
        errorCode(err),
      );
    }
    return true;
  }

  // onError must not throw out of the feed either: a throwing reporter is swallowed.
  #report(height: number, message: string, code: string | null): void {
    try {
      this.#deps.onError(height, message, code);
    } catch {
      // Nothing left to tell; the next kick retries.
    }
  }
}
