/**
 * The execution core: the ONE path from a committed block to an execution record.
 * The node hook (via the bridge-driver plugin), the legacy bridge fallback and
 * replay after a restart all call {@link ExecutionCore.executeThrough}, so they
 * cannot compute different results (CometBFT's `BlockExecutor`).
 *
 * Per height: step the world; then ONE pack group (one fdatasync) holds the changed
 * chunks, their tree path, the manifest, the journal segment, the record and the
 * execution state (`pack_state.ts`); the record file and `state.cbor` are then
 * written as copies without fsync. A data dir from before the pack store (per-blob
 * CAS files, state file + records) is read through and continued (`recovery.ts`).
 * @module
 */
import { SerialQueue } from "../std/serial_queue.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHookInfo,
} from "../node/execution_hook.ts";
import { writeCopySync, writeFileAtomic } from "../storage/atomic.ts";
import type { LayeredBlobs } from "../storage/blob_store.ts";
import type { PackStore } from "../storage/pack.ts";
import { encodeFile } from "../storage/schema.ts";
import { type WorldSummary, worldSummary } from "../world/summary.ts";
import { ExecutionError } from "./execution_error.ts";
import type { ExecutionCoreOptions } from "./core_options.ts";
import { checkExisting, conflicting, type HeightInput, heightInput } from "./_core_checks.ts";
import {
  buildRecord,
  encodeRecord,
  type ExecutionRecord,
  readRecord,
  recordPath,
  recordResult,
} from "./records.ts";
import { checkRederived, type RederiveHeight } from "./recovery.ts";
import {
  EXECUTION_STATE_SCHEMA,
  type ExecutionMode,
  type ExecutionState,
  executionStatePath,
} from "./state_file.ts";
import { recordEntry, recordFromPack, STATE_ENTRY } from "./pack_state.ts";
import { type WorldShape, WorldState } from "../state/world_state.ts";
import { openCoreStores } from "./core_open.ts";
import { CoalescedCopy } from "./state_copy.ts";

export { CORE_SEGMENT_BYTES, type ExecutionCoreOptions } from "./core_options.ts";

/**
 * Executes committed heights into records, idempotently and in order.
 *
 * @example
 * ```ts
 * import { ExecutionCore } from "./core.ts";
 * import { BlockStore } from "../node/block_store.ts";
 * const core = await ExecutionCore.open({
 *   dataDir: "./data", worldId: "world-1", blocks: new BlockStore("./data/node/node-1/blocks"),
 * });
 * const result = await core.executeThrough({
 *   worldId: "world-1", nodeId: "node-1", height: 1, slot: 1, epoch: 0,
 *   nodeBlockHash: "ab".repeat(32), committedAtUnixMs: 0, actions: [],
 * });
 * await core.close();
 * ```
 */
export class ExecutionCore {
  readonly dataDir: string;
  readonly worldId: string;
  readonly mode: ExecutionMode;
  readonly #cas: LayeredBlobs;
  readonly #pack: PackStore;
  readonly #blocks: CommittedBlockReader;
  readonly #durable: boolean;
  readonly #logger: Logger;
  readonly #shape: WorldShape | undefined;
  #state: ExecutionState;
  readonly #unknown: Record<string, unknown>;
  // Null after a failed height: the in-memory world may be ahead of the files, so
  // it is read back from the last stored manifest before the next height.
  #world: WorldState | null;
  readonly #queue = new SerialQueue({ name: "execution core" });
  readonly #stateCopy: CoalescedCopy;
  #closed = false;

  private constructor(
    options: ExecutionCoreOptions,
    pack: PackStore,
    cas: LayeredBlobs,
    state: ExecutionState,
    unknown: Record<string, unknown>,
    world: WorldState,
  ) {
    this.dataDir = options.dataDir;
    this.worldId = options.worldId;
    this.mode = options.mode ?? "node";
    this.#cas = cas;
    this.#pack = pack;
    this.#blocks = options.blocks;
    this.#durable = options.durable ?? true;
    this.#logger = options.logger ?? silentLogger;
    this.#shape = options.shape;
    this.#state = state;
    this.#unknown = unknown;
    this.#world = world;
    this.#stateCopy = new CoalescedCopy(executionStatePath(this.dataDir), this.#logger);
  }

  /** Loads the state file (reconciled with the records) and the world it names. */
  static async open(options: ExecutionCoreOptions): Promise<ExecutionCore> {
    const logger = options.logger ?? silentLogger;
    const opened = await openCoreStores(options, logger);
    try {
      const { pack, cas, state, unknown, world } = opened;
      const core = new ExecutionCore(options, pack, cas, state, unknown, world);
      if (opened.rederive) await core.#rederive(opened.rederive);
      logger.info("execution core open", {
        world_id: options.worldId,
        height: core.#state.lastAppliedHeight,
        agents: core.#world?.world.agentCount,
      });
      return core;
    } catch (err) {
      await opened.pack.close();
      throw err;
    }
  }

