/**
 * The node's tick cadence: one step at a time, on a fixed schedule; a step that runs
 * long delays the next one to "now" rather than bursting to catch up. A step that
 * throws stops the loop and is reported (the runtime then halts and retries).
 *
 * Between ticks, {@link TickLoop.wake} asks for an early step (a networked node's
 * inbound consensus message): wakes are coalesced into one early step run as the next
 * macrotask, never beside a tick or another early step, and at most
 * `maxEarlyStepsPerTick` early steps run between two ticks (the rest wait for the tick).
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
  /** The work of an early step ({@link TickLoop.wake}); none = wakes are ignored. */
  earlyStep?: () => Promise<void>;
  /** Most early steps between two ticks (default {@link MAX_EARLY_STEPS_PER_TICK}; 0 = none). */
  maxEarlyStepsPerTick?: number;
}

/** Default bound on early steps between two ticks. */
export const MAX_EARLY_STEPS_PER_TICK = 16;

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
  /** The regular tick came due while a step was in flight: it runs right after. */
  #tickDue = false;
  #wakePending = false;
  #wakeHandle: ReturnType<typeof setImmediate> | null = null;
  #earlySinceTick = 0;
  #earlyTotal = 0;

  /** @param options interval, step and callbacks */
  constructor(options: TickLoopOptions) {
    this.#o = options;
  }

  /** Whether ticks are scheduled. */
  get running(): boolean {
    return this.#running;
  }

  /** Early steps run since start (all ticks). */
  get earlySteps(): number {
    return this.#earlyTotal;
  }

  /**
   * Asks for an early step as soon as no step is in flight (coalesced: many wakes before
   * it runs make one step). Ignored when stopped, without `earlyStep`, or once the
   * bound of early steps since the last tick is reached (the next tick does the work).
   */
  wake(): void {
    if (!this.#running || !this.#o.earlyStep) return;
    this.#wakePending = true;
    if (this.#tickPromise === null) this.#scheduleWake();
  }

  /**
   * Brings the next tick forward to right after the step in flight (a networked node
   * that committed in an early step: the next proposal need not wait). Only the next
   * tick of the fixed schedule is brought forward, and the one after it keeps its
   * time, so ticks never come more often than one per interval on average; a second
   * call before the schedule catches up is ignored.
   */
  tickSoon(): void {
    if (!this.#running || this.#timer === null) return;
    if (this.#nextTickAt - performance.now() > this.#o.intervalMs) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#tickPromise !== null) this.#tickDue = true;
    else this.#immediate = setImmediate(() => this.#due());
  }

  /** Starts ticking now. */
  start(): void {
    this.#running = true;
    this.#tickDue = false;
    this.#wakePending = false;
    this.#earlySinceTick = 0;
    this.#nextTickAt = performance.now();
    this.#schedule();
  }

  /** Stops scheduling; waits for the tick in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    if (this.#wakeHandle !== null) clearImmediate(this.#wakeHandle);
    this.#timer = null;
    this.#immediate = null;
    this.#wakeHandle = null;
    this.#tickDue = false;
    while (this.#tickPromise) await this.#tickPromise;
  }

  #scheduleWake(): void {
    const max = this.#o.maxEarlyStepsPerTick ?? MAX_EARLY_STEPS_PER_TICK;
    if (this.#wakeHandle !== null || this.#earlySinceTick >= max) return;
    this.#wakeHandle = setImmediate(() => {
      this.#wakeHandle = null;
      if (!this.#running || this.#tickPromise !== null || !this.#wakePending) return;
      this.#tickPromise = this.#early().finally(() => {
        this.#tickPromise = null;
        this.#afterStep();
      });
    });
  }

  async #early(): Promise<void> {
    this.#wakePending = false;
    this.#earlySinceTick++;
    this.#earlyTotal++;
    try {
      await this.#o.earlyStep!();
    } catch (err) {
      this.#failed(err);
    }
  }

  /** After any step: a tick that came due meanwhile runs first, else a pending wake. */
  #afterStep(): void {
    if (!this.#running) return;
    if (this.#tickDue) {
      this.#tickDue = false;
      this.#startTick();
    } else if (this.#wakePending) this.#scheduleWake();
  }

  #startTick(): void {
    this.#tickPromise = this.#tick().finally(() => {
      this.#tickPromise = null;
      this.#afterStep();
    });
  }

  #failed(err: unknown): void {
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    if (this.#wakeHandle !== null) clearImmediate(this.#wakeHandle);
    this.#timer = null;
    this.#immediate = null;
    this.#wakeHandle = null;
    this.#o.onError(err);
  }

  #schedule(): void {
    if (!this.#running) return;
    const delay = this.#nextTickAt - performance.now();
    // A due tick runs as the next macrotask: setTimeout(0) costs ~2 ms here, which
    // would cap a 1 ms tick far below what the disk allows.
    if (delay <= 0) this.#immediate = setImmediate(() => this.#due());
    else this.#timer = setTimeout(() => this.#due(), delay);
  }

  #due(): void {
    this.#timer = null;
    this.#immediate = null;
    // An early step in flight: the tick runs as soon as it ends.
    if (this.#tickPromise !== null) this.#tickDue = true;
    else this.#startTick();
  }

  async #tick(): Promise<void> {
    const started = performance.now();
    const latenessMs = Math.max(0, started - this.#nextTickAt);
    // Fixed cadence; if a tick ran long, the next one starts now rather than bursting to catch up.
    this.#nextTickAt = Math.max(this.#nextTickAt + this.#o.intervalMs, started);
    // The tick handles what woke us so far; the early-step budget starts again.
    this.#wakePending = false;
    this.#earlySinceTick = 0;
    try {
      await this.#o.step();
    } catch (err) {
      this.#failed(err);
      return;
    }
    this.#o.onTick(latenessMs, performance.now() - started);
    this.#schedule();
  }
}
