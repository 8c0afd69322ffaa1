/**
 * The node's tick cadence: one step at a time, on a fixed schedule; a step that runs
 * long delays the next one to "now" rather than bursting to catch up. A step that
 * throws stops the loop and is reported (the runtime then halts and retries).
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/** What {@link TickLoop} runs and reports to. */
export interface TickLoopOptions {
  /** Milliseconds between tick starts. */
  intervalMs: number;
  /** One tick's work. */
  step: () => Promise<void>;
  /** After each step that succeeded: how late it started and how long it took (ms). */
  onTick: (latenessMs: number, durationMs: number) => void;
  /** A step threw: the loop has stopped. */
  onError: (err: unknown) => void;
}

/**
 * Runs `step` every `intervalMs` until stopped or a step throws.
 *
 * @example
 * ```ts
 * import { TickLoop } from "./tick_loop.ts";
 * const loop = new TickLoop({
 *   intervalMs: 10, step: async () => {}, onTick: () => {}, onError: console.error,
 * });
 * loop.start();
 * await loop.stop();
 * ```
 */
export class TickLoop {
  readonly #o: TickLoopOptions;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #immediate: ReturnType<typeof setImmediate> | null = null;
  #tickPromise: Promise<void> | null = null;
  #nextTickAt = 0;

  /** @param options interval, step and callbacks */
  constructor(options: TickLoopOptions) {
    this.#o = options;
  }

  /** Whether ticks are scheduled. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts ticking now. */
  start(): void {
    this.#running = true;
    this.#nextTickAt = performance.now();
    this.#schedule();
  }

  /** Stops scheduling; waits for the tick in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    if (this.#tickPromise) await this.#tickPromise;
  }

  #schedule(): void {
    if (!this.#running) return;
    const delay = this.#nextTickAt - performance.now();
    const run = () => {
      this.#timer = null;
      this.#immediate = null;
      this.#tickPromise = this.#tick().finally(() => {
        this.#tickPromise = null;
      });
    };
    // A due tick runs as the next macrotask: setTimeout(0) costs ~2 ms here, which
    // would cap a 1 ms tick far below what the disk allows.
    if (delay <= 0) this.#immediate = setImmediate(run);
    else this.#timer = setTimeout(run, delay);
  }

  async #tick(): Promise<void> {
    const started = performance.now();
    const latenessMs = Math.max(0, started - this.#nextTickAt);
    // Fixed cadence; if a tick ran long, the next one starts now rather than bursting to catch up.
    this.#nextTickAt = Math.max(this.#nextTickAt + this.#o.intervalMs, started);
    try {
      await this.#o.step();
    } catch (err) {
      this.#running = false;
      this.#o.onError(err);
      return;
    }
    this.#o.onTick(latenessMs, performance.now() - started);
    this.#schedule();
  }
}
