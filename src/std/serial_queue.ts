/**
 * One bounded serial queue: jobs run one at a time, in the order they were handed
 * in, and each job's result or error goes back to its own caller only (a failed job
 * does not stop the jobs behind it). The execution core, the driver hooks and the
 * pack store use it wherever calls must not overtake each other.
 * @module
 */
import { AwrError } from "../errors.ts";

/** Options of a {@link SerialQueue}. */
export interface SerialQueueOptions {
  /**
   * How many jobs may wait behind the running one (0: one job at a time, a second
   * caller is refused); one more is refused with `SERIAL_QUEUE_FULL` instead of
   * queueing without limit.
   */
  maxWaiting?: number;
  /** Names the queue in errors, e.g. `"execution core"`. */
  name?: string;
}

/**
 * Defaults of {@link SerialQueueOptions}. Every user keeps at most a few calls in
 * flight (the node sends one height at a time), so 64 waiting jobs is far above
 * normal use and a hit means a caller runs away.
 */
export const defaultSerialQueueOptions: Readonly<Required<SerialQueueOptions>> = {
  maxWaiting: 64,
  name: "serial queue",
};

/**
 * Runs jobs one after the other, with a bound on how many may wait.
 *
 * @example
 * ```ts
 * import { SerialQueue } from "./serial_queue.ts";
 * const q = new SerialQueue({ maxWaiting: 8, name: "example" });
 * const a = q.run(async () => 1);
 * const b = q.run(() => 2); // starts only once `a` has settled
 * console.log(await a, await b);
 * ```
 */
export class SerialQueue {
  readonly #maxWaiting: number;
  readonly #name: string;
  // Settles (never rejects) once every job handed in so far has settled.
  #tail: Promise<void> = Promise.resolve();
  // Jobs handed in and not settled yet (the running one included).
  #pending = 0;
  #running = false;

  /** @param options bound and name; see {@link defaultSerialQueueOptions} */
  constructor(options: SerialQueueOptions = {}) {
    const o = { ...defaultSerialQueueOptions, ...options };
    if (!Number.isSafeInteger(o.maxWaiting) || o.maxWaiting < 0) {
      throw new AwrError(
        "SERIAL_QUEUE_OPTIONS",
        `SerialQueueOptions.maxWaiting must be a whole number >= 0, got ${o.maxWaiting}`,
        { field: "maxWaiting", value: o.maxWaiting },
      );
    }
    this.#maxWaiting = o.maxWaiting;
    this.#name = o.name;
  }

  /** Jobs handed in that have not started yet. */
  get waiting(): number {
    return this.#pending - (this.#running ? 1 : 0);
  }

  /** True while a job runs. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Runs `job` once every job handed in before it has settled. Resolves or rejects
   * with the job's own outcome. Rejects with `SERIAL_QUEUE_FULL` (and never runs
   * the job) when one job and `maxWaiting` more are already handed in and unsettled.
   */
  run<T>(job: () => Promise<T> | T): Promise<T> {
    if (this.#pending > this.#maxWaiting) {
      return Promise.reject(
        new AwrError(
          "SERIAL_QUEUE_FULL",
          `${this.#name}: ${this.#pending} calls are already queued or running (maxWaiting ${this.#maxWaiting})`,
          { queue: this.#name, pending: this.#pending, maxWaiting: this.#maxWaiting },
        ),
      );
    }
    this.#pending++;
    const result = this.#tail.then(() => {
      this.#running = true;
      return job();
    });
    const settled = () => {
      this.#running = false;
      this.#pending--;
    };
    this.#tail = result.then(settled, settled);
    return result;
  }

  /** Resolves once every job handed in so far has settled (never rejects). */
  idle(): Promise<void> {
    return this.#tail;
  }
}
