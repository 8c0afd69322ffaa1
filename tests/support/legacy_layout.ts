/**
 * Test fixture: turns a data dir written by the pack-store core into the layout main
 * wrote before it (one CAS file per blob under `store/<aa>/<bb>/<hash>`, per-height
 * record files, `execution/state.cbor`, no `store/packs`), so upgrade and legacy
 * recovery paths can be tested with chains built by today's core.
 * @module
 */
import { join } from "@std/path";
import { packDir } from "../../src/storage/blob_store.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { PackReader } from "../../src/storage/pack_reader.ts";

/** Rewrites `dataDir` in the old layout; returns how many blobs became CAS files. */
export async function toLegacyLayout(dataDir: string): Promise<number> {
  const reader = await PackReader.open(packDir(dataDir));
  const cas = new CasStore(join(dataDir, "store"), { durable: false });
  const ids = reader.blobIds();
  for (const hash of ids) await cas.putHashed([{ hash, bytes: await reader.get(hash) }]);
  // The record files and state.cbor are already there (the core writes them as copies).
  await Deno.remove(packDir(dataDir), { recursive: true });
  return ids.length;
}
