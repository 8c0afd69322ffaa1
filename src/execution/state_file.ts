/**
 * The execution state file, `<data>/execution/state.cbor`: how far the executor
 * got, written after each height's record. It is a summary of the records; after a
 * crash between the two writes, start-up rolls it forward from the records.
 * @module
 */
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.ts";
import { type Decoded, decodeFile, encodeFile, type FileSchema } from "../storage/schema.ts";
import { executionStatePath } from "../storage/data_dir.ts";

/**
 * Where execution runs, chosen once at start-up (`--execution`, DESIGN invariant 1):
 * `node`, the driver behind the node's execution hook; `bridge`, the legacy mode in
 * which the node commits without a hook and `src/live/bridge.ts` hands committed
 * heights to the driver. (The legacy *mode* `bridge` is unrelated to the default
 * *driver* named `bridge`, which runs in either mode.) The one type of the runtime;
 * the plugin contract's `DriverMode` is its import-free copy. Stored as
 * `executor_mode` in the execution state file and shown as `execution_mode` in
 * status and reports.
 */
export type ExecutionMode = "node" | "bridge";

/** The execution state in memory. */
export interface ExecutionState {
  lastAppliedHeight: number;
  lastNodeBlockHash: string | null;
  lastExecutionBlockHash: string | null;
  lastExecutionStateRoot: string | null;
  /** CAS address of the last state manifest (equals the state root). */
  lastManifest: string | null;
  journalLen: number;
  executorMode: string;
  /** Null in files written before the field existed. */
  worldId: string | null;
}

/**
 * Schema of `state.cbor` (version 1). Its two `last_execution_*` fields repeat the
 * node state file's on purpose (a deliberate twin): two pinned file formats, each
 * owned by its folder, and `execution` may not import `node` internals.
 */
export const EXECUTION_STATE_SCHEMA: FileSchema<ExecutionState> = {
  kind: "ExecutionState",
  version: 1,
  fields: [
    { key: "lastAppliedHeight", wire: "last_applied_height", type: "u64", default: 0 },
    { key: "lastNodeBlockHash", wire: "last_node_block_hash", type: "string?", default: null },
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
    { key: "lastManifest", wire: "last_manifest", type: "string?", default: null },
    { key: "journalLen", wire: "journal_len", type: "u64", default: 0 },
    { key: "executorMode", wire: "executor_mode", type: "string", default: "node" },
    { key: "worldId", wire: "world_id", type: "string?", default: null },
  ],
};

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { executionStatePath };

/**
 * Reads the state file, or null when there is none; a bad file throws naming the
 * file and field.
 *
 * @example
 * ```ts
 * import { readExecutionState } from "./state_file.ts";
 * const state = await readExecutionState("./data"); // null on a fresh data dir
 * ```
 */
export async function readExecutionState(dataDir: string): Promise<Decoded<ExecutionState> | null> {
  const path = executionStatePath(dataDir);
  const bytes = await readFileIfExists(path);
  return bytes ? decodeFile(EXECUTION_STATE_SCHEMA, bytes, path) : null;
}

/**
 * Writes the state file atomically, keeping fields this code does not know.
 *
 * @example
 * ```ts
 * import { readExecutionState, writeExecutionState } from "./state_file.ts";
 * const s = await readExecutionState("./data");
 * if (s) await writeExecutionState("/tmp/awr-copy", s.value, s.unknown, true);
 * ```
 */
export async function writeExecutionState(
  dataDir: string,
  state: ExecutionState,
  unknown: Record<string, unknown>,
  durable: boolean,
): Promise<void> {
  const path = executionStatePath(dataDir);
  await writeFileAtomic(path, encodeFile(EXECUTION_STATE_SCHEMA, state, unknown, path), {
    durable,
  });
}
