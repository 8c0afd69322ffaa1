/**
 * The durable mempool: actions acknowledged to a client are in an fsynced log under
 * `<data>/mempool/` before the acknowledgement, are proposed in arrival order, and
 * are trimmed once a committed block carries them.
 *
 * - **Ids.** Action `i` of a batch submitted with idempotency key `k` has id
 *   `blake3(canonical CBOR ["awr-action-id", k, i, action])`, first 32 hex digits.
 *   A batch without a key gets a random one, so its ids are still derived the same way.
 * - **Idempotency.** A key seen before answers the original ids and queues nothing;
 *   the same key with different actions is `IDEMPOTENCY_KEY_REUSED`. Keys and
 *   included ids are remembered for the last `maxRememberedIds` included actions.
 * - **All or nothing.** A batch that does not fit the free space is `MEMPOOL_FULL`
 *   and nothing of it is queued; a batch is one log frame, so a crash keeps all or none.
 * - **Restart.** The log is replayed (a torn tail is cut); blocks committed after the
 *   last trimmed height are matched against the head of the queue, so an action
 *   included just before a crash is never proposed twice.
 * @module
 */
import type { BlockAction } from "../consensus/types.ts";
import { AwrError, errorChain, errorMessage } from "../errors.ts";
import { hashCanonical } from "../storage/hash.ts";
import type { Logger } from "../logger.ts";
import type { BlockStore } from "./block_store.ts";
import type { NodeConfig } from "./config.ts";
import { encodeFrame, type GroupCommitLog } from "./mempool_log.ts";
import { openMempoolLog } from "./mempool_open.ts";
import { MempoolQueue } from "./mempool_queue.ts";
import { defaultMempoolOptions, type MempoolOptions } from "./mempool_options.ts";
import {
  actionId,
  type ActionStatus,
  encodeCompactedLog,
  encodeRecord,
  type LogEntry,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type SubmitResult,
} from "./mempool_records.ts";

export { defaultMempoolOptions, mempoolLogPath, type MempoolOptions } from "./mempool_options.ts";
export {
  actionId,
  type ActionStatus,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type SubmitActionsOptions,
  type SubmitResult,
} from "./mempool_records.ts";

/**
 * A durable, bounded, idempotent action queue.
 *
 * @example
 * ```ts ignore
 * import { Mempool } from "./mempool.ts";
 * const pool = await Mempool.open({ dataDir: "/tmp/d" }, 0, () => Promise.resolve(null));
 * const { ids } = await pool.submit([{ kind: "rest", agent: "ada" }], "key-1");
 * pool.peek(256); // the action, ready for a proposal
 * await pool.close();
 * ```
 */
export class Mempool {
  readonly #opts: MempoolOptions;
  readonly #log: GroupCommitLog;
  readonly #q: MempoolQueue;
  #reserved = 0;
  #compactions = 0;

  private constructor(opts: MempoolOptions, log: GroupCommitLog, height: number) {
    this.#opts = opts;
    this.#log = log;
    this.#q = new MempoolQueue(opts.maxRememberedIds, height);
    log.afterFlush = () => this.#maybeCompact();
  }

  /**
   * Opens (or creates) the log, cuts a torn tail, replays it and trims what blocks
   * `trimmed+1 ..= committedHeight` already carry (`blockActions` reads a block).
   * Throws `MEMPOOL_LOG_MISMATCH` when a committed block does not start with the
   * head of the queue, and `MEMPOOL_LOG_TOO_LARGE` beyond `maxLogBytes`.
   */
  static async open(
    input: Partial<MempoolOptions> & Pick<MempoolOptions, "dataDir">,
    committedHeight: number,
    blockActions: (height: number) => Promise<readonly BlockAction[] | null>,
  ): Promise<Mempool> {
    const opts: MempoolOptions = { ...defaultMempoolOptions, ...input };
    const { path, records, log } = await openMempoolLog(opts);
    const fresh = records.length === 0;
    const pool = new Mempool(opts, log, committedHeight);
    if (fresh) {
      // A new log: nothing committed so far is ours.
      await log.rewrite(encodeFrame(encodeRecord({ type: "base", height: committedHeight })));
      return pool;
    }
    try {
      pool.#q.replay(records, committedHeight, path);
      await pool.#reconcile(committedHeight, blockActions, path);
    } catch (err) {
      await log.close();
      throw err;
    }
    return pool;
  }

