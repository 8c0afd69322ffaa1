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
import { join } from "../std/path.ts";
import { AwrError, errorMessage } from "../errors.ts";
import { BlockStore, type CommittedBlockReader } from "../node/block_store.ts";
import { openBlobReader } from "../storage/blob_store.ts";
import { decodeCbor } from "../storage/cbor.ts";
import { HASH_NAME, hashHex, toHex } from "../storage/hash.ts";
import { chunkFromWire } from "../world/agent.ts";
import { BUCKET_GROWTH_LOAD } from "../world/rules.ts";
import { decodeJournal, decodeManifest, type StateManifest } from "./manifest.ts";
import {
  encodeRecord,
  executionBlockHash,
  type ExecutionRecord,
  GENESIS_EXECUTION_PARENT,
  listRecordHeights,
  readRecordFile,
  recordPath,
} from "./records.ts";
import { readFileIfExists } from "../storage/atomic.ts";
import type { Decoded } from "../storage/schema.ts";
import { readExecutionState } from "./state_file.ts";
import { recordEntry, recordFromPack, stateFromPack } from "./pack_state.ts";
import { keptFrom } from "./store_gc.ts";
import { isDigestList, type NodeWire, treeDepth } from "./state_tree.ts";

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
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dataDir, "node"))) {
      if (e.isDirectory) ids.push(e.name);
      if (ids.length > 1) return null;
    }
  } catch {
    return null;
  }
  return ids.length === 1
    ? new BlockStore(join(dataDir, "node", ids[0], "blocks"), { durable: false })
    : null;
}

class Bad extends Error {}