  // Writes the newest record again by executing its height from its committed block;
  // the result must be the one the state file recorded (see recovery.ts).
  async #rederive(r: RederiveHeight): Promise<ExecutionCore> {
    const block = await this.#blocks.getBlock(r.height);
    if (!block || block.header.height !== r.height) {
      throw new ExecutionError(
        "RECORD_MISSING",
        `${r.file}: the newest record is ${
          r.reason === "missing" ? "missing" : "unreadable"
        } and committed block ${r.height} ` +
          `is not in the block store, so it cannot be executed again`,
        { height: r.height, file: r.file },
      );
    }
    await this.#applyHeight(heightInput(block), r);
    this.#logger.info("newest execution record written again", { height: r.height, file: r.file });
    return this;
  }

  /** The core's last applied height and hashes (for the start-up handshake). */
  info(): NodeExecutionHookInfo {
    const s = this.#state;
    return {
      lastHeight: s.lastAppliedHeight,
      lastNodeBlockHash: s.lastNodeBlockHash,
      lastExecutionBlockHash: s.lastExecutionBlockHash,
      lastExecutionStateRoot: s.lastExecutionStateRoot,
    };
  }

  /** World figures after the last applied height (null while it is being reloaded). */
  summary(): WorldSummary | null {
    return this.#world ? worldSummary(this.#world.world) : null;
  }

  /** The blobs (chunks, nodes, manifests, journal segments): pack, then old CAS files. */
  get store(): LayeredBlobs {
    return this.#cas;
  }

  /**
   * Executes every height from the last applied + 1 through `ctx.height` (missing
   * blocks read through `blocks`) and returns `ctx.height`'s result. An applied
   * height returns its recorded result and writes nothing; an applied height with
   * another node block hash is a `CONFLICTING_BLOCK` error.
   */
  executeThrough(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    return this.#queue.run(() => this.#executeThrough(ctx));
  }

  /** The recorded result at `height`, or null when it has not been executed. */
  async resultAt(height: number): Promise<NodeExecutionCommitResult | null> {
    const r = await this.recordAt(height);
    return r ? recordResult(r) : null;
  }

  /** The record at `height`, or null when it has not been executed. */
  async recordAt(height: number): Promise<ExecutionRecord | null> {
    if (!Number.isSafeInteger(height) || height < 1 || height > this.#state.lastAppliedHeight) {
      return null;
    }
    return await this.#readRecord(height);
  }

  // The record file, else (missing or unreadable copy) the pack's entry, written back.
  async #readRecord(height: number): Promise<ExecutionRecord | null> {
    try {
      const r = await readRecord(this.dataDir, height);
      if (r) return r;
    } catch (err) {
      if (this.#pack.namedLength(recordEntry(height)) === null) throw err;
    }
    const packed = await recordFromPack(this.#pack, height);
    if (!packed) return null;
    await writeFileAtomic(recordPath(this.dataDir, height), encodeRecord(packed.value), {
      durable: false,
      mkdirs: false,
    });
    return packed.value;
  }

  /** Waits for the call in flight, then closes the pack; later calls fail with `CORE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#queue.idle();
      return;
    }
    this.#closed = true;
    await this.#queue.idle();
    await this.copiesWritten();
    await this.#pack.close();
  }

  /** Resolves once the background copy of `state.cbor` (if any) is written. */
  copiesWritten(): Promise<void> {
    return this.#stateCopy.settled();
  }

  async #executeThrough(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    if (this.#closed) throw new ExecutionError("CORE_CLOSED", "execution core is closed");
    if (ctx.worldId !== this.worldId) {
      throw new ExecutionError(
        "WORLD_MISMATCH",
        `commit for world "${ctx.worldId}" sent to the executor of world "${this.worldId}"`,
        { found: ctx.worldId, expected: this.worldId },
      );
    }
    if (!Number.isSafeInteger(ctx.height) || ctx.height < 1) {
      throw new ExecutionError(
        "BAD_HEIGHT",
        `height must be a positive integer, got ${ctx.height}`,
        { height: ctx.height },
      );
    }
    const last = this.#state.lastAppliedHeight;
    if (ctx.height <= last) return await this.#recorded(ctx.height, ctx.nodeBlockHash);
    for (let h = last + 1; h < ctx.height; h++) {
      const block = await this.#blocks.getBlock(h);
      if (!block || block.header.height !== h) {
        throw new ExecutionError(
          "BLOCK_MISSING",
          `cannot fill the gap below height ${ctx.height}: committed block ${h} is not in the block store`,
          { height: h, target: ctx.height },
        );
      }
      await this.#applyHeight(heightInput(block));
    }
    // The record's timestamp is the block header's (covered by node_block_hash), not
    // the context's commit time, which no hash covers and which differs between nodes.
    const block = await this.#blocks.getBlock(ctx.height);
    if (!block || block.header.height !== ctx.height) {
      throw new ExecutionError(
        "BLOCK_MISSING",
        `committed block ${ctx.height} is not in the block store (its header timestamp goes into the record)`,
        { height: ctx.height },
      );
    }
    if (block.hash !== ctx.nodeBlockHash) {
      throw conflicting(ctx.height, block.hash, ctx.nodeBlockHash);
    }
    return await this.#applyHeight({ ...heightInput(block), actions: ctx.actions });
  }

  async #recorded(height: number, nodeBlockHash: string): Promise<NodeExecutionCommitResult> {
    const r = await this.#readRecord(height);
    if (!r) {
      throw new ExecutionError(
        "RECORD_MISSING",
        `height ${height} is applied but its record ${recordPath(this.dataDir, height)} is missing`,
        { height },
      );
    }
    if (r.nodeBlockHash !== nodeBlockHash) {
      throw conflicting(height, r.nodeBlockHash, nodeBlockHash);
    }
    return recordResult(r);
  }

  // `expect`: a re-derived height must reproduce what the state file recorded; it is
  // checked before anything is written.
  async #applyHeight(
    input: HeightInput,
    expect?: RederiveHeight,
  ): Promise<NodeExecutionCommitResult> {
    const manifest = this.#state.lastManifest;
    const world = this.#world ??
      (manifest
        ? await WorldState.load(this.#cas, this.worldId, manifest)
        : WorldState.genesis(this.worldId, this.#shape));
    this.#world = null;
    const prev = this.#state.lastExecutionBlockHash;
    const out = world.apply({
      height: input.height,
      nodeBlockHash: input.nodeBlockHash,
      actions: input.actions,
    });
    const record = buildRecord(this.worldId, prev, input, {
      stateRoot: out.stateRoot,
      journalRef: out.journalRef,
      journalLen: out.manifest.journalLen,
    });
    if (expect) checkRederived(expect, record); // before anything is written
    // A record file above the state exists only in a pre-pack data dir (the pack's copies
    // are written after their group), so only there is it checked.
    if (this.#pack.lastHeight === null) await checkExisting(this.dataDir, record, this.#logger);
    const state: ExecutionState = {
      ...this.#state,
      lastAppliedHeight: record.height,
      lastNodeBlockHash: record.nodeBlockHash,
      lastExecutionBlockHash: record.executionBlockHash,
      lastExecutionStateRoot: record.executionStateRoot,
      lastManifest: record.manifestRef,
      journalLen: record.journalLen,
      executorMode: this.mode,
      worldId: this.worldId,
    };
    // One group, one fdatasync: blobs, record and state become durable together.
    const recordBytes = encodeRecord(record);
    const statePath = executionStatePath(this.dataDir);
    const stateBytes = encodeFile(EXECUTION_STATE_SCHEMA, state, this.#unknown, statePath);
    const commit = await this.#pack.commitGroup({
      height: record.height,
      blobs: out.blobs,
      named: [
        { name: recordEntry(record.height), bytes: recordBytes },
        { name: STATE_ENTRY, bytes: stateBytes },
      ],
    });
    // Copies for readers of the files (README "Execution store"); start-up restores
    // a lost record file and rewrites state.cbor. Record files are read as soon as the
    // result is out, so that copy is written now; state.cbor's goes on in the background.
    // The group is durable: a copy that cannot be written (a full disk) must not fail
    // the height, or its retry would meet its own group in the pack. Readers fall back
    // to the pack, and start-up restores the file.
    const recordFile = recordPath(this.dataDir, record.height);
    try {
      writeCopySync(recordFile, recordBytes);
    } catch (err) {
      this.#logger.error("execution record copy not written (the pack holds the record)", {
        file: recordFile,
        error: String(err),
      });
    }
    this.#stateCopy.write(stateBytes);
    this.#state = state;
    this.#world = world;
    this.#logger.debug("executed height", {
      height: record.height,
      actions: input.actions.length,
      blobs: out.blobs.length,
      bytes: commit.bytes,
      execution_block_hash: record.executionBlockHash,
    });
    return recordResult(record);
  }
}
