/**
 * The node's two writes in their one safe order: the block file, then the state file
 * that declares it committed. Memory takes a commit only once its writes are on disk, so
 * a failed write (disk full, read-only, I/O error) leaves the in-memory state equal to
 * the disk's and the commit pending; the retry writes that same height again.
 *
 * With `deferState` (networked nodes) a commit is on disk once its block file is: the
 * block file, with its certificate, is the durable record, and the state file follows
 * at the runtime's pace (`StateWritePacer`). A restart adopts the decided blocks it
 * finds above the state file's height (`local_start.ts`), so nothing committed is lost,
 * and a height's critical path (commit → next proposal) holds one atomic write, not two.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import { AwrError, errorMessage } from "../errors.ts";
import type { BlockStore } from "./block_store.ts";
import { writeErrorCode } from "./halt.ts";
import { type PosNodeState, writeNodeState } from "./state_file.ts";

/** The node's writes; tests wrap them to inject failures (ENOSPC, EROFS…). */
export interface NodeWriters {
  /** Writes a committed block's file (overwriting one of the same height is allowed). */
  putBlock(block: CommittedBlock): Promise<void>;
  /** Atomically replaces the state file. */
  writeState(state: PosNodeState, unknown: Record<string, unknown>): Promise<void>;
}

/** Prefixes a failed write's message with what was written, keeping its OS code. */
async function named(what: string, write: Promise<void>): Promise<void> {
  try {
    await write;
  } catch (err) {
    throw new AwrError(
      "WRITE_FAILED",
      `writing ${what}: ${errorMessage(err)}`,
      { what, osCode: writeErrorCode(err) },
      { cause: err },
    );
  }
}

/**
 * The real writes: block files in `blocks`, the state file at `statePath`; a failure
 * names the file and keeps the OS code (`ENOSPC`…).
 *
 * @example
 * ```ts ignore
 * import { nodeWriters } from "./commit_writer.ts";
 * const writers = nodeWriters(blockStore, "./data/node/node-1/node_pos_state.cbor", true);
 * ```
 */
export function nodeWriters(blocks: BlockStore, statePath: string, durable: boolean): NodeWriters {
  return {
    putBlock: (block) => named(`block ${block.header.height} in ${blocks.dir}`, blocks.put(block)),
    writeState: (state, unknown) =>
      named(statePath, writeNodeState(statePath, state, unknown, durable)),
  };
}

/**
 * Persists the node state and at most one pending commit.
 *
 * @example
 * ```ts ignore
 * import { CommitWriter } from "./commit_writer.ts";
 * const writer = new CommitWriter(writers, (block) => console.log(block.header.height));
 * writer.stage(block, slot);
 * await writer.persist(state, {}); // throws while the disk refuses; call again to retry
 * ```
 */
export class CommitWriter {
  readonly #writers: NodeWriters;
  readonly #onCommitted: (block: CommittedBlock) => void;
  #pending: {
    block: CommittedBlock;
    slot: number;
    blockWritten: boolean;
    alongside: (() => Promise<void>) | null;
  } | null = null;
  #persistedHeight = 0;
  readonly #deferState: boolean;
  /** Set when the state changed since the last successful write. */
  dirty = false;

  /**
   * @param writers the block and state writes
   * @param onCommitted called once per commit, once it is on disk
   * @param options `deferState`: a commit is on disk with its block file; the state
   *   file is written by a later {@link persist} (see the module doc)
   */
  constructor(
    writers: NodeWriters,
    onCommitted: (block: CommittedBlock) => void,
    options: { deferState?: boolean } = {},
  ) {
    this.#writers = writers;
    this.#onCommitted = onCommitted;
    this.#deferState = options.deferState === true;
  }

  /**
   * Highest commit on disk: the state file's, or with `deferState` the last block
   * written (a restart adopts it).
   */
  get persistedHeight(): number {
    return this.#persistedHeight;
  }

  /** Height of the commit not yet on disk, or null. */
  get pendingHeight(): number | null {
    return this.#pending?.block.header.height ?? null;
  }

  /** Forgets a pending commit (a restart reloads the state from disk and builds anew). */
  discardPending(): void {
    this.#pending = null;
  }

  /**
   * Holds a new commit until {@link persist} writes it; one at a time. `alongside`
   * (the signer states) runs in parallel with the block write; both must succeed
   * before the state file declares the block committed.
   */
  stage(
    block: CommittedBlock,
    slot: number,
    alongside: (() => Promise<void>) | null = null,
  ): void {
    if (this.#pending) {
      const height = this.#pending.block.header.height;
      throw new AwrError(
        "COMMIT_WRITE_PENDING",
        `commit ${height} is still waiting for its write`,
        { height },
      );
    }
    this.#pending = { block, slot, blockWritten: false, alongside };
  }

  /**
   * Writes the pending block (once), then `state` with the pending commit in it; only
   * then does `state` (mutated in place) take the commit. `beforeState` (the result
   * log's sync) runs beside the block write, and must succeed before the state write
   * too. With `deferState` a pending commit is taken once its block is written, and
   * the state file (with `beforeState`) waits for a call with nothing pending. Throws
   * the first write's error, leaving `state` and the pending commit as they were.
   */
  async persist(
    state: PosNodeState,
    unknown: Record<string, unknown>,
    beforeState: (() => Promise<void>) | null = null,
  ): Promise<void> {
    this.dirty = false;
    const p = this.#pending;
    const defer = p !== null && this.#deferState;
    let next = state;
    try {
      if (p && !p.blockWritten) {
        // Settled all (no write left running into a retry), then the first failure.
        const done = await Promise.allSettled([
          this.#writers.putBlock(p.block),
          p.alongside?.(),
          defer ? undefined : beforeState?.(),
        ]);
        const failed = done.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
        p.blockWritten = true;
      } else if (!defer) await beforeState?.();
      if (p) {
        const h = p.block.header.height;
        next = {
          ...state,
          committedHeight: h,
          latestHeight: Math.max(state.latestHeight, h),
          lastCommittedSlot: p.slot,
          lastBlockHash: p.block.hash,
        };
      }
      if (!defer) await this.#writers.writeState(next, unknown);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    this.#persistedHeight = next.committedHeight;
    if (!p) return;
    // In place: the execution fields may have moved while the write was in flight.
    state.committedHeight = next.committedHeight;
    state.latestHeight = next.latestHeight;
    state.lastCommittedSlot = next.lastCommittedSlot;
    state.lastBlockHash = next.lastBlockHash;
    this.#pending = null;
    // The state file still names the height before: the next persist writes it.
    if (defer) this.dirty = true;
    this.#onCommitted(p.block);
  }
}
