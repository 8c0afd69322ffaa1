/**
 * `awr store gc --keep-last N`: reclaims the pack blobs that only state roots older
 * than the newest N executed heights reach, and compacts the segments. Every record
 * entry is kept (the hash chain stays checkable); a blob stays in the group of the
 * height that first stored it, so heights and the format do not change. The newest
 * group also gets the named entry `gc/kept_from` (the first height whose state is
 * complete), which `records verify` reads to say which range it skipped.
 *
 * Safety: it takes the data dir's lock, so it refuses while a node runs (and a node
 * cannot start during it). The compacted store is written to `store/packs.gc` and
 * fsynced, then swapped in by two renames (`packs` → `packs.old`, `packs.gc` →
 * `packs`); {@link finishGc}, run by the execution core at open, completes or drops a
 * swap a crash interrupted. Blobs in per-blob CAS files (a pre-pack data dir) are not
 * touched.
 * @module
 */
import { join } from "../std/path.ts";
import { lockDataDir } from "../storage/lock.ts";
import { syncDir } from "../storage/atomic.ts";
import { openBlobReader, packDir } from "../storage/blob_store.ts";
import { decodeCbor, encodeCanonical } from "../storage/cbor.ts";
import { toHex } from "../storage/hash.ts";
import { PackStore } from "../storage/pack.ts";
import type { PackReader } from "../storage/pack_reader.ts";
import { ExecutionError } from "./execution_error.ts";
import { decodeManifest } from "../state/manifest.ts";
import { recordEntry, recordFromPack, STATE_ENTRY, stateFromPack } from "./pack_state.ts";
import type { NodeWire } from "../state/state_tree.ts";
import { readRecord } from "./records.ts";

/** Name of the entry that says from which height on every state is complete. */
export const KEPT_FROM_ENTRY = "gc/kept_from";

/** Segment size of the compacted store (the core's default). */
const GC_SEGMENT_BYTES = 256 * 1024 * 1024;

/** What {@link gcStore} did. */
export interface GcReport {
  /** First height whose state is still complete (1 when nothing was collected). */
  keptFrom: number;
  /** Newest executed height. */
  lastHeight: number;
  blobsBefore: number;
  blobsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) total += (await Deno.stat(join(dir, e.name))).size;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return total;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Completes a store swap a crash interrupted (`packs.old` present, `packs` gone: the
 * fsynced `packs.gc` is complete) or drops an unfinished compaction.
 *
 * @example
 * ```ts
 * import { finishGc } from "./store_gc.ts";
 * await finishGc("./data");
 * ```
 */
export async function finishGc(dataDir: string): Promise<void> {
  const packs = packDir(dataDir);
  const old = `${packs}.old`;
  const fresh = `${packs}.gc`;
  if (await exists(old)) {
    if (!(await exists(packs))) await Deno.rename(fresh, packs);
    await Deno.remove(old, { recursive: true });
  } else if (await exists(fresh)) {
    await Deno.remove(fresh, { recursive: true });
  }
}

// Every blob the state of `root` reaches, plus the journal segment (added to `live`).
async function markState(
  reader: { get(hash: string): Promise<Uint8Array> },
  manifestRef: string,
  journalRef: string,
  live: Set<string>,
): Promise<void> {
  live.add(journalRef);
  if (live.has(manifestRef)) return;
  live.add(manifestRef);
  const m = decodeManifest(await reader.get(manifestRef), `manifest ${manifestRef}`);
  let level = [m.treeRoot];
  for (let k = m.depth; k >= 1; k--) {
    const next: string[] = [];
    for (const h of level) {
      if (live.has(h)) continue; // its whole subtree is marked already
      live.add(h);
      const node = decodeCbor(await reader.get(h)) as NodeWire;
      for (const c of node.children) next.push(toHex(c));
    }
    level = next;
  }
  for (const h of level) live.add(h);
}

/**
 * Collects the pack blobs reachable only from states older than the newest
 * `keepLast` heights and compacts the segments (see the module doc).
 *
 * @example
 * ```ts
 * import { gcStore } from "./store_gc.ts";
 * const report = await gcStore("./data", 1000);
 * console.log(report.blobsBefore - report.blobsAfter);
 * ```
 */
