/**
 * The background copy of `execution/state.cbor`. Nothing of awr reads that file while a
 * pack exists (the pack's `execution/state` entry is the truth), so it is written off
 * the height's path: one write in flight at a time, and heights that end meanwhile
 * leave only their newest bytes to write next. At most one write runs and one buffer
 * waits, whatever the height rate.
 * @module
 */
import type { Logger } from "../logger.ts";
import { writeFileAtomic } from "../storage/atomic.ts";

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
  #running: Promise<void> | null = null;
  #next: Uint8Array | null = null;

  /** `writeFile` is for tests; by default a temp file and a rename, no fsync. */
  constructor(
    path: string,
    logger: Logger,
    writeFile = (p: string, b: Uint8Array) =>
      writeFileAtomic(p, b, { durable: false, mkdirs: false }),
  ) {
    this.path = path;
    this.#logger = logger;
    this.#writeFile = writeFile;
  }

  /** Schedules `bytes` (replacing bytes that wait); a failed write is logged, not thrown. */
  write(bytes: Uint8Array): void {
    this.#next = bytes;
    this.#running ??= this.#drain();
  }

  /** Resolves once nothing waits and no write runs. */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    let bytes: Uint8Array | null;
    while ((bytes = this.#next) !== null) {
      this.#next = null;
      try {
        await this.#writeFile(this.path, bytes);
      } catch (err) {
        this.#logger.error("execution state copy not written (start-up rewrites it)", {
          file: this.path,
          error: String(err),
        });
      }
    }
    this.#running = null;
  }
}
