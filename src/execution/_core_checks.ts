/**
 * Checks of the execution core (private to `core.ts`): a stale record above the
 * state, conflicting blocks, a world that does not match its state.
 * @module
 */
import type { BlockAction, CommittedBlock } from "../consensus/types.ts";
import type { Logger } from "../logger.ts";
import { ExecutionError } from "./execution_error.ts";
import { type ExecutionRecord, readRecord, recordPath } from "./records.ts";
import type { ExecutionState } from "./state_file.ts";
import type { WorldState } from "../state/world_state.ts";

/** One height to execute. */
export interface HeightInput {
  height: number;
  nodeBlockHash: string;
  timestampMs: number;
  actions: readonly BlockAction[];
}

/**
 * A record above the state can exist only after a crash whose manifest never
 * reached the store (see recovery.ts); executing again must reproduce it.
 */
export async function checkExisting(
  dataDir: string,
  record: ExecutionRecord,
  logger: Logger,
): Promise<void> {
  const path = recordPath(dataDir, record.height);
  let old: ExecutionRecord | null;
  try {
    old = await readRecord(dataDir, record.height);
  } catch (err) {
    // Unreadable and above the state: nothing confirmed it, the new record replaces it.
    logger.warn("unreadable record replaced by executing its height again", {
      file: path,
      error: err instanceof Error ? err.message : String(err),
    });
    return;
  }
  if (!old) return;
  if (old.nodeBlockHash !== record.nodeBlockHash) {
    throw conflicting(record.height, old.nodeBlockHash, record.nodeBlockHash);
  }
  if (old.executionBlockHash !== record.executionBlockHash) {
    throw new ExecutionError(
      "RECORD_DIVERGED",
      `${path}: executing height ${record.height} again gives execution block hash ${record.executionBlockHash}, the record says ${old.executionBlockHash}`,
      {
        height: record.height,
        recorded: old.executionBlockHash,
        computed: record.executionBlockHash,
      },
    );
  }
}

/** The execution input of a committed block. */
export function heightInput(block: CommittedBlock): HeightInput {
  return {
    height: block.header.height,
    nodeBlockHash: block.hash,
    timestampMs: block.header.timestampMs,
    actions: block.actions,
  };
}

/** `CONFLICTING_BLOCK` naming the height and both hashes. */
export function conflicting(height: number, recorded: string, committed: string): ExecutionError {
  return new ExecutionError(
    "CONFLICTING_BLOCK",
    `conflicting block at height ${height}: recorded ${recorded}, committed ${committed}`,
    { height, recorded, committed },
  );
}

/** `STATE_INVALID` when the loaded world is not at the state's height and journal. */
export function checkWorldMatches(world: WorldState, state: ExecutionState): void {
  if (
    world.world.clock !== state.lastAppliedHeight || world.world.journalLen !== state.journalLen
  ) {
    throw new ExecutionError(
      "STATE_INVALID",
      `state manifest ${state.lastManifest} is at height ${world.world.clock} with ${world.world.journalLen} events, but the execution state says height ${state.lastAppliedHeight} with ${state.journalLen}`,
      { manifest: state.lastManifest, height: state.lastAppliedHeight },
    );
  }
}
