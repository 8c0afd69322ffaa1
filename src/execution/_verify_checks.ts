/**
 * The checks `records verify` runs on one record and what it references: the hash
 * chain (pure), the state manifest, the state tree walk (with the tree validator of
 * `state/state_tree.ts`, the one start-up load uses too), the journal segment and the
 * committed block. {@link RecordChecker} keeps what one run has verified, so a blob
 * is checked once per place however many heights share it.
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import { decodeCbor } from "../storage/cbor.ts";
import { HASH_NAME, toHex } from "../storage/hash.ts";
import { chunkFromWire } from "../world/agent.ts";
import { BUCKET_GROWTH_LOAD } from "../world/rules.ts";
import { decodeJournal, decodeManifest, type StateManifest } from "../state/manifest.ts";
import { type BlobReader, checkTreeShape, decodeTreeNode } from "../state/state_tree.ts";
import { executionBlockHash, type ExecutionRecord, GENESIS_EXECUTION_PARENT } from "./records.ts";

/** A problem found by a check: its message is the report's `problem` line. */
export class Bad extends Error {}

/** Throws {@link Bad} with `problem` unless `cond`. */
export function check(cond: boolean, problem: string): asserts cond {
  if (!cond) throw new Bad(problem);
}

/** Runs a decoder; its error becomes a {@link Bad} with the decoder's message. */
export function decoded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Bad(errorMessage(err));
  }
}

// Blob reads in flight at once while walking a tree level.
const READ_WIDTH = 64;

/**
 * The fields of record `r` at height `h` and its link to `prev` (null at height 1):
 * height, hash name, world id, `prev_execution_block_hash`, `execution_block_hash`
 * (the hash of the fields) and `manifest_ref` = `execution_state_root`. No I/O.
 *
 * @example
 * ```ts ignore
 * import { checkRecordChain } from "./_verify_checks.ts";
 * checkRecordChain(1, record, null); // throws Bad when the record is wrong
 * ```
 */
export function checkRecordChain(
  h: number,
  r: ExecutionRecord,
  prev: ExecutionRecord | null,
): void {
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
}

/**
 * Checks records one after another against the blob store and the committed blocks,
 * remembering which blobs it verified (the report's count) and at which places.
 *
 * @example
 * ```ts ignore
 * import { RecordChecker } from "./_verify_checks.ts";
 * const checker = new RecordChecker(blobs, 1, null);
 * await checker.checkRecord(1, record, null, 2);
 * ```
 */
export class RecordChecker {
  /** Distinct blobs read and found valid. */
  readonly verified: Set<string> = new Set();
  // Places (bucket count, level, position, address) whose subtree is already checked.
  readonly #placed = new Set<string>();
  readonly #blobs: BlobReader;
  readonly #stateFrom: number;
  readonly #blocks: CommittedBlockReader | null;

  /**
   * @param blobs where state blobs are read
   * @param stateFrom first height whose state is kept (lower ones: `awr store gc` collected it)
   * @param blocks committed blocks to check against, or null to skip that check
   */
  constructor(blobs: BlobReader, stateFrom: number, blocks: CommittedBlockReader | null) {
    this.#blobs = blobs;
    this.#stateFrom = stateFrom;
    this.#blocks = blocks;
  }

  /** Every check of record `r` at height `h` (file schema `version`); throws {@link Bad}. */
  async checkRecord(
    h: number,
    r: ExecutionRecord,
    prev: ExecutionRecord | null,
    version: number,
  ): Promise<void> {
    checkRecordChain(h, r, prev);
    // Below stateFrom the state was collected by `awr store gc`: the chain is all there is.
    if (h >= this.#stateFrom) await this.#checkState(h, r, prev);
    await this.#checkBlock(h, r, version);
  }

  async #get(hash: string, what: string): Promise<Uint8Array> {
    try {
      return await this.#blobs.get(hash);
    } catch (err) {
      throw new Bad(`${what}: ${errorMessage(err)}`);
    }
  }

  // The manifest, its tree and the journal segment record `r` references.
  async #checkState(h: number, r: ExecutionRecord, prev: ExecutionRecord | null): Promise<void> {
    const mBytes = await this.#get(r.manifestRef, "state manifest");
    const m = decoded(() => decodeManifest(mBytes, `state manifest ${r.manifestRef}`));
    check(
      m.height === h && m.worldId === r.worldId && m.journalLen === r.journalLen,
      `state manifest ${r.manifestRef} is for world "${m.worldId}" height ${m.height} with ${m.journalLen} events, not the record's`,
    );
    this.verified.add(r.manifestRef);
    await this.#walkTree(m);
    const jBytes = await this.#get(r.journalRef, "journal segment");
    const j = decoded(() => decodeJournal(jBytes, `journal segment ${r.journalRef}`));
    const before = prev?.journalLen ?? 0;
    check(
      j.height === h && j.firstIndex === before && before + j.events.length === r.journalLen,
      `journal segment ${r.journalRef} (height ${j.height}, events ${j.firstIndex}..${
        j.firstIndex + j.events.length
      }) does not continue the journal from ${before} to journal_len ${r.journalLen}`,
    );
    this.verified.add(r.journalRef);
  }

  // Level by level from the root: each node through the shared validator, each chunk
  // through the world's chunk decoder; subtrees already checked at the same place are skipped.
  async #walkTree(m: StateManifest): Promise<void> {
    const chunks = m.bucketCount;
    const widths = decoded(() => checkTreeShape(m.treeRoot, m.depth, chunks, m.fanout));
    check(
      m.agentCount <= chunks * BUCKET_GROWTH_LOAD,
      `state manifest: ${m.agentCount} agents in ${chunks} buckets; the world should have grown`,
    );
    const place = (k: number, x: { hash: string; pos: number }) =>
      `${chunks}/${k}/${x.pos}/${x.hash}`;
    let level = [{ hash: m.treeRoot, pos: 0 }];
    for (let k = m.depth; k >= 0; k--) {
      const todo = level.filter((x) => !this.#placed.has(place(k, x)));
      const what = (pos: number) =>
        k === 0 ? `state chunk ${pos}` : `state tree node (level ${k}, position ${pos})`;
      for (const x of todo) {
        check(/^[0-9a-f]{64}$/.test(x.hash), `${what(x.pos)}: bad address "${x.hash}"`);
      }
      const next: { hash: string; pos: number }[] = [];
      for (let i = 0; i < todo.length; i += READ_WIDTH) {
        const part = todo.slice(i, i + READ_WIDTH);
        const blobs = await Promise.all(part.map((x) => this.#get(x.hash, what(x.pos))));
        part.forEach((x, n) => {
          const where = `${what(x.pos)} ${x.hash}`;
          if (k === 0) {
            check(x.pos < chunks, `${where}: beyond the manifest's ${chunks} buckets`);
            decoded(() => chunkFromWire(decodeCbor(blobs[n]), x.pos, chunks, where));
          } else {
            const children = decoded(() =>
              decodeTreeNode(blobs[n], k, x.pos, widths, m.fanout, where)
            );
            children.forEach((c, j) => next.push({ hash: toHex(c), pos: x.pos * m.fanout + j }));
          }
          this.verified.add(x.hash);
          this.#placed.add(place(k, x));
        });
      }
      level = next;
    }
  }

  // The record's timestamp is covered through node_block_hash: the block file's header
  // hashes to it (BlockStore checks) and carries the same timestamp_ms.
  async #checkBlock(h: number, r: ExecutionRecord, version: number): Promise<void> {
    if (!this.#blocks) return;
    let block;
    try {
      block = await this.#blocks.getBlock(h);
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
  }
}
