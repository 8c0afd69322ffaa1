/**
 * Bounded execution lag: consensus may not run more than `max` heights ahead of
 * execution. At the bound the node stops proposing (ticks and slots go on); it
 * proposes again once execution has caught up to half the bound, so a driver that
 * is just slower than the tick makes one episode per half-bound, not one per height.
 * @module
 */
import type { Logger } from "../logger.ts";
import type { NodeEvents } from "./events.ts";
import { LagGrowth, type LagGrowthOptions } from "./lag_growth.ts";

/** What the lag limit reports (snapshot and status). */
export interface LagLimitSnapshot {
  /** The bound (`maxExecutionLag`). */
  max: number;
  /** True while proposals are paused for execution to catch up. */
  engaged: boolean;
  /** Episodes since start (each one warned once). */
  episodes: number;
  /** Highest lag (committed − executed) seen at a tick since start. */
  peak: number;
  /** True while the lag keeps growing window after window (see `lag_growth.ts`). */
  growing: boolean;
}

/**
 * The proposal gate.
 *
 * @example
 * ```ts
 * import { silentLogger } from "../logger.ts";
 * import { NodeEvents } from "./events.ts";
 * import { LagLimit } from "./lag_limit.ts";
 * const limit = new LagLimit(4, silentLogger, new NodeEvents());
 * limit.allows(3, 0); // true
 * limit.allows(4, 0); // false: engaged (one WARN, one `lag_limit` event)
 * limit.allows(4, 2); // true: released
 * ```
 */
export class LagLimit {
  readonly #max: number;
  readonly #log: Logger;
  readonly #events: NodeEvents;
  #engaged = false;
  #episodes = 0;
  #peak = 0;
  readonly #growth: LagGrowth;

  /**
   * @param max most committed heights not yet executed (a positive integer)
   * @param log gets one WARN per episode and one INFO when it ends
   * @param events gets a `lag_limit` event at each change
   * @param growth windows of the lag-growth warning kept beside the bound
   */
  constructor(
    max: number,
    log: Logger,
    events: NodeEvents,
    growth: Partial<LagGrowthOptions> = {},
  ) {
    this.#max = max;
    this.#log = log;
    this.#events = events;
    this.#growth = new LagGrowth(log, events, growth);
  }

  /**
   * Whether a block may be proposed now that `committed` heights are committed and
   * `executed` executed: committing one more must keep `committed - executed <= max`.
   */
  allows(committed: number, executed: number): boolean {
    const lag = committed - executed;
    const limit = this.#max;
    if (lag > this.#peak) this.#peak = lag;
    this.#growth.observe(lag);
    if (!this.#engaged) {
      if (lag + 1 <= limit) return true;
      this.#engaged = true;
      this.#episodes++;
      this.#log.warn("execution lag at its bound; proposals paused until execution catches up", {
        lag,
        max_execution_lag: limit,
        committed_height: committed,
        execution_height: executed,
      });
      this.#events.emit("lag_limit", { engaged: true, lag, limit });
      return false;
    }
    if (lag > Math.floor(limit / 2)) return false;
    this.#engaged = false;
    this.#log.info("execution caught up; proposals resume", { lag, max_execution_lag: limit });
    this.#events.emit("lag_limit", { engaged: false, lag, limit });
    return true;
  }

  /** The bound, whether it holds proposals now, how many episodes so far, the peak lag. */
  snapshot(): LagLimitSnapshot {
    return {
      max: this.#max,
      engaged: this.#engaged,
      episodes: this.#episodes,
      peak: this.#peak,
      growing: this.#growth.growing,
    };
  }
}