// Blob reads in flight at once while walking a tree level.
const READ_WIDTH = 64;

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
  // State first: it fixes a consistent view while an executor keeps writing.
  let state;
  let cas;
  try {
    cas = await openBlobReader(dataDir);
    state = cas.reader.lastHeight === null
      ? await readExecutionState(dataDir)
      : await stateFromPack(cas.reader, null);
    if (cas.reader.problems.length) {
      const p = cas.reader.problems[0];
      throw new AwrError(
        "PACK_CORRUPT",
        `pack segment ${p.segment} is damaged at offset ${p.offset}: ${p.reason}`,
        { segment: p.segment, offset: p.offset, reason: p.reason },
      );
    }
  } catch (err) {
    return {
      ok: false,
      heights: 0,
      blobsChecked: 0,
      firstBad: { height: 0, problem: errorMessage(err) },
    };
  }
  const packed = new Set(cas.reader.heights());
  const stateFrom = await keptFrom(cas.reader).catch(() => 1);
  const listed = [...new Set([...await listRecordHeights(dataDir), ...packed])].sort((a, b) =>
    a - b
  );
  // Without a state file (a records folder from an older bridge) every record counts.
  const upper = state ? state.value.lastAppliedHeight : listed[listed.length - 1] ?? 0;
  const heights = listed.filter((h) => h <= upper);
  const skippedAbove = listed.length - heights.length;
  const blocks = options.blocks === undefined ? await onlyNodeBlocks(dataDir) : options.blocks;
  // Distinct blobs read (the report's count), and the places each was checked at.
  const verified = new Set<string>();
  const placed = new Set<string>();
  let prev: ExecutionRecord | null = null;
  let done = 0;
  const report = (firstBad?: VerifyProblem): VerifyReport => ({
    ok: firstBad === undefined,
    heights: done,
    blobsChecked: verified.size,
    skippedAbove,
    skippedBelow: stateFrom - 1,
    firstBad,
  });

  const get = async (hash: string, what: string): Promise<Uint8Array> => {
    try {
      return await cas.get(hash);
    } catch (err) {
      throw new Bad(`${what}: ${errorMessage(err)}`);
    }
  };
  const check = (cond: boolean, problem: string) => {
    if (!cond) throw new Bad(problem);
  };
  const decoded = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new Bad(errorMessage(err));
    }
  };

  const walkTree = async (m: StateManifest): Promise<void> => {
    const chunks = m.bucketCount;
    const depth = treeDepth(chunks, m.fanout);
    check(
      m.depth === depth,
      `state manifest: depth ${m.depth}, but ${chunks} chunks need ${depth}`,
    );
    check(
      m.agentCount <= chunks * BUCKET_GROWTH_LOAD,
      `state manifest: ${m.agentCount} agents in ${chunks} buckets; the world should have grown`,
    );
    // widths[k]: nodes at level k (level 0 = chunks), so each node's child count is known.
    const widths = [chunks];
    while (widths.length <= depth) widths.push(Math.ceil(widths[widths.length - 1] / m.fanout));
    const place = (k: number, x: { hash: string; pos: number }) =>
      `${chunks}/${k}/${x.pos}/${x.hash}`;
    let level = [{ hash: m.treeRoot, pos: 0 }];
    for (let k = m.depth; k >= 0; k--) {
      const todo = level.filter((x) => !placed.has(place(k, x)));
      const what = (pos: number) =>
        k === 0 ? `state chunk ${pos}` : `state tree node (level ${k}, position ${pos})`;
      for (const x of todo) {
        check(/^[0-9a-f]{64}$/.test(x.hash), `${what(x.pos)}: bad address "${x.hash}"`);
      }
      const next: { hash: string; pos: number }[] = [];
      for (let i = 0; i < todo.length; i += READ_WIDTH) {
        const part = todo.slice(i, i + READ_WIDTH);
        const blobs = await Promise.all(part.map((x) => get(x.hash, what(x.pos))));
        part.forEach((x, n) => {
          const where = `${what(x.pos)} ${x.hash}`;
          if (k === 0) {
            check(x.pos < chunks, `${where}: beyond the manifest's ${chunks} buckets`);
            decoded(() => chunkFromWire(decodeCbor(blobs[n]), x.pos, chunks, where));
          } else {
            const node = decoded(() => decodeCbor(blobs[n])) as Partial<NodeWire> | null;
            const want = Math.min(m.fanout, widths[k - 1] - x.pos * m.fanout);
            check(
              node?.kind === "node" && node.level === k && isDigestList(node.children) &&
                node.children.length === want,
              `${where}: not a level-${k} state tree node with ${want} children`,
            );
            node!.children!.forEach((c, j) =>
              next.push({ hash: toHex(c), pos: x.pos * m.fanout + j })
            );
          }
          verified.add(x.hash);
          placed.add(place(k, x));
        });
      }
      level = next;
    }
  };

  // The record's timestamp is covered through node_block_hash: the block file's header
  // hashes to it (BlockStore checks) and carries the same timestamp_ms.
  const checkBlock = async (h: number, r: ExecutionRecord, version: number): Promise<void> => {
    if (!blocks) return;
    let block;
    try {
      block = await blocks.getBlock(h);
    } catch (err) {
      throw new Bad(`committed block ${h}: ${errorMessage(err)}`);
    }
    if (!block) return; // a records folder without its node's blocks (copied, pruned)
    check(
      block.hash === r.nodeBlockHash,
      `node_block_hash ${r.nodeBlockHash} differs from the stored block ${h} (${block.hash})`,
    );
    if (version >= 2) {
      check(
        r.timestampMs === block.header.timestampMs,
        `timestamp_ms ${r.timestampMs} differs from block ${h}'s header timestamp_ms ${block.header.timestampMs}`,
      );
    }
  };

  const verifyOne = async (h: number, r: ExecutionRecord): Promise<void> => {
    check(r.height === h, `record file for height ${h} says height ${r.height}`);
    check(r.hash === HASH_NAME, `record names hash "${r.hash}"; this program checks ${HASH_NAME}`);
    if (prev) {
      check(
        r.worldId === prev.worldId,
        `world_id "${r.worldId}" differs from "${prev.worldId}" at height ${prev.height}`,
      );
    }
    const link = prev?.executionBlockHash ?? GENESIS_EXECUTION_PARENT;
    check(
      r.prevExecutionBlockHash === link,
      `prev_execution_block_hash ${r.prevExecutionBlockHash} does not link to height ${
        h - 1
      }'s execution_block_hash ${link}`,
    );
    const computed = executionBlockHash(r);
    check(
      computed === r.executionBlockHash,
      `execution_block_hash ${r.executionBlockHash} is not the hash of the record's fields (${computed})`,
    );
    check(
      r.manifestRef === r.executionStateRoot,
      `manifest_ref ${r.manifestRef} differs from execution_state_root ${r.executionStateRoot}`,
    );
    if (h < stateFrom) return; // state collected by `awr store gc`: the chain is checked above
    const mBytes = await get(r.manifestRef, "state manifest");
    const m = decoded(() => decodeManifest(mBytes, `state manifest ${r.manifestRef}`));
    check(
      m.height === h && m.worldId === r.worldId && m.journalLen === r.journalLen,
      `state manifest ${r.manifestRef} is for world "${m.worldId}" height ${m.height} with ${m.journalLen} events, not the record's`,
    );
    verified.add(r.manifestRef);
    await walkTree(m);
    const jBytes = await get(r.journalRef, "journal segment");
    const j = decoded(() => decodeJournal(jBytes, `journal segment ${r.journalRef}`));
    const before = prev?.journalLen ?? 0;
    check(
      j.height === h && j.firstIndex === before && before + j.events.length === r.journalLen,
      `journal segment ${r.journalRef} (height ${j.height}, events ${j.firstIndex}..${
        j.firstIndex + j.events.length
      }) does not continue the journal from ${before} to journal_len ${r.journalLen}`,
    );
    verified.add(r.journalRef);
  };

  for (let i = 0; i < heights.length; i++) {
    const h = i + 1;
    if (heights[i] !== h) {
      return report({
        height: h,
        problem: `record missing: heights jump from ${h - 1} to ${heights[i]}`,
      });
    }
    let r: ExecutionRecord;
    try {
      const file = packed.has(h)
        ? await packedRecord(dataDir, cas.reader, h)
        : (await readRecordFile(dataDir, h))!;
      r = file.value;
      await verifyOne(h, r);
      await checkBlock(h, r, file.version);
    } catch (err) {
      return report({ height: h, problem: errorMessage(err) });
    }
    prev = r;
    done++;
    options.onProgress?.(done, heights.length);
  }
  if (upper > done) {
    return report({
      height: done + 1,
      problem: `the execution state says height ${upper} is applied, but records stop at ${done}`,
    });
  }
  const s = state?.value;
  if (s && upper > 0 && prev && s.lastExecutionBlockHash !== null) {
    if (
      s.lastExecutionBlockHash !== prev.executionBlockHash ||
      (s.lastExecutionStateRoot !== null && s.lastExecutionStateRoot !== prev.executionStateRoot)
    ) {
      return report({
        height: upper,
        problem:
          `the execution state has execution block hash ${s.lastExecutionBlockHash} and state root ${s.lastExecutionStateRoot} at height ${upper}, the record has ${prev.executionBlockHash} and ${prev.executionStateRoot}`,
      });
    }
  }
  return report();
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
