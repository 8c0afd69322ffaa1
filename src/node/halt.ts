/**
 * The node's halted state: a write that failed (disk full, read-only file system,
 * I/O error) stops commits, and the write is retried with bounded exponential
 * backoff until it succeeds. Time comes from an injected clock and timer so tests
 * drive the retries without sleeping.
 * @module
 */
import { AwrError, errorChain, errorMessage, hasCode } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { NodeEvents } from "./events.ts";

/** Why and since when the node is halted (`halted` in the snapshot; null when fine). */
export interface HaltInfo {
  /** The failed write's message (it names the file). */
  reason: string;
  /** Machine-readable cause: the OS code (`ENOSPC`, `EROFS`, `EIO`…) or the error's name. */
  code: string;
  /** Wall-clock time of the first failure. */
  sinceUnixMs: number;
  /** Retries attempted since the halt (all of them failed while halted). */
  retries: number;
}

/** The timer the retries are scheduled on (default: the global one). */
export interface RetryTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The global timer. */
export const realRetryTimer: RetryTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * Delay before retry number `retries + 1`: `baseMs * 2^retries`, capped at `maxMs`.
 *
 * @example
 * ```ts
 * import { haltRetryDelayMs } from "./halt.ts";
 * haltRetryDelayMs(0, 100, 5_000); // 100
 * haltRetryDelayMs(3, 100, 5_000); // 800
 * haltRetryDelayMs(9, 100, 5_000); // 5000
 * ```
 */
export function haltRetryDelayMs(retries: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(retries, 30));
}

/** Reads the OS code of a failed write (`ENOSPC`…), else the error's name. */
export function writeErrorCode(err: unknown): string {
  if (hasCode(err, "WRITE_FAILED")) return err.context.osCode;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") return code;
  return err instanceof Error && err.name !== "Error" ? err.name : "WRITE_FAILED";
}

/** What {@link WriteRetry} is given. */
/**
 * The retry timing of a node's {@link WriteRetry}: its configured first and longest
 * delay, its clock, and the injected timer (real timers by default).
 */
export function retryTiming(
  config: { haltRetryBaseMs: number; haltRetryMaxMs: number },
  clock: () => number,
  timer: RetryTimer = realRetryTimer,
): Pick<WriteRetryOptions, "baseMs" | "maxMs" | "clock" | "timer"> {
  return { baseMs: config.haltRetryBaseMs, maxMs: config.haltRetryMaxMs, clock, timer };
}

export interface WriteRetryOptions {
  baseMs: number;
  maxMs: number;
  clock: () => number;
  timer: RetryTimer;
  /** Re-runs the writes that failed; throws while they still fail. */
  attempt: () => Promise<void>;
  /** The writes succeeded again (after the INFO line and the `resume` event). */
  onResume: (info: HaltInfo, haltedMs: number) => void;
  /** Gets one ERROR per halt and one INFO per resume, never a line per retry. */
  log?: Logger;
  /** Gets the `halt` and `resume` events. */
  events?: NodeEvents;
  /** Committed height on disk, and the height waiting for its write (for the log). */
  heights?: () => { committed: number; pending: number | null };
}

/**
 * Holds the halted state and schedules retries of the failed writes.
 *
 * @example
 * ```ts
 * import { realRetryTimer, WriteRetry } from "./halt.ts";
 * const retry = new WriteRetry({
 *   baseMs: 100, maxMs: 5_000, clock: Date.now, timer: realRetryTimer,
 *   attempt: async () => {}, onResume: () => {},
 * });
 * retry.halt(Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }));
 * retry.info?.code; // "ENOSPC"
 * await retry.cancel();
 * ```
 */
export class WriteRetry {
  readonly #o: WriteRetryOptions;
  #info: HaltInfo | null = null;
  #timerId: unknown = null;
  #inFlight: Promise<void> | null = null;
  #cancelled = false;

  /** @param options backoff bounds, clock, timer and the retried writes */
  constructor(options: WriteRetryOptions) {
    this.#o = options;
  }

  /** The halted state, or null when the writes succeed. */
  get info(): Readonly<HaltInfo> | null {
    return this.#info;
  }

  /** Enters the halted state (one ERROR line, a `halt` event) and schedules the first retry. */
  halt(err: unknown): void {
    this.#cancelled = false;
    const info = this.#info = {
      reason: errorMessage(err),
      code: writeErrorCode(err),
      sinceUnixMs: this.#o.clock(),
      retries: 0,
    };
    const { committed, pending } = this.#o.heights?.() ?? { committed: 0, pending: null };
    (this.#o.log ?? silentLogger).error("node halted: a write failed; retrying with backoff", {
      code: info.code,
      error: info.reason,
      committed_height: committed,
      pending_height: pending,
      retry_base_ms: this.#o.baseMs,
      retry_max_ms: this.#o.maxMs,
    });
    this.#o.events?.emit("halt", { height: committed, code: info.code, reason: info.reason });
    this.#schedule();
  }

  /** Throws `NODE_HALTED` (naming the cause) while halted; writes are refused then. */
  refuseWrites(): void {
    const h = this.#info;
    if (!h) return;
    throw new AwrError(
      "NODE_HALTED",
      `node is halted (${h.code}: ${h.reason}); writes are refused until it resumes`,
      { cause_code: h.code, since_unix_ms: h.sinceUnixMs, retries: h.retries },
    );
  }

  /** Stops retrying; waits for an attempt in flight. The halted state stays. */
  async cancel(): Promise<void> {
    this.#cancelled = true;
    if (this.#timerId !== null) this.#o.timer.clearTimeout(this.#timerId);
    this.#timerId = null;
    if (this.#inFlight) await this.#inFlight;
  }

  /** Forgets the halted state (after a successful write outside the retry loop). */
  clear(): void {
    this.#info = null;
  }

  /**
   * The write at stop: not halted, it runs (and throws) as usual; halted, one last
   * try, and a disk that still fails keeps what was last persisted (logged, not thrown).
   */
  async finalAttempt(): Promise<void> {
    if (!this.#info) return await this.#o.attempt();
    try {
      await this.#o.attempt();
      this.clear();
    } catch (err) {
      (this.#o.log ?? silentLogger).error(
        "stopped while halted; the state on disk stays as last persisted",
        { committed_height: this.#o.heights?.().committed ?? 0, error: errorChain(err) },
      );
    }
  }

  #schedule(): void {
    const info = this.#info;
    if (!info || this.#cancelled) return;
    const delay = haltRetryDelayMs(info.retries, this.#o.baseMs, this.#o.maxMs);
    this.#timerId = this.#o.timer.setTimeout(() => {
      this.#timerId = null;
      this.#inFlight = this.#run().finally(() => this.#inFlight = null);
    }, delay);
  }

  async #run(): Promise<void> {
    const info = this.#info;
    if (!info || this.#cancelled) return;
    info.retries++;
    try {
      await this.#o.attempt();
    } catch (err) {
      // Same halt, newest cause; no log line per retry (the status shows the count).
      info.reason = errorMessage(err);
      info.code = writeErrorCode(err);
      this.#schedule();
      return;
    }
    this.#info = null;
    const haltedMs = this.#o.clock() - info.sinceUnixMs;
    const committed = this.#o.heights?.().committed ?? 0;
    (this.#o.log ?? silentLogger).info("node resumed: the failed write succeeded", {
      committed_height: committed,
      retries: info.retries,
      halted_ms: Math.round(haltedMs),
    });
    this.#o.events?.emit("resume", { height: committed, retries: info.retries, haltedMs });
    this.#o.onResume(info, haltedMs);
  }
}