  /** Actions waiting for a proposal (durable ones). */
  get size(): number {
    return this.#q.pending.length;
  }

  /** How many times the log was compacted since open. */
  get compactions(): number {
    return this.#compactions;
  }

  /** Size of the log file in bytes. */
  get logBytes(): number {
    return this.#log.size;
  }

  /**
   * Queues `actions` under `key` (a random key when null) and resolves once they are
   * fsynced. A known key answers its original ids (`replayed`). Throws `MEMPOOL_FULL`
   * (nothing queued) when the batch does not fit, `IDEMPOTENCY_KEY_REUSED` for a known
   * key with other actions, `MEMPOOL_BATCH_TOO_LARGE` and `MEMPOOL_IO`.
   */
  async submit(actions: readonly BlockAction[], key: string | null): Promise<SubmitResult> {
    if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw new AwrError(
        "MEMPOOL_BAD_KEY",
        `idempotency key must have 1..${MAX_IDEMPOTENCY_KEY_LENGTH} characters, got ${key.length}`,
        { length: key.length },
      );
    }
    const k = key ?? crypto.randomUUID();
    const ids = actions.map((a, i) => actionId(k, i, a));
    const known = this.#q.keys.get(k);
    if (known) {
      if (known.ids.length !== ids.length || known.ids.some((id, i) => id !== ids[i])) {
        throw new AwrError(
          "IDEMPOTENCY_KEY_REUSED",
          `idempotency key ${JSON.stringify(k)} was used for other actions`,
          { key: k },
        );
      }
      await known.durable;
      return { ids, replayed: true, mempoolSize: this.size };
    }
    const waiting = this.#q.pending.length + this.#reserved;
    if (waiting + actions.length > this.#opts.maxSize) {
      throw new AwrError(
        "MEMPOOL_FULL",
        `mempool is full: ${waiting} of ${this.#opts.maxSize} actions waiting, ` +
          `a batch of ${actions.length} does not fit; nothing was queued, retry later`,
        { size: waiting, limit: this.#opts.maxSize, batch: actions.length },
      );
    }
    const entries: LogEntry[] = actions.map((action, i) => ({
      id: ids[i],
      key: k,
      after: this.#q.height,
      action,
    }));
    const payload = encodeRecord({ type: "add", entries });
    if (payload.length > this.#opts.maxFrameBytes) {
      throw new AwrError(
        "MEMPOOL_BATCH_TOO_LARGE",
        `a batch of ${payload.length} bytes is larger than ${this.#opts.maxFrameBytes}`,
        { bytes: payload.length, maxFrameBytes: this.#opts.maxFrameBytes },
      );
    }
    this.#reserved += entries.length;
    const durable = this.#log.append(encodeFrame(payload), true, () => {
      this.#reserved -= entries.length;
      for (const e of entries) this.#q.addPending(e, payload.length / entries.length);
    });
    this.#q.keys.set(k, { ids, durable });
    try {
      await durable;
    } catch (err) {
      this.#q.keys.delete(k);
      this.#reserved -= entries.length;
      throw err;
    }
    return { ids, replayed: false, mempoolSize: this.size };
  }

  /** The first `max` waiting actions, in arrival order (what the next block carries). */
  peek(max: number): BlockAction[] {
    return this.#q.pending.slice(0, max).map((e) => e.action);
  }

  /**
   * Records that the block at `height` committed the first `count` waiting actions.
   * The trim is appended to the log without waiting: a crash before it is durable is
   * repaired at start by matching the committed block.
   */
  committed(height: number, count: number): void {
    if (count > this.#q.pending.length) {
      throw new AwrError(
        "MEMPOOL_TRIM",
        `block ${height} carries ${count} actions but only ${this.#q.pending.length} wait`,
        { height, count, waiting: this.#q.pending.length },
      );
    }
    this.#q.height = Math.max(this.#q.height, height);
    if (count === 0) return;
    this.#q.trim(height, count);
    const frame = encodeFrame(encodeRecord({ type: "done", height, count }));
    this.#log.append(frame, false).catch((err) =>
      this.#opts.logger.warn("mempool log: trim not written", { error: errorChain(err) })
    );
  }

  /**
   * Records the block at `height` with its actions. The head of the queue (this node's
   * proposal) takes the cheap FIFO path ({@link committed}); otherwise (another
   * validator's block) each action removes the first waiting entry equal to it, and the
   * removal is logged by id. Actions nobody here queued are remembered (bounded), so a
   * late gossiped copy is not proposed again ({@link includedElsewhere}).
   */
  committedBlock(height: number, actions: readonly BlockAction[]): void {
    if (this.#q.isHead(actions)) {
      return this.committed(height, actions.length);
    }
    this.#q.height = Math.max(this.#q.height, height);
    const ids = this.#q.dropMatching(height, actions);
    if (ids.length === 0) return;
    const frame = encodeFrame(encodeRecord({ type: "drop", height, ids }));
    this.#log.append(frame, false).catch((err) =>
      this.#opts.logger.warn("mempool log: drop not written", { error: errorMessage(err) })
    );
  }

  /** True when an equal action was committed in a block while not queued here. */
  includedElsewhere(action: BlockAction): boolean {
    return this.#q.foreign.has(hashCanonical(action));
  }

  /** Status of action `id`, or null when it is unknown (never seen, or forgotten). */
  status(id: string): ActionStatus | null {
    return this.#q.status(id);
  }

  /** Writes what is queued and closes the log. */
  async close(): Promise<void> {
    await this.#log.close();
  }

  async #reconcile(
    committedHeight: number,
    blockActions: (height: number) => Promise<readonly BlockAction[] | null>,
    path: string,
  ): Promise<void> {
    // Blocks at or below the head's `after` cannot carry it: start just above.
    let h = Math.max(this.#q.height, this.#q.pending[0]?.after ?? this.#q.height) + 1;
    for (; h <= committedHeight && this.#q.pending.length > 0; h++) {
      const actions = await blockActions(h);
      if (actions === null) {
        throw new AwrError("MEMPOOL_LOG_MISMATCH", `committed block ${h} is missing`, {
          path,
          height: h,
        });
      }
      const same = this.#q.isHead(actions);
      if (!same && this.#opts.foreignBlocks) {
        this.committedBlock(h, actions);
        continue;
      }
      if (!same) {
        throw new AwrError(
          "MEMPOOL_LOG_MISMATCH",
          `committed block ${h} does not carry the head of the mempool log ${path}`,
          { path, height: h },
        );
      }
      this.committed(h, actions.length);
    }
    this.#q.height = Math.max(this.#q.height, committedHeight);
  }

  async #maybeCompact(): Promise<void> {
    const live = this.#q.pendingBytes + this.#q.included.size * 96 + 64;
    if (this.#log.size < this.#opts.compactMinBytes || this.#log.size < 2 * live) return;
    try {
      // A forgotten key is written as "": its remaining ids must not revive it partially.
      const included = new Map(
        [...this.#q.included].map((
          [id, i],
        ) => [id, this.#q.keys.has(i.key) ? i : { ...i, key: "" }]),
      );
      const out = encodeCompactedLog(this.#q.height, included, this.#q.pending);
      await this.#log.rewrite(out);
      this.#q.pendingBytes = Math.max(0, out.length - this.#q.included.size * 96);
      this.#compactions++;
    } catch (err) {
      this.#opts.logger.warn("mempool log: compaction failed", { error: errorChain(err) });
    }
  }
}

/**
 * Opens the mempool of a node: bounds from the node's options, committed blocks from
 * its block store.
 *
 * @example
 * ```ts ignore
 * import { openNodeMempool } from "./mempool.ts";
 * const pool = await openNodeMempool(config, state.committedHeight, blocks, logger);
 * ```
 */
export function openNodeMempool(
  config: NodeConfig,
  committedHeight: number,
  blocks: BlockStore,
  logger: Logger,
  foreignBlocks = false,
): Promise<Mempool> {
  return Mempool.open(
    {
      dataDir: config.dataDir,
      maxSize: config.maxMempoolSize,
      maxRememberedIds: config.maxRememberedActionIds,
      durable: config.durable,
      logger,
      foreignBlocks,
    },
    committedHeight,
    async (h) => (await blocks.getBlock(h))?.actions ?? null,
  );
}