export async function gcStore(dataDir: string, keepLast: number): Promise<GcReport> {
  if (!Number.isSafeInteger(keepLast) || keepLast < 1) {
    throw new ExecutionError("BAD_OPTION", `--keep-last must be an integer >= 1, got ${keepLast}`, {
      option: "--keep-last",
    });
  }
  const lock = await lockDataDir(dataDir);
  try {
    await finishGc(dataDir);
    const packs = packDir(dataDir);
    const blobs = await openBlobReader(dataDir); // pack, then pre-pack CAS files
    const reader = blobs.reader;
    const bytesBefore = await folderBytes(packs);
    const state = await stateFromPack(reader, null);
    const blobsBefore = reader.blobIds().length;
    if (!state) {
      return {
        keptFrom: 1,
        lastHeight: 0,
        blobsBefore,
        blobsAfter: blobsBefore,
        bytesBefore,
        bytesAfter: bytesBefore,
      };
    }
    const last = state.value.lastAppliedHeight;
    const keptFrom = Math.max(1, last - keepLast + 1);
    const live = new Set<string>();
    for (let h = keptFrom; h <= last; h++) {
      const r = await recordFromPack(reader, h);
      const rec = r?.value ?? await readRecord(dataDir, h); // a pre-pack height: its file
      if (rec) await markState(blobs, rec.manifestRef, rec.journalRef, live);
    }
    // A blob stays in the group of the height that first stored it.
    const byHeight = new Map<number, string[]>();
    let blobsAfter = 0;
    for (const id of reader.blobIds()) {
      if (!live.has(id)) continue;
      const h = reader.heightOf(id)!;
      byHeight.set(h, [...(byHeight.get(h) ?? []), id]);
      blobsAfter++;
    }
    const fresh = `${packs}.gc`;
    const out = await PackStore.open(fresh, { durable: false, maxSegmentBytes: GC_SEGMENT_BYTES });
    try {
      for (const h of reader.heights()) {
        const blobs = await Promise.all(
          (byHeight.get(h) ?? []).map(async (hash) => ({ hash, bytes: await reader.get(hash) })),
        );
        const named = [];
        const rec = await reader.getNamed(recordEntry(h));
        if (rec) named.push({ name: recordEntry(h), bytes: rec });
        if (h === last) {
          named.push({ name: STATE_ENTRY, bytes: (await reader.getNamed(STATE_ENTRY))! });
          named.push({ name: KEPT_FROM_ENTRY, bytes: encodeCanonical({ kept_from: keptFrom }) });
        }
        await out.commitGroup({ height: h, blobs, named });
      }
    } finally {
      await out.close();
    }
    for (const seg of out.segments()) {
      const f = await Deno.open(join(fresh, seg), { write: true });
      await f.sync();
      f.close();
    }
    await syncDir(fresh);
    await Deno.rename(packs, `${packs}.old`);
    await Deno.rename(fresh, packs);
    await syncDir(join(packs, ".."));
    await Deno.remove(`${packs}.old`, { recursive: true });
    return {
      keptFrom,
      lastHeight: last,
      blobsBefore,
      blobsAfter,
      bytesBefore,
      bytesAfter: await folderBytes(packs),
    };
  } finally {
    lock.release();
  }
}

/**
 * The first height whose state is complete after a gc (1 when none ran).
 *
 * @example
 * ```ts
 * import { PackReader } from "../storage/pack_reader.ts";
 * import { keptFrom } from "./store_gc.ts";
 * console.log(await keptFrom(await PackReader.open("./data/store/packs")));
 * ```
 */
export async function keptFrom(pack: PackReader | PackStore): Promise<number> {
  const bytes = await pack.getNamed(KEPT_FROM_ENTRY);
  if (!bytes) return 1;
  const v = decodeCbor(bytes) as { kept_from?: unknown };
  return typeof v?.kept_from === "number" ? v.kept_from : 1;
}
