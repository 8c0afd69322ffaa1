/**
 * Execution records: one file per executed height,
 * `<data>/execution/records/<height, 20 digits>.cbor`, linked into a hash chain by
 * `prev_execution_block_hash`. Records are a format other tools read (the README
 * documents it), so their bytes depend only on the committed chain — never on the
 * executor mode or the wall clock.
 *
 * Schema 2: `timestamp_ms` is the committed block header's `timestamp_ms`, so it is
 * covered by `node_block_hash` (and through it by `execution_block_hash`) and equal on
 * every node. Schema 1 records carried the node's local commit time there, covered by
 * no hash; they are still read (the field is the same).
 * @module
 */
import { join } from "../std/path.ts";
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.ts";
import { HASH_NAME, hashCanonical } from "../storage/hash.ts";
import { type Decoded, decodeFile, encodeFile, type FileSchema } from "../storage/schema.ts";
import { heightFileName } from "../node/block_store.ts";
import type { NodeExecutionCommitResult } from "../node/execution_hook.ts";
import { recordsDir } from "../storage/data_dir.ts";

/** Previous execution block hash of height 1. */
export const GENESIS_EXECUTION_PARENT = "genesis";

/** One height's execution record in memory. */
export interface ExecutionRecord {
  worldId: string;
  height: number;
  nodeBlockHash: string;
  executionBlockHash: string;
  /** `"genesis"` at height 1. */
  prevExecutionBlockHash: string;
  /** Address of the state manifest blob. */
  executionStateRoot: string;
  /** Journal events up to and including this height. */
  journalLen: number;
  /** CAS address of the state manifest (equals `executionStateRoot`). */
  manifestRef: string;
  /** CAS address of this height's journal segment. */
  journalRef: string;
  /** The committed block header's `timestamp_ms` (unix ms; schema 1: the local commit time). */
  timestampMs: number;
  /** Hash function of every address in the record. */
  hash: string;
}

/** Schema of a record file (version 2: `timestamp_ms` from the hashed block header). */
export const RECORD_SCHEMA: FileSchema<ExecutionRecord> = {
  kind: "ExecutionRecord",
  version: 2,
  fields: [
    { key: "worldId", wire: "world_id", type: "string", default: "" },
    { key: "height", wire: "height", type: "u64", default: 0 },
    { key: "nodeBlockHash", wire: "node_block_hash", type: "string", default: "" },
    { key: "executionBlockHash", wire: "execution_block_hash", type: "string", default: "" },
    {
      key: "prevExecutionBlockHash",
      wire: "prev_execution_block_hash",
      type: "string",
      default: GENESIS_EXECUTION_PARENT,
    },
    { key: "executionStateRoot", wire: "execution_state_root", type: "string", default: "" },
    { key: "journalLen", wire: "journal_len", type: "u64", default: 0 },
    { key: "manifestRef", wire: "manifest_ref", type: "string", default: "" },
    { key: "journalRef", wire: "journal_ref", type: "string", default: "" },
    { key: "timestampMs", wire: "timestamp_ms", type: "u64", default: 0 },
    { key: "hash", wire: "hash", type: "string", default: HASH_NAME },
  ],
};

/** What the execution block hash commits to. */
export interface ExecutionBlockPreimage {
  worldId: string;
  height: number;
  /** Null or `"genesis"` at height 1. */
  prevExecutionBlockHash: string | null;
  executionStateRoot: string;
  journalLen: number;
  nodeBlockHash: string;
}

/**
 * `execution_block_hash`: the hash of the canonical CBOR array
 * `[world_id, height, prev or "genesis", state_root, journal_len, node_block_hash]`.
 *
 * @example
 * ```ts
 * import { executionBlockHash } from "./records.ts";
 * const h = executionBlockHash({
 *   worldId: "w", height: 1, prevExecutionBlockHash: null,
 *   executionStateRoot: "ab", journalLen: 0, nodeBlockHash: "cd",
 * });
 * ```
 */
export function executionBlockHash(p: ExecutionBlockPreimage): string {
  return hashCanonical([
    p.worldId,
    p.height,
    p.prevExecutionBlockHash ?? GENESIS_EXECUTION_PARENT,
    p.executionStateRoot,
    p.journalLen,
    p.nodeBlockHash,
  ]);
}

/**
 * The record of one executed height: the one place the hash chain is extended, so
 * every executor (and every test recomputing a chain) links heights the same way.
 *
 * @example
 * ```ts
 * import { buildRecord } from "./records.ts";
 * const record = buildRecord("world-1", null, { height: 1, nodeBlockHash: "ab", timestampMs: 0 }, {
 *   stateRoot: "cd", journalRef: "ef", journalLen: 0,
 * });
 * ```
 */
