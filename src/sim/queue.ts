/**
 * The simulator's event queue: a binary min-heap ordered by (time, insertion sequence),
 * so events at the same simulated time run in a deterministic order.
 * @module
 */

interface Entry<T> {
  readonly time: number;
  readonly seq: number;
  readonly item: T;
}

/**
 * A timed event queue.
 *
 * @example
 * ```ts
 * import { EventQueue } from "./queue.ts";
 * const q = new EventQueue<string>();
 * q.push(5, "b");
 * q.push(1, "a");
 * q.pop()?.item; // "a"
 * ```
 */
export class EventQueue<T> {
  #heap: Entry<T>[] = [];
  #seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `item` at `time`. */
  push(time: number, item: T): void {
    const h = this.#heap;
    h.push({ time, seq: this.#seq++, item });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Removes and returns the earliest event. */
  pop(): { time: number; item: T } | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Entry<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return { time: top.time, item: top.item };
  }
}

function less<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
