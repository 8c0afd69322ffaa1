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
import { errorMessage } from "../errors.ts";
import { ExecutionError } from "./execution_error.ts";
import {
  executionBlockHash,
  type ExecutionRecord,
  GENESIS_EXECUTION_PARENT,
  listRecordHeights,
  readRecord,
  recordPath,
} from "./records.ts";
import {
  EXECUTION_STATE_SCHEMA,
  type ExecutionState,
  executionStatePath,
  readExecutionState,
} from "./state_file.ts";

/** Answers whether a blob is stored (a `CasStore` does). */
export interface BlobPresence {
  has(hash: string): Promise<boolean>;
}

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

/** A newest record to write again by executing its height (see the module doc). */
export interface RederiveHeight {
  height: number;
  /** What the state file recorded for `height`; the new record must match it. */
  executionBlockHash: string;
  executionStateRoot: string;
  /** The record file to rewrite. */
  file: string;
  /** Why: "missing" or the read error. */
  reason: string;
}

/**
 * Throws `RECORD_DIVERGED` naming the file when a re-derived record differs from what
 * the state file recorded for its height (called before anything is written).
 *
 * @example
 * ```ts
 * import { checkRederived } from "./recovery.ts";
 * const r = { height: 1, executionBlockHash: "ab", executionStateRoot: "cd", file: "f", reason: "missing" };
 * checkRederived(r, { executionBlockHash: "ab", executionStateRoot: "cd" }); // no error
 * ```
 */
export function checkRederived(
  expect: RederiveHeight,
  got: { executionBlockHash: string; executionStateRoot: string },
): void {
  if (
    got.executionBlockHash === expect.executionBlockHash &&
    got.executionStateRoot === expect.executionStateRoot
  ) return;
  throw new ExecutionError(
    "RECORD_DIVERGED",
    `${expect.file}: executing height ${expect.height} again gives execution block hash ${got.executionBlockHash} ` +
      `(state root ${got.executionStateRoot}); the execution state recorded ${expect.executionBlockHash} ` +
      `(state root ${expect.executionStateRoot})`,
    {
      height: expect.height,
      file: expect.file,
      recorded: expect.executionBlockHash,
      computed: got.executionBlockHash,
    },
  );
}

// A record, null when absent, or the read/decode error when unreadable.
async function tryReadRecord(
  dataDir: string,
  height: number,
): Promise<ExecutionRecord | null | Error> {
  try {
    return await readRecord(dataDir, height);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function mismatch(
  what: string,
  file: string,
  height: number,
  state: string,
  record: string,
): ExecutionError {
  return new ExecutionError(
    "EXECUTION_ROOT_MISMATCH",
    `${file} and the record ${what} disagree at height ${height}: state file has ${state}, record has ${record}`,
    { height, file, field: what, state, record },
  );
}

// Decodes and chain-checks the record at the state's height against the state file
// and the record below it; returns the re-derivation to do when it is missing or
// unreadable (and rolls `state` back to the height below).
async function checkNewest(
  dataDir: string,
  worldId: string,
  state: ExecutionState,
  cas: BlobPresence,
): Promise<{ state: ExecutionState; rederive?: RederiveHeight }> {
  const n = state.lastAppliedHeight;
  if (n === 0) return { state };
  const stateFile = executionStatePath(dataDir);
  const file = recordPath(dataDir, n);
  const newest = await tryReadRecord(dataDir, n);
  const prev = n > 1 ? await tryReadRecord(dataDir, n - 1) : null;
  if (n > 1 && !(prev && !(prev instanceof Error))) {
    const prevFile = recordPath(dataDir, n - 1);
    if (newest && !(newest instanceof Error)) {
      // Only the link to the newest cannot be checked; the newest itself can.
      throw new ExecutionError(
        "RECORD_UNREADABLE",
        `${prevFile}: record ${n - 1} below the newest is ${
          prev instanceof Error ? `unreadable (${prev.message})` : "missing"
        }`,
        { height: n - 1, file: prevFile },
      );
    }
    throw new ExecutionError(
      "RECORD_UNREADABLE",
      `${file} (the newest record) and ${prevFile} are both missing or unreadable; ` +
        `cannot re-derive height ${n} without the state of height ${n - 1}`,
      { height: n, file, prevFile },
    );
  }
  const prevRecord = prev as ExecutionRecord | null;
  if (newest && !(newest instanceof Error)) {
    const r = newest;
    checkWorld(r.worldId, worldId, file);
    const computed = executionBlockHash(r);
    if (computed !== r.executionBlockHash) {
      throw new ExecutionError(
        "RECORD_CORRUPT",
        `${file}: execution_block_hash ${r.executionBlockHash} is not the hash of the record's fields (${computed})`,
        { height: n, file, recorded: r.executionBlockHash, computed },
      );
    }
    const link = prevRecord?.executionBlockHash ?? GENESIS_EXECUTION_PARENT;
    if (r.prevExecutionBlockHash !== link) {
      throw new ExecutionError(
        "RECORD_CHAIN_BROKEN",
        `${file}: prev_execution_block_hash ${r.prevExecutionBlockHash} does not link to height ${
          n - 1
        }'s execution block hash ${link}`,
        { height: n, recorded: r.prevExecutionBlockHash, expected: link },
      );
    }
    if (r.executionBlockHash !== state.lastExecutionBlockHash) {
      throw mismatch(
        "execution_block_hash",
        stateFile,
        n,
        String(state.lastExecutionBlockHash),
        r.executionBlockHash,
      );
    }
    if (r.executionStateRoot !== state.lastExecutionStateRoot) {
      throw mismatch(
        "execution_state_root",
        stateFile,
        n,
        String(state.lastExecutionStateRoot),
        r.executionStateRoot,
      );
    }
    return { state };
  }
  if (state.lastExecutionBlockHash === null || state.lastExecutionStateRoot === null) {
    throw new ExecutionError(
      "RECORD_MISSING",
      `${file}: the newest record is ${
        newest ? "unreadable" : "missing"
      } and ${stateFile} has no execution block hash to check a re-derived one against`,
      { height: n, file },
    );
  }
  if (prevRecord && !(await cas.has(prevRecord.manifestRef))) {
    throw new ExecutionError(
      "RECORD_MISSING",
      `${file}: the newest record is ${
        newest ? "unreadable" : "missing"
      } and the state manifest ${prevRecord.manifestRef} of height ${
        n - 1
      } is not stored, so height ${n} cannot be executed again`,
      { height: n, file },
    );
  }
  const rederive: RederiveHeight = {
    height: n,
    executionBlockHash: state.lastExecutionBlockHash,
    executionStateRoot: state.lastExecutionStateRoot,
    file,
    reason: newest instanceof Error ? errorMessage(newest) : "missing",
  };
  const base: ExecutionState = {
    ...defaultsOf(EXECUTION_STATE_SCHEMA),
    executorMode: state.executorMode,
    worldId,
  };
  return { state: prevRecord ? stateFromRecord(prevRecord, base) : base, rederive };
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
