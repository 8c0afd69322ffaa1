/**
 * Options of the execution core (re-exported by `core.ts`).
 * @module
 */
import type { Logger } from "../logger.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import type { PackStoreOptions } from "../storage/pack.ts";
import type { ExecutionMode } from "./state_file.ts";
import type { WorldShape } from "../state/world_state.ts";

/** Default largest pack segment of the core: a height that doubles a big world's bucket
 * count rewrites every chunk in one group, which must fit in one segment. */
export const CORE_SEGMENT_BYTES = 256 * 1024 * 1024;

/** Options of {@link ExecutionCore.open}. */
export interface ExecutionCoreOptions {
  /** `<data>`: the core uses `<data>/execution` and `<data>/store`. */
  dataDir: string;
  worldId: string;
  /** Where missing heights are read from when a gap is filled. */
  blocks: CommittedBlockReader;
  /** Recorded in the state file as `executor_mode` (default "node"). */
  mode?: ExecutionMode;
  /** fsync every write (default true); tests of logic may pass false. */
  durable?: boolean;
  logger?: Logger;
  /** Genesis bucket count and fanout of a new world (an existing one keeps its manifest's). */
  shape?: WorldShape;
  /** Newest heights whose record files start-up re-materialises when missing or short
   * (default `DEFAULT_RECORD_CHECK_WINDOW` of `pack_state.ts`, 20,000). */
  recordCheckWindow?: number;
  /** Largest pack segment (default {@link CORE_SEGMENT_BYTES}). */
  maxSegmentBytes?: number;
  /** Called before each pack fsync (tests count them). */
  onSync?: PackStoreOptions["onSync"];
}
