/**
 * The mempool's memory: the waiting queue in arrival order, the included ids and the
 * idempotency keys remembered (bounded), the content hashes of actions other nodes'
 * blocks carried, and the fold that rebuilds all of it from the log's records.
 * No I/O: `mempool.ts` owns the log and calls this after each durable write.
 * @module
 */
import type { BlockAction } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import { hashCanonical } from "../storage/hash.ts";
import { type ActionStatus, type LogEntry, type LogRecord, sameAction } from "./mempool_records.ts";

/** Rough log bytes of one replayed entry (a compaction heuristic only). */
const ENTRY_BYTES_GUESS = 128;

/** Where an included action went, and the key it was submitted with. */
export interface Included {
  readonly height: number;
  readonly index: number;
  readonly key: string;
}

/**
 * The in-memory state of a mempool.
 *
 * @example
 * ```ts ignore
 * const q = new MempoolQueue(10_000, 0);
 * q.replay(records, committedHeight, path);
 * q.status(id); // { state: "pending" }
 * ```
 */
export class MempoolQueue {
  /** Waiting entries, in arrival order (the next block takes the head). */
  pending: LogEntry[] = [];
  /** The waiting entries by id. */
  readonly pendingIds = new Map<string, LogEntry>();
  /** Log bytes the waiting entries take (estimate, for compaction). */
  pendingBytes = 0;
  /** Included ids, oldest first (at most `maxRemembered`). */
  readonly included = new Map<string, Included>();
  /** Content hashes of committed actions this node had not queued (foreign blocks). */
  readonly foreign = new Set<string>();
  /** Remembered idempotency keys: their ids and when their batch is durable. */
  readonly keys = new Map<string, { ids: string[]; durable: Promise<void> }>();
  /** Highest height whose block was matched against the queue. */
  height: number;
  /** Keys forgotten while the log is replayed (null otherwise). */
  #forgotten: Set<string> | null = null;
  readonly #maxRemembered: number;

  /**
   * @param maxRemembered included ids (and foreign hashes) remembered at most
   * @param height the committed height the queue starts at
   */
  constructor(maxRemembered: number, height: number) {
    this.#maxRemembered = maxRemembered;
    this.height = height;
  }

  /** True when `actions` are the head of the queue (this node's own proposal). */
  isHead(actions: readonly BlockAction[]): boolean {
    const head = this.pending.slice(0, actions.length);
    return head.length === actions.length && actions.every((a, i) => sameAction(a, head[i].action));
  }

  /** Status of action `id`, or null when it is unknown (never seen, or forgotten). */
  status(id: string): ActionStatus | null {
    if (this.pendingIds.has(id)) return { state: "pending" };
    const inc = this.included.get(id);
    return inc ? { state: "included", height: inc.height, index: inc.index } : null;
  }

  /**
   * Removes the waiting entries equal to a foreign block's actions (first match each)
   * and returns their ids; actions nobody here queued are remembered by content.
   */
  dropMatching(height: number, actions: readonly BlockAction[]): string[] {
    const ids: string[] = [];
    const taken = new Set<string>();
    actions.forEach((a, index) => {
      const e = this.pending.find((p) => !taken.has(p.id) && sameAction(p.action, a));
      if (!e) {
        if (this.foreign.size >= this.#maxRemembered) this.foreign.clear();
        this.foreign.add(hashCanonical(a));
        return;
      }
      taken.add(e.id);
      ids.push(e.id);
      this.remember(e.id, { height, index, key: e.key });
    });
    this.removeIds(taken);
    return ids;
  }

  /** Removes the waiting entries `ids`. */
  removeIds(ids: ReadonlySet<string>): void {
    if (ids.size === 0) return;
    const before = this.pending.length;
    this.pending = this.pending.filter((e) => !ids.has(e.id));
    for (const id of ids) this.pendingIds.delete(id);
    if (this.pending.length === 0) this.pendingBytes = 0;
    else this.pendingBytes *= this.pending.length / before;
  }

  /** Appends a durable entry to the queue. */
  addPending(e: LogEntry, bytes: number): void {
    this.pending.push(e);
    this.pendingIds.set(e.id, e);
    this.pendingBytes += bytes;
  }

  /** Removes the first `count` entries: block `height` included them. */
  trim(height: number, count: number): void {
    const done = this.pending.splice(0, count);
    done.forEach((e, index) => {
      this.pendingIds.delete(e.id);
      this.remember(e.id, { height, index, key: e.key });
    });
    if (this.pending.length === 0) this.pendingBytes = 0;
    else this.pendingBytes *= this.pending.length / (this.pending.length + count);
  }

  /** Remembers where `id` went (the oldest beyond the bound is forgotten, with its key). */
  remember(id: string, inc: Included): void {
    this.included.delete(id);
    this.included.set(id, inc);
    while (this.included.size > this.#maxRemembered) {
      const [oldId, old] = this.included.entries().next().value!;
      this.included.delete(oldId);
      // A key is forgotten with its first id: a key is never answered with a partial batch.
      this.keys.delete(old.key);
      this.#forgotten?.add(old.key);
    }
  }

  /**
   * Rebuilds the queue from the log's records; throws `MEMPOOL_LOG_MISMATCH` when they
   * trim more than was queued or past `committedHeight`.
   */
  replay(records: LogRecord[], committedHeight: number, path: string): void {
    const forgotten = this.#forgotten = new Set<string>();
    for (const r of records) {
      if (r.type === "base") this.height = r.height;
      else if (r.type === "add") {
        for (const e of r.entries) {
          forgotten.delete(e.key);
          this.addPending(e, ENTRY_BYTES_GUESS);
        }
      } else if (r.type === "done") {
        if (r.count > this.pending.length) {
          throw new AwrError(
            "MEMPOOL_LOG_MISMATCH",
            `mempool log ${path}: height ${r.height} trims ${r.count} of ${this.pending.length} actions`,
            { path, height: r.height },
          );
        }
        this.trim(r.height, r.count);
        this.height = Math.max(this.height, r.height);
      } else if (r.type === "drop") {
        const ids = new Set(r.ids.filter((id) => this.pendingIds.has(id)));
        r.ids.forEach((id, index) => {
          const e = this.pendingIds.get(id);
          if (e) this.remember(id, { height: r.height, index, key: e.key });
        });
        this.removeIds(ids);
        this.height = Math.max(this.height, r.height);
      } else {
        for (const inc of r.entries) this.remember(inc.id, inc);
      }
    }
    // Each remembered key's ids in batch order: included ones went first (FIFO).
    this.#forgotten = null;
    this.keys.clear();
    const add = (key: string, id: string) => {
      if (key === "" || forgotten.has(key)) return;
      const k = this.keys.get(key) ?? { ids: [], durable: Promise.resolve() };
      k.ids.push(id);
      this.keys.set(key, k);
    };
    for (const [id, inc] of this.included) add(inc.key, id);
    for (const e of this.pending) add(e.key, e.id);
    if (this.height > committedHeight) {
      throw new AwrError(
        "MEMPOOL_LOG_MISMATCH",
        `mempool log ${path} trims through height ${this.height}, but the node committed only ${committedHeight}`,
        { path, height: this.height, committed_height: committedHeight },
      );
    }
  }
}
