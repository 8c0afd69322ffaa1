/**
 * The background copy of `execution/state.cbor`. Nothing of awr reads that file while a
 * pack exists (the pack's `execution/state` entry is the truth), so it is written off
 * the height's path: one write in flight at a time, at most one every
 * {@link STATE_COPY_MIN_GAP_MS}, and heights that end meanwhile leave only their newest
 * bytes to write next. At most one write runs and one buffer waits, whatever the height
 * rate. {@link CoalescedCopy.settled} (the core's close) writes the waiting bytes at once.
 *
 * Why the gap: each copy is a new file renamed over the old one, so the old inode is
 * freed. At dozens of heights a second, with other nodes on the same ext4 disk, the
 * allocator's scan past recently freed inodes (`recently_deleted`, `find_inode_bit`)
 * was among the top kernel symbols of a 4-validator network (perf, 2026-11-26).
 * @module
 */
import type { Logger } from "../logger.ts";
import { rewriteFileAtomic } from "../storage/rewrite.ts";

/** Least time between the starts of two copies (ms); readers of the file see it this stale. */
export const STATE_COPY_MIN_GAP_MS = 1000;

/** Timer functions of {@link CoalescedCopy} (tests pass their own). */
export interface CopyTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const realTimers: CopyTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/**
 * Writes the newest bytes handed to {@link CoalescedCopy.write} to `path`, in the
 * background (temp file + rename, no fsync).
 *
 * @example
 * ```ts
 * import { CoalescedCopy } from "./state_copy.ts";
 * import { silentLogger } from "../logger.ts";
 * const copy = new CoalescedCopy("/tmp/awr-state.cbor", silentLogger);
 * copy.write(new Uint8Array([0xa0]));
 * await copy.settled();
 * ```
 */
export class CoalescedCopy {
  readonly path: string;
  readonly #logger: Logger;
  readonly #writeFile: (path: string, bytes: Uint8Array) => Promise<void>;
  readonly #minGapMs: number;
  readonly #timers: CopyTimers;
  #running: Promise<void> | null = null;
  #next: Uint8Array | null = null;
  #timer: unknown = null;
  #lastStart = -Infinity;

  /**
   * `writeFile` is for tests; by default `rewriteFileAtomic` without fsync.
   * `options.minGapMs` (default {@link STATE_COPY_MIN_GAP_MS}) and `options.timers` too.
   */
  constructor(
    path: string,
    logger: Logger,
    writeFile = (p: string, b: Uint8Array) => rewriteFileAtomic(p, b, { durable: false }),
    options: { minGapMs?: number; timers?: CopyTimers } = {},
  ) {
    this.path = path;
    this.#logger = logger;
    this.#writeFile = writeFile;
    this.#minGapMs = options.minGapMs ?? STATE_COPY_MIN_GAP_MS;
    this.#timers = options.timers ?? realTimers;
  }

  /** Schedules `bytes` (replacing bytes that wait); a failed write is logged, not thrown. */
  write(bytes: Uint8Array): void {
    this.#next = bytes;
    this.#kick(false);
  }

  /** Writes the waiting bytes now (no gap) and resolves once nothing waits and no write runs. */
  async settled(): Promise<void> {
    while (this.#running || this.#next !== null) {
      this.#kick(true);
      if (this.#running) await this.#running;
    }
  }

  #kick(now: boolean): void {
    if (this.#running || this.#next === null) return;
    if (this.#timer !== null) {
      if (!now) return;
      this.#timers.clearTimeout(this.#timer);
      this.#timer = null;
    }
    const wait = this.#lastStart + this.#minGapMs - this.#timers.now();
    if (!now && wait > 0) {
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = null;
        this.#kick(false);
      }, wait);
      return;
    }
    this.#running = this.#writeNext();
  }

  async #writeNext(): Promise<void> {
    const bytes = this.#next!;
    this.#next = null;
    this.#lastStart = this.#timers.now();
    try {
      await this.#writeFile(this.path, bytes);
    } catch (err) {
      this.#logger.error("execution state copy not written (start-up rewrites it)", {
        file: this.path,
        error: String(err),
      });
    }
    this.#running = null;
    this.#kick(false);
  }
}
