/**
 * Start-up reconciliation of the execution state file with the records folder
 * (CometBFT's handshake, on the execution side). Records are the source of truth:
 *
 * - no state file, or one from before the execution fields (height 0), beside a
 *   records folder written by an older bridge: adopt the highest record and go on
 *   with the same chain, executing nothing again;
 * - a crash between a record and the state file: roll the state forward over the
 *   records that follow it, checking each prev-hash link and that its manifest is
 *   stored;
 * - a record that does not link, or belongs to another world: a typed error,
 *   never a silent repair.
 * @module
 */
import type { Logger } from "../logger.ts";
import type { Decoded } from "../storage/schema.ts";
import { defaultsOf } from "../storage/schema.ts";
import { ExecutionError } from "./execution_error.ts";
import {
  type ExecutionRecord,
  GENESIS_EXECUTION_PARENT,
  listRecordHeights,
  readRecord,
  recordPath,
} from "./records.ts";
import { EXECUTION_STATE_SCHEMA, type ExecutionState, readExecutionState } from "./state_file.ts";

/** Answers whether a blob is stored (a `CasStore` does). */
export interface BlobPresence {
  has(hash: string): Promise<boolean>;
}

/** The reconciled state and whether it differs from the file on disk. */
export interface RecoveredState extends Decoded<ExecutionState> {
  /** True when the state file must be (re)written before executing. */
  changed: boolean;
  /** Heights whose records were adopted without executing. */
  adopted: number[];
}

/**
 * Fields of the state that a record at its height determines.
 *
 * @example
 * ```ts
 * import { stateFromRecord } from "./recovery.ts";
 * import { defaultsOf } from "../storage/schema.ts";
 * import { readRecord } from "./records.ts";
 * import { EXECUTION_STATE_SCHEMA } from "./state_file.ts";
 * const r = await readRecord("./data", 1);
 * if (r) stateFromRecord(r, defaultsOf(EXECUTION_STATE_SCHEMA)).lastAppliedHeight; // 1
 * ```
 */
export function stateFromRecord(r: ExecutionRecord, base: ExecutionState): ExecutionState {
  return {
    ...base,
    lastAppliedHeight: r.height,
    lastNodeBlockHash: r.nodeBlockHash,
    lastExecutionBlockHash: r.executionBlockHash,
    lastExecutionStateRoot: r.executionStateRoot,
    lastManifest: r.manifestRef,
    journalLen: r.journalLen,
    worldId: r.worldId,
  };
}

function checkWorld(found: string | null, worldId: string, where: string): void {
  if (found !== null && found !== worldId) {
    throw new ExecutionError(
      "WORLD_MISMATCH",
      `${where} belongs to world "${found}", but this executor runs world "${worldId}"`,
      { where, found, expected: worldId },
    );
  }
}

/**
 * Reads `<data>/execution/state.cbor` and reconciles it with the records.
 *
 * @example
 * ```ts
 * import { CasStore } from "../storage/cas.ts";
 * import { silentLogger } from "../logger.ts";
 * import { recoverExecutionState } from "./recovery.ts";
 * const r = await recoverExecutionState("./data", "world-1", new CasStore("./data/store"), silentLogger);
 * ```
 */
export async function recoverExecutionState(
  dataDir: string,
  worldId: string,
  cas: BlobPresence,
  logger: Logger,
): Promise<RecoveredState> {
  const file = await readExecutionState(dataDir);
  const stateFile = `${dataDir}/execution/state.cbor`;
  let state = file?.value ?? defaultsOf(EXECUTION_STATE_SCHEMA);
  const unknown = file?.unknown ?? {};
  checkWorld(state.worldId, worldId, stateFile);
  let changed = file !== null && state.worldId === null;
  const adopted: number[] = [];

  if (state.lastAppliedHeight === 0) {
    // Upgrade: pick up a records folder left by an older bridge (or by a crash
    // before the first state file). Walk back past records whose manifest never
    // reached the store; those heights are executed again and must agree.
    const heights = await listRecordHeights(dataDir);
    for (let i = heights.length - 1; i >= 0; i--) {
      const r = (await readRecord(dataDir, heights[i]))!;
      checkWorld(r.worldId, worldId, recordPath(dataDir, r.height));
      if (await cas.has(r.manifestRef)) {
        state = stateFromRecord(r, state);
        adopted.push(r.height);
        logger.info("execution state rebuilt from the records folder", {
          height: r.height,
          execution_block_hash: r.executionBlockHash,
        });
        break;
      }
      logger.warn("record's state manifest is not stored; it will be executed again", {
        height: r.height,
      });
    }
  } else if (
    state.lastManifest === null || state.lastExecutionBlockHash === null ||
    state.lastNodeBlockHash === null
  ) {
    // A state file from before these fields existed: its height's record has them.
    const r = await readRecord(dataDir, state.lastAppliedHeight);
    if (!r) {
      throw new ExecutionError(
        "RECORD_MISSING",
        `${stateFile} says height ${state.lastAppliedHeight} is applied, but its record is missing`,
        { height: state.lastAppliedHeight },
      );
    }
    state = stateFromRecord(r, state);
    changed = true;
  }

  // Roll forward over records written after the state file (crash between the two).
  for (;;) {
    const h = state.lastAppliedHeight + 1;
    const r = await readRecord(dataDir, h);
    if (!r) break;
    const where = recordPath(dataDir, h);
    checkWorld(r.worldId, worldId, where);
    const expected = state.lastExecutionBlockHash ?? GENESIS_EXECUTION_PARENT;
    if (r.height !== h || r.prevExecutionBlockHash !== expected) {
      throw new ExecutionError(
        "RECORD_CHAIN_BROKEN",
        `${where}: prev_execution_block_hash ${r.prevExecutionBlockHash} does not link to height ${
          h - 1
        }'s execution block hash ${expected}`,
        { height: h, recorded: r.prevExecutionBlockHash, expected },
      );
    }
    if (!(await cas.has(r.manifestRef))) {
      logger.warn("record's state manifest is not stored; it will be executed again", {
        height: h,
      });
      break;
    }
    state = stateFromRecord(r, state);
    adopted.push(h);
  }
  if (adopted.length > 0) {
    changed = true;
    logger.info("execution records adopted", { from: adopted[0], to: adopted[adopted.length - 1] });
  }
  return { value: { ...state, worldId }, unknown, version: file?.version ?? 0, changed, adopted };
}
