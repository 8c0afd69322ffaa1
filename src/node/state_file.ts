/**
 * `node_pos_state.cbor`: the persisted `PosNodeStateSnapshot` (seed §4), described
 * once. Files written before the execution fields existed load with 0 / null.
 * @module
 */
import { readFileIfExists } from "../storage/atomic.ts";
import { rewriteFileAtomic } from "../storage/rewrite.ts";
import {
  type Decoded,
  decodeFile,
  defaultsOf,
  encodeFile,
  type FileSchema,
} from "../storage/schema.ts";
import { NODE_FILES } from "../storage/data_dir.ts";

/** The persisted consensus + execution state of one node. */
export interface PosNodeState {
  nodeId: string;
  worldId: string;
  /** Wall-clock origin of slot numbering (unix ms), fixed at the first start. */
  genesisUnixMs: number;
  slot: number;
  epoch: number;
  latestHeight: number;
  committedHeight: number;
  /** Slot of the last committed block. */
  lastCommittedSlot: number;
  lastBlockHash: string | null;
  lastStatus: string | null;
  lastExecutionHeight: number;
  lastExecutionBlockHash: string | null;
  lastExecutionStateRoot: string | null;
}

/** File name inside `<data>/node/<node_id>/`. */
export const NODE_STATE_FILE = NODE_FILES.state;

/**
 * Schema of `node_pos_state.cbor` (version 1). The `last_execution_*` fields are a
 * deliberate twin of `src/execution/state_file.ts`'s (two pinned formats).
 */
export const POS_NODE_STATE_SCHEMA: FileSchema<PosNodeState> = {
  kind: "PosNodeStateSnapshot",
  version: 1,
  fields: [
    { key: "nodeId", wire: "node_id", type: "string", default: "" },
    { key: "worldId", wire: "world_id", type: "string", default: "" },
    { key: "genesisUnixMs", wire: "genesis_unix_ms", type: "u64", default: 0 },
    { key: "slot", wire: "slot", type: "u64", default: 0 },
    { key: "epoch", wire: "epoch", type: "u64", default: 0 },
    { key: "latestHeight", wire: "latest_height", type: "u64", default: 0 },
    { key: "committedHeight", wire: "committed_height", type: "u64", default: 0 },
    { key: "lastCommittedSlot", wire: "last_committed_slot", type: "u64", default: 0 },
    { key: "lastBlockHash", wire: "last_block_hash", type: "string?", default: null },
    { key: "lastStatus", wire: "last_status", type: "string?", default: null },
    { key: "lastExecutionHeight", wire: "last_execution_height", type: "u64", default: 0 },
    {
      key: "lastExecutionBlockHash",
      wire: "last_execution_block_hash",
      type: "string?",
      default: null,
    },
    {
      key: "lastExecutionStateRoot",
      wire: "last_execution_state_root",
      type: "string?",
      default: null,
    },
  ],
};

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { nodeDir } from "../storage/data_dir.ts";

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { nodeStatePath } from "../storage/data_dir.ts";

/**
 * Reads a state file; `null` when it does not exist. Errors name the file and field.
 *
 * @example
 * ```ts
 * import { readNodeState } from "./state_file.ts";
 * const state = await readNodeState("./data/node/node-1/node_pos_state.cbor");
 * ```
 */
export async function readNodeState(path: string): Promise<Decoded<PosNodeState> | null> {
  const bytes = await readFileIfExists(path);
  if (!bytes) return null;
  return decodeFile(POS_NODE_STATE_SCHEMA, bytes, path);
}

/** A fresh state for a node that has never run. */
export function freshNodeState(nodeId: string, worldId: string): PosNodeState {
  return { ...defaultsOf(POS_NODE_STATE_SCHEMA), nodeId, worldId };
}

/**
 * Writes the state file atomically, keeping unknown fields from the file it replaces
 * (a networked node rewrites it up to 10 times a second: no inode made or freed).
 */
export async function writeNodeState(
  path: string,
  state: PosNodeState,
  unknown: Record<string, unknown>,
  durable = true,
): Promise<void> {
  await rewriteFileAtomic(path, encodeFile(POS_NODE_STATE_SCHEMA, state, unknown, path), {
    durable,
  });
}
