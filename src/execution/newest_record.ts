/**
 * The newest execution record at start-up: decoded and chain-checked against the
 * state file and the record below it, or, when it is missing or unreadable, the
 * height to execute again ({@link RederiveHeight}) and the check that the re-derived
 * record agrees with what the state file recorded. See `recovery.ts` for the whole
 * start-up reconciliation.
 * @module
 */
import { defaultsOf } from "../storage/schema.ts";
import { errorMessage } from "../errors.ts";
import { ExecutionError } from "./execution_error.ts";
import {
  executionBlockHash,
  type ExecutionRecord,
  GENESIS_EXECUTION_PARENT,
  readRecord,
  recordPath,
} from "./records.ts";
import { EXECUTION_STATE_SCHEMA, type ExecutionState, executionStatePath } from "./state_file.ts";

/** Answers whether a blob is stored (a `CasStore` does). */
export interface BlobPresence {
  has(hash: string): Promise<boolean>;
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
 * import { checkRederived } from "./newest_record.ts";
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

/** A record, null when absent, or the read/decode error when unreadable. */
export async function tryReadRecord(
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

/**
 * Decodes and chain-checks the record at the state's height against the state file
 * and the record below it; returns the re-derivation to do when it is missing or
 * unreadable (and rolls `state` back to the height below).
 */
export async function checkNewest(
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
    const fields = [
      ["execution_block_hash", state.lastExecutionBlockHash, r.executionBlockHash],
      ["execution_state_root", state.lastExecutionStateRoot, r.executionStateRoot],
    ] as const;
    for (const [field, inState, inRecord] of fields) {
      if (inRecord !== inState) throw mismatch(field, stateFile, n, String(inState), inRecord);
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
 * import { stateFromRecord } from "./newest_record.ts";
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

/** Throws `WORLD_MISMATCH` naming `where` when `found` is another world's id. */
export function checkWorld(found: string | null, worldId: string, where: string): void {
  if (found !== null && found !== worldId) {
    throw new ExecutionError(
      "WORLD_MISMATCH",
      `${where} belongs to world "${found}", but this executor runs world "${worldId}"`,
      { where, found, expected: worldId },
    );
  }
}
