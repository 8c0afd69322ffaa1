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
 *   never a silent repair;
 * - the newest record (at the state's height) is decoded and chain-checked against
 *   the state file and the record below it. When it is missing or unreadable it is
 *   re-derived: the state goes back to the record below and the caller executes that
 *   one height again from its committed block, which must reproduce the state file's
 *   execution block hash (see `RecoveredState.rederive`). Executing is deterministic
 *   (invariant 5) and the result is checked against a hash that survived, so this is a
 *   repair that cannot invent data; refusing would leave a permanent hole that no
 *   later height fills. A record below the newest that is missing or unreadable is
 *   refused naming its file (re-executing from genesis is the operator's call).
 * @module
 */
import type { Logger } from "../logger.ts";
import type { Decoded } from "../storage/schema.ts";
import { defaultsOf } from "../storage/schema.ts";
import { ExecutionError } from "./execution_error.ts";
import {
  type BlobPresence,
  checkNewest,
  checkWorld,
  type RederiveHeight,
  stateFromRecord,
  tryReadRecord,
} from "./newest_record.ts";
import { GENESIS_EXECUTION_PARENT, listRecordHeights, readRecord, recordPath } from "./records.ts";
import {
  EXECUTION_STATE_SCHEMA,
  type ExecutionState,
  executionStatePath,
  readExecutionState,
} from "./state_file.ts";

export {
  type BlobPresence,
  checkRederived,
  type RederiveHeight,
  stateFromRecord,
} from "./newest_record.ts";

/** The reconciled state and whether it differs from the file on disk. */
export interface RecoveredState extends Decoded<ExecutionState> {
  /** True when the state file must be (re)written before executing. */
  changed: boolean;
  /**
   * Set when the newest record was missing or unreadable: the state stands at the
   * height below, and `height` must be executed again and give `executionBlockHash`.
   */
  rederive?: RederiveHeight;
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
  const stateFile = executionStatePath(dataDir);
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

  const checked = await checkNewest(dataDir, worldId, state, cas);
  state = checked.state;
  if (checked.rederive) {
    logger.warn(
      "newest execution record is missing or unreadable; its height will be executed again",
      {
        height: checked.rederive.height,
        file: checked.rederive.file,
        reason: checked.rederive.reason,
      },
    );
  }

  // Roll forward over records written after the state file (crash between the two).
  for (;;) {
    if (checked.rederive) break;
    const h = state.lastAppliedHeight + 1;
    const r = await tryReadRecord(dataDir, h);
    if (r instanceof Error) {
      // Above the state nothing confirmed it: executing the height again rewrites it.
      logger.warn("record above the execution state is unreadable; it will be executed again", {
        height: h,
        error: r.message,
      });
      break;
    }
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
  return {
    value: { ...state, worldId },
    unknown,
    version: file?.version ?? 0,
    changed,
    rederive: checked.rederive,
  };
}
