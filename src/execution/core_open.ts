/**
 * Opening the execution core's stores at start-up: the folders (stale temps, an
 * interrupted store gc), the pack store (a torn tail cut), the execution state (from
 * the pack's newest group, else reconciled with the records folder of a pre-pack data
 * dir) and the world it names; record files the pack holds are written back.
 * @module
 */
import { executionDir } from "../storage/data_dir.ts";
import type { Logger } from "../logger.ts";
import { ensureDirDurable, removeStaleTemps } from "../storage/atomic.ts";
import { type LayeredBlobs, layeredOver, packDir } from "../storage/blob_store.ts";
import { PackStore } from "../storage/pack.ts";
import { checkWorldMatches } from "./_core_checks.ts";
import { CORE_SEGMENT_BYTES, type ExecutionCoreOptions } from "./core_options.ts";
import { ExecutionError } from "./execution_error.ts";
import { DEFAULT_RECORD_CHECK_WINDOW, materialiseRecords, stateFromPack } from "./pack_state.ts";
import { recordsDir } from "./records.ts";
import { recoverExecutionState, type RederiveHeight } from "./recovery.ts";
import { type ExecutionState, writeExecutionState } from "./state_file.ts";
import { finishGc } from "./store_gc.ts";
import { WorldState } from "../state/world_state.ts";

/** What the core runs on, opened and reconciled. */
export interface OpenedCoreStores {
  pack: PackStore;
  cas: LayeredBlobs;
  state: ExecutionState;
  /** Fields of the state file this version does not know (kept on rewrite). */
  unknown: Record<string, unknown>;
  world: WorldState;
  /** The newest record's height to execute again, when it was missing or unreadable. */
  rederive?: RederiveHeight;
}

/**
 * Opens and reconciles the stores of the core for `options`; on failure the pack is
 * closed again.
 *
 * @example
 * ```ts ignore
 * const opened = await openCoreStores({ dataDir, worldId: "world-1", blocks }, logger);
 * ```
 */
export async function openCoreStores(
  options: ExecutionCoreOptions,
  logger: Logger,
): Promise<OpenedCoreStores> {
  if (!options.worldId) throw new ExecutionError("WORLD_MISMATCH", "worldId must not be empty");
  const durable = options.durable ?? true;
  await ensureDirDurable(recordsDir(options.dataDir), durable);
  await removeStaleTemps(executionDir(options.dataDir));
  await removeStaleTemps(recordsDir(options.dataDir));
  await finishGc(options.dataDir); // a store swap a crash interrupted
  const pack = await PackStore.open(packDir(options.dataDir), {
    durable,
    maxSegmentBytes: options.maxSegmentBytes ?? CORE_SEGMENT_BYTES,
    onSync: options.onSync,
  });
  try {
    return await reconcile(options, pack, durable, logger);
  } catch (err) {
    await pack.close();
    throw err;
  }
}

// The state and world the core starts from, reconciled with what is on disk.
async function reconcile(
  options: ExecutionCoreOptions,
  pack: PackStore,
  durable: boolean,
  logger: Logger,
): Promise<OpenedCoreStores> {
  if (pack.recovery) logger.warn("pack store tail cut at start-up", { ...pack.recovery });
  const cas = layeredOver(pack, options.dataDir, durable);
  // The pack's newest group is the truth; without one, this is a fresh or pre-pack data dir.
  const packed = await stateFromPack(pack, options.worldId);
  const rec = packed
    ? { ...packed, changed: false, rederive: undefined }
    : await recoverExecutionState(options.dataDir, options.worldId, cas, logger);
  const state = { ...rec.value, worldId: options.worldId };
  state.executorMode = options.mode ?? state.executorMode;
  const world = state.lastManifest
    ? await WorldState.load(cas, options.worldId, state.lastManifest)
    : WorldState.genesis(options.worldId, options.shape);
  checkWorldMatches(world, state);
  if (packed) {
    const window = options.recordCheckWindow ?? DEFAULT_RECORD_CHECK_WINDOW;
    const fixed = await materialiseRecords(options.dataDir, pack, pack.heights(), window);
    if (fixed.length) logger.warn("record files written again from the pack", { heights: fixed });
    await writeExecutionState(options.dataDir, state, rec.unknown, false);
  } else if (rec.changed && !rec.rederive) {
    await writeExecutionState(options.dataDir, state, rec.unknown, durable);
  }
  return { pack, cas, state, unknown: rec.unknown, world, rederive: rec.rederive };
}
