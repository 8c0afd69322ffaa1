/**
 * The execution core's entries in the pack store (`<data>/store/packs`), and start-up
 * from them. One group per height holds the height's new blobs, its record (named
 * `record/<20-digit height>`, the exact bytes of the record file) and the execution
 * state (named `execution/state`, the exact bytes of `execution/state.cbor`), made
 * durable by one fdatasync. The pack's newest group is the truth: the record files
 * and `state.cbor` are copies written without fsync after the group is durable, and
 * re-materialised from the pack at start-up when missing or short (README,
 * "Execution store").
 * @module
 */
import { heightFileName } from "../node/block_store.ts";
import { writeFileAtomic } from "../storage/atomic.ts";
import type { PackStore } from "../storage/pack.ts";
import type { PackReader } from "../storage/pack_reader.ts";
import { type Decoded, decodeFile } from "../storage/schema.ts";
import { ExecutionError } from "./execution_error.ts";
import { type ExecutionRecord, RECORD_SCHEMA, recordPath } from "./records.ts";
import { EXECUTION_STATE_SCHEMA, type ExecutionState } from "./state_file.ts";

/** Name of the execution state entry. */
export const STATE_ENTRY = "execution/state";

/** Default number of newest heights whose record files start-up checks (see README). */
export const DEFAULT_RECORD_CHECK_WINDOW = 20_000;

/** Record files checked at once during that start-up pass. */
const CHECK_BATCH = 256;

/**
 * Name of the record entry of `height`.
 *
 * @example
 * ```ts
 * import { recordEntry } from "./pack_state.ts";
 * recordEntry(7); // "record/00000000000000000007"
 * ```
 */
export function recordEntry(height: number): string {
  return `record/${heightFileName(height).replace(/\.cbor$/, "")}`;
}

/** What reads named entries: a {@link PackStore} or a {@link PackReader}. */
export interface NamedSource {
  getNamed(name: string): Promise<Uint8Array | null>;
}

/**
 * The record of `height` from the pack, or null when the pack has none.
 *
 * @example
 * ```ts
 * import { PackReader } from "../storage/pack_reader.ts";
 * import { recordFromPack } from "./pack_state.ts";
 * const r = await recordFromPack(await PackReader.open("./data/store/packs"), 1);
 * ```
 */
export async function recordFromPack(
  pack: NamedSource,
  height: number,
): Promise<Decoded<ExecutionRecord> | null> {
  const bytes = await pack.getNamed(recordEntry(height));
  return bytes ? decodeFile(RECORD_SCHEMA, bytes, `pack entry ${recordEntry(height)}`) : null;
}

/**
 * The execution state in the pack's newest group, checked against that group's height
 * and record; null when the pack is empty (a fresh or pre-pack data dir). `worldId`
 * null skips the world check (offline tools that do not know it).
 *
 * @example
 * ```ts
 * import { PackStore } from "../storage/pack.ts";
 * import { stateFromPack } from "./pack_state.ts";
 * const s = await stateFromPack(await PackStore.open("./data/store/packs"), "world-1");
 * ```
 */
export async function stateFromPack(
  pack: PackStore | PackReader,
  worldId: string | null,
): Promise<Decoded<ExecutionState> | null> {
  const last = pack.lastHeight;
  if (last === null) return null;
  const where = `pack entry ${STATE_ENTRY} in ${pack.dir}`;
  const bytes = await pack.getNamed(STATE_ENTRY);
  if (!bytes) {
    throw new ExecutionError(
      "STATE_INVALID",
      `${pack.dir}: the pack's newest group (height ${last}) has no ${STATE_ENTRY} entry`,
      { height: last },
    );
  }
  const state = decodeFile(EXECUTION_STATE_SCHEMA, bytes, where);
  const s = state.value;
  if (worldId !== null && s.worldId !== null && s.worldId !== worldId) {
    throw new ExecutionError(
      "WORLD_MISMATCH",
      `${where} belongs to world "${s.worldId}", but this executor runs world "${worldId}"`,
      { where, found: s.worldId, expected: worldId },
    );
  }
  const record = await recordFromPack(pack, s.lastAppliedHeight);
  if (
    s.lastAppliedHeight !== last || !record ||
    record.value.executionBlockHash !== s.lastExecutionBlockHash ||
    record.value.executionStateRoot !== s.lastExecutionStateRoot
  ) {
    throw new ExecutionError(
      "STATE_INVALID",
      `${where} says height ${s.lastAppliedHeight} (${s.lastExecutionBlockHash}), but the pack's ` +
        `newest group is height ${last} with record ${
          record ? record.value.executionBlockHash : "missing"
        }`,
      { height: s.lastAppliedHeight, last },
    );
  }
  return state;
}

/**
 * Writes the record files of the newest `window` heights of `heights` that are missing
 * or whose size differs from the pack's bytes (a copy lost or cut short by a power
 * failure, since they are written without fsync). Returns the heights rewritten.
 *
 * @example
 * ```ts
 * import { PackStore } from "../storage/pack.ts";
 * import { materialiseRecords } from "./pack_state.ts";
 * const pack = await PackStore.open("./data/store/packs");
 * await materialiseRecords("./data", pack, pack.heights(), 20_000);
 * ```
 */
export async function materialiseRecords(
  dataDir: string,
  pack: NamedSource & { namedLength(name: string): number | null },
  heights: readonly number[],
  window: number,
): Promise<number[]> {
  const todo = heights.slice(Math.max(0, heights.length - window));
  const rewritten: number[] = [];
  for (let i = 0; i < todo.length; i += CHECK_BATCH) {
    await Promise.all(
      todo.slice(i, i + CHECK_BATCH).map(async (h) => {
        const want = pack.namedLength(recordEntry(h));
        if (want === null) return; // a pre-pack height: its file is the only copy
        let size = -1;
        try {
          size = (await Deno.stat(recordPath(dataDir, h))).size;
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
        if (size === want) return;
        const bytes = (await pack.getNamed(recordEntry(h)))!;
        await writeFileAtomic(recordPath(dataDir, h), bytes, { durable: false, mkdirs: false });
        rewritten.push(h);
      }),
    );
  }
  return rewritten.sort((a, b) => a - b);
}