export function buildRecord(
  worldId: string,
  prevExecutionBlockHash: string | null,
  height: { height: number; nodeBlockHash: string; timestampMs: number },
  products: { stateRoot: string; journalRef: string; journalLen: number },
): ExecutionRecord {
  const preimage = {
    worldId,
    height: height.height,
    prevExecutionBlockHash: prevExecutionBlockHash ?? GENESIS_EXECUTION_PARENT,
    executionStateRoot: products.stateRoot,
    journalLen: products.journalLen,
    nodeBlockHash: height.nodeBlockHash,
  };
  return {
    ...preimage,
    executionBlockHash: executionBlockHash(preimage),
    manifestRef: products.stateRoot,
    journalRef: products.journalRef,
    timestampMs: height.timestampMs,
    hash: HASH_NAME,
  };
}

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { recordsDir };

/**
 * Path of the record for `height`.
 *
 * @example
 * ```ts
 * import { recordPath } from "./records.ts";
 * recordPath("./data", 7); // "data/execution/records/00000000000000000007.cbor"
 * ```
 */
export function recordPath(dataDir: string, height: number): string {
  return join(recordsDir(dataDir), heightFileName(height));
}

/**
 * The hook result a record stands for.
 *
 * @example
 * ```ts
 * import { readRecord, recordResult } from "./records.ts";
 * const r = await readRecord("./data", 1);
 * if (r) console.log(recordResult(r).executionBlockHash);
 * ```
 */
export function recordResult(r: ExecutionRecord): NodeExecutionCommitResult {
  return {
    executionHeight: r.height,
    executionBlockHash: r.executionBlockHash,
    executionStateRoot: r.executionStateRoot,
  };
}

/**
 * Reads the record for `height`, or null when there is none; a bad file throws.
 *
 * @example
 * ```ts
 * import { readRecord } from "./records.ts";
 * const record = await readRecord("./data", 1); // null when height 1 has no record
 * ```
 */
export async function readRecord(dataDir: string, height: number): Promise<ExecutionRecord | null> {
  return (await readRecordFile(dataDir, height))?.value ?? null;
}

/**
 * Like {@link readRecord}, with the file's `schema` version (2: `timestamp_ms` is the
 * block header's).
 *
 * @example
 * ```ts
 * import { readRecordFile } from "./records.ts";
 * const r = await readRecordFile("./data", 1);
 * if (r) console.log(r.version, r.value.timestampMs);
 * ```
 */
export async function readRecordFile(
  dataDir: string,
  height: number,
): Promise<Decoded<ExecutionRecord> | null> {
  const path = recordPath(dataDir, height);
  const bytes = await readFileIfExists(path);
  return bytes ? decodeFile(RECORD_SCHEMA, bytes, path) : null;
}

/**
 * Encodes a record (the exact bytes written to its file).
 *
 * @example
 * ```ts
 * import { encodeRecord, readRecord } from "./records.ts";
 * const r = await readRecord("./data", 1);
 * const bytes = r ? encodeRecord(r) : null; // the file's bytes again
 * ```
 */
export function encodeRecord(r: ExecutionRecord): Uint8Array {
  return encodeFile(RECORD_SCHEMA, r);
}

/**
 * Writes the record for `r.height` atomically.
 *
 * @example
 * ```ts
 * import { readRecord, writeRecord } from "./records.ts";
 * const r = await readRecord("./data", 1);
 * if (r) await writeRecord("/tmp/awr-copy", r, true);
 * ```
 */
export async function writeRecord(
  dataDir: string,
  r: ExecutionRecord,
  durable: boolean,
): Promise<void> {
  await writeFileAtomic(recordPath(dataDir, r.height), encodeRecord(r), { durable });
}

const RECORD_NAME = /^(\d{20})\.cbor$/;

/**
 * Heights that have a record file, ascending (temp files and strangers ignored).
 * O(records): for `verify` and the one-time upgrade from a bridge records folder.
 *
 * @example
 * ```ts
 * import { listRecordHeights } from "./records.ts";
 * const heights = await listRecordHeights("./data"); // e.g. [1, 2, 3]
 * ```
 */
export async function listRecordHeights(dataDir: string): Promise<number[]> {
  const heights: number[] = [];
  try {
    for await (const entry of Deno.readDir(recordsDir(dataDir))) {
      const m = entry.isFile ? RECORD_NAME.exec(entry.name) : null;
      if (m) heights.push(Number(m[1]));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return heights.sort((a, b) => a - b);
}
