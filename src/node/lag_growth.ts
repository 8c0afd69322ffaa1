/**
 * Early warning beside the lag bound: execution that falls further behind window
 * after window is a driver slower than the tick, and will reach the bound. Counted
 * in observations (one per tick), never in wall time, so tests need no clock.
 * @module
 */
import type { Logger } from "../logger.ts";
import type { NodeEvents } from "./events.ts";

/** Options of {@link LagGrowth}. */
export interface LagGrowthOptions {
  /** Observations (ticks) per window. */
  windowTicks: number;
  /** Consecutive windows whose lag ended higher than it began before the warning. */
  windows: number;
}

/** Defaults: three windows of 20 ticks (12 s at the default 200 ms tick). */
export const defaultLagGrowthOptions: Readonly<LagGrowthOptions> = { windowTicks: 20, windows: 3 };

/**
 * Watches the execution lag and warns once per episode while it keeps growing.
 *
 * @example
 * ```ts
 * import { silentLogger } from "../logger.ts";
 * import { NodeEvents } from "./events.ts";
 * import { LagGrowth } from "./lag_growth.ts";
 * const g = new LagGrowth(silentLogger, new NodeEvents(), { windowTicks: 2, windows: 2 });
 * for (let lag = 0; lag < 5; lag++) g.observe(lag);
 * g.growing; // true
 * ```
 */
export class LagGrowth {
  readonly #opts: LagGrowthOptions;
  readonly #log: Logger;
  readonly #events: NodeEvents;
  #windowStart: number | null = null;
  #ticks = 0;
  #rising = 0;
  #episodeStart = 0;
  #growing = false;

  /**
   * @param log gets one WARN when growth is detected and one INFO when it stops
   * @param events gets a `lag_growing` event at each change
   */
  constructor(log: Logger, events: NodeEvents, options: Partial<LagGrowthOptions> = {}) {
    this.#opts = { ...defaultLagGrowthOptions, ...options };
    this.#log = log;
    this.#events = events;
  }

  /** True while the lag has grown for `windows` windows in a row. */
  get growing(): boolean {
    return this.#growing;
  }

  /** Records the lag at one tick. */
  observe(lag: number): void {
    if (this.#windowStart === null) {
      this.#windowStart = lag;
      this.#episodeStart = lag;
      return;
    }
    if (++this.#ticks < this.#opts.windowTicks) return;
    const from = this.#windowStart;
    this.#ticks = 0;
    this.#windowStart = lag;
    if (lag > from) {
      if (this.#rising === 0) this.#episodeStart = from;
      this.#rising++;
      if (this.#rising >= this.#opts.windows && !this.#growing) {
        this.#growing = true;
        const ticks = this.#rising * this.#opts.windowTicks;
        this.#log.warn("execution lag keeps growing: the driver is slower than the tick", {
          lag,
          lag_before: this.#episodeStart,
          over_ticks: ticks,
        });
        this.#events.emit("lag_growing", { growing: true, lag, from: this.#episodeStart, ticks });
      }
      return;
    }
    this.#rising = 0;
    if (this.#growing) {
      this.#growing = false;
      this.#log.info("execution lag stopped growing", { lag });
      this.#events.emit("lag_growing", {
        growing: false,
        lag,
        from,
        ticks: this.#opts.windowTicks,
      });
    }
  }
}
