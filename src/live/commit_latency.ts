/**
 * Commit latency: from a block's proposal (its header's `timestampMs`, the proposer's
 * clock when it built the proposal) to its commit on this node (this node's clock when
 * the commit event fires). On one machine both clocks are the same wall clock; across
 * machines the figure also holds their clock offset. Kept over a bounded window.
 * @module
 */

/** How many recent commits the latency quantiles are computed over (the bound). */
export const COMMIT_LATENCY_WINDOW = 256;

/**
 * The latencies of the last {@link COMMIT_LATENCY_WINDOW} commits, with their median.
 *
 * @example
 * ```ts
 * import { CommitLatency } from "./commit_latency.ts";
 * const l = new CommitLatency(() => 1_050);
 * l.observe(1_000); // proposed at 1000, committed now (1050)
 * l.quantile(0.5); // 50
 * ```
 */
export class CommitLatency {
  readonly #clock: () => number;
  readonly #window: number;
  readonly #ring: number[] = [];
  #next = 0;
  #count = 0;
  #sumMs = 0;
  #lastMs: number | null = null;

  /**
   * @param clock unix ms (the node's wall clock; tests inject one)
   * @param window how many recent commits to keep (default {@link COMMIT_LATENCY_WINDOW})
   */
  constructor(clock: () => number = Date.now, window = COMMIT_LATENCY_WINDOW) {
    this.#clock = clock;
    this.#window = Math.max(1, Math.floor(window));
  }

  /** Records the commit, now, of a block proposed at `proposedAtMs` (negative skew → 0). */
  observe(proposedAtMs: number): void {
    const ms = Math.max(0, this.#clock() - proposedAtMs);
    if (this.#ring.length < this.#window) this.#ring.push(ms);
    else this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#window;
    this.#count++;
    this.#sumMs += ms;
    this.#lastMs = ms;
  }

  /** Commits observed since start. */
  get count(): number {
    return this.#count;
  }

  /** Sum of every observed latency (ms). */
  get sumMs(): number {
    return this.#sumMs;
  }

  /** The latest commit's latency (ms), or null before the first. */
  get lastMs(): number | null {
    return this.#lastMs;
  }

  /** How many latencies the window holds now. */
  get size(): number {
    return this.#ring.length;
  }

  /** The `q` quantile (0..1, nearest rank) of the window's latencies (ms); null when empty. */
  quantile(q: number): number | null {
    if (this.#ring.length === 0) return null;
    const s = [...this.#ring].sort((a, b) => a - b);
    const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
    return s[rank];
  }
}
