/**
 * Test execution hooks: a recording hook whose results are derived from the
 * context (so they can be checked), optionally failing or slow, with `info()`.
 * @module
 */
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
  NodeExecutionHookInfo,
} from "../../src/node/execution_hook.ts";
import { hashCanonical } from "../../src/storage/hash.ts";

/** Options of {@link RecordingHook}. */
export interface RecordingHookOptions {
  /** Throw for a call at this height while this returns true. */
  failWhen?: (ctx: NodeExecutionCommitContext, attempt: number) => boolean;
  /** Delay every call by this many ms. */
  delayMs?: number;
  /** Start as if heights up to `info.lastHeight` had been applied. */
  info?: NodeExecutionHookInfo;
  /** Whether to expose `info()` at all. */
  withInfo?: boolean;
}

/** Deterministic result for a context: what the recording hook returns. */
export function expectedResult(
  ctx: NodeExecutionCommitContext,
  prev: string,
): NodeExecutionCommitResult {
  const executionBlockHash = hashCanonical(["test-exec", ctx.height, prev, ctx.nodeBlockHash]);
  return {
    executionHeight: ctx.height,
    executionBlockHash,
    executionStateRoot: hashCanonical(["test-root", ctx.height, ctx.nodeBlockHash]),
  };
}

/** Records every successful call; optionally fails, delays, reports info. */
export class RecordingHook implements NodeExecutionHook {
  readonly calls: NodeExecutionCommitContext[] = [];
  readonly attempts: number[] = [];
  readonly failures: number[] = [];
  closed = false;
  #last: NodeExecutionHookInfo;
  #opts: RecordingHookOptions;
  info?: () => Promise<NodeExecutionHookInfo>;

  constructor(opts: RecordingHookOptions = {}) {
    this.#opts = opts;
    this.#last = opts.info ?? {
      lastHeight: 0,
      lastNodeBlockHash: null,
      lastExecutionBlockHash: null,
      lastExecutionStateRoot: null,
    };
    if (opts.withInfo ?? opts.info !== undefined) {
      this.info = () => Promise.resolve({ ...this.#last });
    }
  }

  async onCommit(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    this.attempts.push(ctx.height);
    const attempt = this.attempts.filter((h) => h === ctx.height).length;
    if (this.#opts.delayMs) await new Promise((r) => setTimeout(r, this.#opts.delayMs));
    if (this.#opts.failWhen?.(ctx, attempt)) {
      this.failures.push(ctx.height);
      throw new Error(`injected failure at height ${ctx.height}`);
    }
    if (ctx.height <= this.#last.lastHeight) {
      throw new Error(`height ${ctx.height} delivered again (already at ${this.#last.lastHeight})`);
    }
    const result = expectedResult(ctx, this.#last.lastExecutionBlockHash ?? "genesis");
    this.calls.push(ctx);
    this.#last = {
      lastHeight: ctx.height,
      lastNodeBlockHash: ctx.nodeBlockHash,
      lastExecutionBlockHash: result.executionBlockHash,
      lastExecutionStateRoot: result.executionStateRoot,
    };
    return result;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Waits until `cond()` holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 5_000,
  stepMs = 5,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

/** Polls an async condition until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitForAsync(
  cond: () => Promise<boolean>,
  timeoutMs = 5_000,
  stepMs = 20,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}
