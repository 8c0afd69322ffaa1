/**
 * Committed blocks on disk, one file per height, for replay after a crash, for the
 * bridge fallback and for drivers that fill a gap:
 * `<node dir>/blocks/<height / 10000, 10 digits>/<height, 20 digits>.cbor`.
 * Sharding keeps folders small on long chains. A block file is written (atomically)
 * before the state file that declares its height committed. Since BFT local mode a
 * file also holds the block's `certificate` (precommits, `{}` in older files) and its
 * `evidence`; neither is covered by the block hash (see `bft_block.ts`).
 * @module
 */
import { join } from "../std/path.ts";
import {
  committedBlockFromWire,
  committedBlockToWire,
  type CommittedBlockWire,
  hashHeader,
  headerFromWire,
} from "../consensus/block.ts";
import type { CommittedBlock } from "../consensus/types.ts";
import { parseStoredBft } from "./bft_block.ts";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { readFileIfExists, removeStaleTemps, writeFileAtomic } from "../storage/atomic.ts";
import { decodeFile, encodeFile, type FileSchema } from "../storage/schema.ts";

/** Reads committed blocks by height: what execution drivers get from their host. */
export interface CommittedBlockReader {
  /** The committed block at `height`, or null when none is stored. */
  getBlock(height: number): Promise<CommittedBlock | null>;
}

/** Error for a block file that is unreadable or inconsistent. */
export class BlockStoreError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

type BlockFile = CommittedBlockWire & {
  /** `{}` when the block has no certificate (written before BFT). */
  certificate: Record<string, unknown>;
  evidence: unknown[];
};

/** Schema of a block file (version 1). */
export const BLOCK_FILE_SCHEMA: FileSchema<BlockFile> = {
  kind: "CommittedBlock",
  version: 1,
  fields: [
    { key: "height", wire: "height", type: "u64", default: 0 },
    { key: "hash", wire: "hash", type: "string", default: "" },
    { key: "header", wire: "header", type: "object", default: {} as BlockFile["header"] },
    { key: "actions", wire: "actions", type: "array", default: [] },
    { key: "attestations", wire: "attestations", type: "array", default: [] },
    { key: "committed_at_unix_ms", wire: "committed_at_unix_ms", type: "u64", default: 0 },
    // Added with BFT local mode; older files lack them and load with the defaults.
    { key: "certificate", wire: "certificate", type: "object", default: {} },
    { key: "evidence", wire: "evidence", type: "array", default: [] },
  ],
};

/** File name of a height: 20 zero-padded digits. */
export function heightFileName(height: number): string {
  return `${String(height).padStart(20, "0")}.cbor`;
}

/**
 * Block files of one node.
 *
 * @example
 * ```ts
 * import { BlockStore } from "./block_store.ts";
 * const store = new BlockStore("/tmp/awr-example/node/node-1/blocks");
 * const block = await store.getBlock(1); // null on an empty store
 * ```
 */
export class BlockStore implements CommittedBlockReader {
  readonly #dir: string;
  readonly #durable: boolean;
  readonly #blockingFlush: boolean;
  // Shards already cleaned of crash temps by this process (one per 10,000 heights).
  readonly #cleaned = new Set<string>();

  /**
   * @param dir the node's `blocks` folder
   * @param options `durable: false` skips fsync (tests of logic only); `blockingFlush`
   * makes the fsyncs block the thread (`storage/flush.ts`; networked nodes)
   */
  constructor(dir: string, options: { durable?: boolean; blockingFlush?: boolean } = {}) {
    this.#dir = dir;
    this.#durable = options.durable ?? true;
    this.#blockingFlush = options.blockingFlush ?? false;
  }

  /** Folder holding the block files. */
  get dir(): string {
    return this.#dir;
  }

  /** Path of the file for `height`. */
  pathOf(height: number): string {
    const shard = String(Math.floor(height / 10_000)).padStart(10, "0");
    return join(this.#dir, shard, heightFileName(height));
  }

  /** Writes a committed block atomically (overwrites a stale uncommitted file). */
  async put(block: CommittedBlock): Promise<void> {
    const bytes = encodeFile(BLOCK_FILE_SCHEMA, {
      ...committedBlockToWire(block),
      certificate: (block.certificate ?? {}) as unknown as Record<string, unknown>,
      evidence: [...(block.evidence ?? [])],
    });
    const path = this.pathOf(block.header.height);
    const shard = join(path, "..");
    if (!this.#cleaned.has(shard)) {
      // First write into this shard since start: a crash mid-write left its temp here.
      await removeStaleTemps(shard);
      this.#cleaned.add(shard);
    }
    await writeFileAtomic(path, bytes, {
      durable: this.#durable,
      syncCalls: true,
      blockingFlush: this.#blockingFlush,
    });
  }

  /** Reads and checks the block at `height` (hash recomputed from the header). */
  async getBlock(height: number): Promise<CommittedBlock | null> {
    const path = this.pathOf(height);
    const bytes = await readFileIfExists(path);
    if (!bytes) return null;
    const { value } = decodeFile(BLOCK_FILE_SCHEMA, bytes, path);
    const header = headerFromWire(value.header);
    const hash = hashHeader(header);
    if (value.height !== height || header.height !== height || hash !== value.hash) {
      throw new BlockStoreError(
        "BLOCK_FILE_INCONSISTENT",
        `${path}: block file does not match its height ${height} or its hash (stored ${value.hash}, header hashes to ${hash})`,
        { path, height, storedHash: value.hash, computedHash: hash },
      );
    }
    return {
      ...committedBlockFromWire(value),
      ...parseStoredBft(value.certificate, value.evidence, height, path),
    };
  }
}
