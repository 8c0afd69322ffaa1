/**
 * `awr records verify`: walks every execution record in height order and checks,
 * from the files alone, that heights run 1, 2, 3, … without a gap; each record
 * links to the one before (`prev_execution_block_hash`) and its
 * `execution_block_hash` is the hash of its fields; the state manifest, every node
 * and chunk of its state tree and the journal segment are stored, hash to their
 * addresses and have the shape their references promise (every agent of a chunk in
 * that chunk's bucket, ordered by id). Content addressing makes each check
 * once-only: a tree walk stops at a blob already verified at the same place (level,
 * position, bucket count — a chunk's validity depends on its bucket), so the whole
 * run costs O(blobs), not O(heights × world).
 *
 * It is safe on a running node: the pack store is opened read-only FIRST (it never
 * cuts a tail) and its newest group's execution state fixes the upper height (a
 * pre-pack data dir: the state file, written after its record); records above it may
 * be in flight and are left out. A height in the pack is checked from the pack's
 * record entry, and its record file, when present, must hold the same bytes. Every
 * pack read re-hashes the payload, so a flipped byte in a segment is reported with
 * the record height, the blob and the height of the group that stored it.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { BlockStore, type CommittedBlockReader } from "../node/block_store.ts";
import { readFileIfExists } from "../storage/atomic.ts";
import { openBlobReader } from "../storage/blob_store.ts";
import { blocksDir, onlyNodeId } from "../storage/data_dir.ts";
import { hashHex } from "../storage/hash.ts";
import type { Decoded } from "../storage/schema.ts";
import { Bad, RecordChecker } from "./_verify_checks.ts";
import {
  encodeRecord,
  type ExecutionRecord,
  listRecordHeights,
  readRecordFile,
  recordPath,
} from "./records.ts";
import { type ExecutionState, readExecutionState } from "./state_file.ts";
import { recordEntry, recordFromPack, stateFromPack } from "./pack_state.ts";
import { keptFrom } from "./store_gc.ts";

/** The first thing found wrong. */
export interface VerifyProblem {
  /** Height whose record (or whose referenced blob) is bad. */
  readonly height: number;
  /** One line saying what is wrong. */
  readonly problem: string;
}

/** Outcome of {@link verifyRecords}. */
export interface VerifyReport {
  readonly ok: boolean;
  /** Records checked (all of them up to the state file's height when `ok`). */
  readonly heights: number;
  /** Records above the state file's height, left out as possibly in flight. */
  readonly skippedAbove?: number;
  /** Heights 1..n whose state `awr store gc` collected: only their hash chain is checked. */
  readonly skippedBelow?: number;
  /** Distinct CAS blobs read and checked. */
  readonly blobsChecked: number;
  readonly firstBad?: VerifyProblem;
}

/** Options of {@link verifyRecords}. */
export interface VerifyOptions {
  /** Called after each record with (records done, records in total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Committed blocks to check each record's `node_block_hash` and (schema 2)
   * `timestamp_ms` against. Default: the block store of the only node under
   * `<data>/node/`, if there is exactly one; null: skip the check.
   */
  blocks?: CommittedBlockReader | null;
}

// The block store of the data dir's only node, or null (none, or several).
async function onlyNodeBlocks(dataDir: string): Promise<CommittedBlockReader | null> {
  const id = await onlyNodeId(dataDir);
  return id === null ? null : new BlockStore(blocksDir(dataDir, id), { durable: false });
}

/**
 * Verifies `<dataDir>/execution/records` against `<dataDir>/store`.
 *
 * @example
 * ```ts
 * import { verifyRecords } from "./verify.ts";
 * const report = await verifyRecords("./data");
 * if (!report.ok) console.log(report.firstBad);
 * ```
 */
export async function verifyRecords(
  dataDir: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  let view: StoreView;
  try {
    view = await openStoreView(dataDir);
  } catch (err) {
    return {
      ok: false,
      heights: 0,
      blobsChecked: 0,
      firstBad: { height: 0, problem: errorMessage(err) },
    };
  }
  const plan = await planHeights(dataDir, view);
  const blocks = options.blocks === undefined ? await onlyNodeBlocks(dataDir) : options.blocks;
  const checker = new RecordChecker(view.blobs, plan.stateFrom, blocks);
  let prev: ExecutionRecord | null = null;
  let done = 0;
  const report = (firstBad?: VerifyProblem): VerifyReport => ({
    ok: firstBad === undefined,
    heights: done,
    blobsChecked: checker.verified.size,
    skippedAbove: plan.skippedAbove,
    skippedBelow: plan.stateFrom - 1,
    firstBad,
  });
  for (let i = 0; i < plan.heights.length; i++) {
    const h = i + 1;
    if (plan.heights[i] !== h) {
      return report({
        height: h,
        problem: `record missing: heights jump from ${h - 1} to ${plan.heights[i]}`,
      });
    }
    let r: ExecutionRecord;
    try {
      const file = await readRecordAt(dataDir, view, h);
      r = file.value;
      await checker.checkRecord(h, r, prev, file.version);
    } catch (err) {
      return report({ height: h, problem: errorMessage(err) });
    }
    prev = r;
    done++;
    options.onProgress?.(done, plan.heights.length);
  }
  return report(endProblem(plan.upper, done, view.state?.value ?? null, prev) ?? undefined);
}

// The store opened read-only and the execution state it fixes.
interface StoreView {
  readonly blobs: Awaited<ReturnType<typeof openBlobReader>>;
  readonly state: Decoded<ExecutionState> | null;
  readonly packed: ReadonlySet<number>;
}

// State first: it fixes a consistent view while an executor keeps writing.
async function openStoreView(dataDir: string): Promise<StoreView> {
  const blobs = await openBlobReader(dataDir);
  const state = blobs.reader.lastHeight === null
    ? await readExecutionState(dataDir)
    : await stateFromPack(blobs.reader, null);
  if (blobs.reader.problems.length) {
    const p = blobs.reader.problems[0];
    throw new AwrError(
      "PACK_CORRUPT",
      `pack segment ${p.segment} is damaged at offset ${p.offset}: ${p.reason}`,
      { segment: p.segment, offset: p.offset, reason: p.reason },
    );
  }
  return { blobs, state, packed: new Set(blobs.reader.heights()) };
}

// Which heights to check: those listed (files and pack) up to the state's height.
async function planHeights(dataDir: string, view: StoreView): Promise<{
  heights: number[];
  upper: number;
  skippedAbove: number;
  stateFrom: number;
}> {
  const stateFrom = await keptFrom(view.blobs.reader).catch(() => 1);
  const listed = [...new Set([...await listRecordHeights(dataDir), ...view.packed])].sort((a, b) =>
    a - b
  );
  // Without a state file (a records folder from an older bridge) every record counts.
  const upper = view.state ? view.state.value.lastAppliedHeight : listed[listed.length - 1] ?? 0;
  const heights = listed.filter((h) => h <= upper);
  return { heights, upper, skippedAbove: listed.length - heights.length, stateFrom };
}

// A height in the pack is read from the pack (its file copy must match); else from its file.
function readRecordAt(
  dataDir: string,
  view: StoreView,
  h: number,
): Promise<Decoded<ExecutionRecord>> {
  return view.packed.has(h)
    ? packedRecord(dataDir, view.blobs.reader, h)
    : readRecordFile(dataDir, h).then((f) => f!);
}

// After the last record: the state's height and hashes must be the last record's.
function endProblem(
  upper: number,
  done: number,
  s: ExecutionState | null,
  last: ExecutionRecord | null,
): VerifyProblem | null {
  if (upper > done) {
    return {
      height: done + 1,
      problem: `the execution state says height ${upper} is applied, but records stop at ${done}`,
    };
  }
  if (!s || upper === 0 || !last || s.lastExecutionBlockHash === null) return null;
  if (
    s.lastExecutionBlockHash !== last.executionBlockHash ||
    (s.lastExecutionStateRoot !== null && s.lastExecutionStateRoot !== last.executionStateRoot)
  ) {
    return {
      height: upper,
      problem:
        `the execution state has execution block hash ${s.lastExecutionBlockHash} and state root ${s.lastExecutionStateRoot} at height ${upper}, the record has ${last.executionBlockHash} and ${last.executionStateRoot}`,
    };
  }
  return null;
}

// The pack's record of height `h`; its file copy, when present, must hold the same bytes.
async function packedRecord(
  dataDir: string,
  pack: Parameters<typeof recordFromPack>[0],
  h: number,
): Promise<Decoded<ExecutionRecord>> {
  const r = await recordFromPack(pack, h);
  if (!r) throw new Bad(`the pack has no ${recordEntry(h)} entry`);
  const copy = await readFileIfExists(recordPath(dataDir, h));
  if (copy && hashHex(copy) !== hashHex(encodeRecord(r.value))) {
    throw new Bad(`${recordPath(dataDir, h)} differs from the pack's entry ${recordEntry(h)}`);
  }
  return r;
}
