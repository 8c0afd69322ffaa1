/**
 * The execution blob store as readers see it: the pack segments under
 * `<data>/store/packs` first, then the per-blob CAS files `<data>/store/<aa>/<bb>/<hash>`
 * that data dirs written before the pack store hold (read-through, so an old data dir
 * keeps working without a migration). New execution blobs go to the pack, one group
 * per height (`ExecutionCore`); {@link LayeredBlobs.put} (the driver-plugin CAS
 * contract) still writes a CAS file.
 * @module
 */
import { CasStore } from "./cas.ts";
import { PackError, type PackStore } from "./pack.ts";
import { PackReader } from "./pack_reader.ts";
import { packDir, storeDir } from "./data_dir.ts";

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { packDir } from "./data_dir.ts";

/** What {@link LayeredBlobs} needs of a pack: a {@link PackStore} or a {@link PackReader}. */
export interface PackSource {
  has(hash: string): boolean;
  get(hash: string): Promise<Uint8Array>;
}

/**
 * Pack first, legacy CAS files second.
 *
 * @example
 * ```ts
 * import { openBlobReader } from "./blob_store.ts";
 * const blobs = await openBlobReader("./data");
 * console.log(await blobs.has("ab".repeat(32)));
 * ```
 */
export class LayeredBlobs {
  readonly #pack: PackSource;
  readonly #legacy: CasStore;

  /**
   * @param pack the pack store (writer) or a read-only view of it
   * @param legacy the per-blob CAS folder (`<data>/store`)
   */
  constructor(pack: PackSource, legacy: CasStore) {
    this.#pack = pack;
    this.#legacy = legacy;
  }

  /** The pack behind this store. */
  get pack(): PackSource {
    return this.#pack;
  }

  /** Whether the blob is in the pack or a CAS file. */
  async has(hash: string): Promise<boolean> {
    return this.#pack.has(hash) || await this.#legacy.has(hash);
  }

  /** Reads a blob (pack, then CAS file); both check that its bytes hash to `hash`. */
  async get(hash: string): Promise<Uint8Array> {
    if (this.#pack.has(hash)) return await this.#pack.get(hash);
    if (await this.#legacy.has(hash)) return await this.#legacy.get(hash);
    // A read-only pack view re-scans for groups committed since it was opened.
    try {
      return await this.#pack.get(hash);
    } catch (err) {
      if (!(err instanceof PackError && err.code === "PACK_MISSING")) throw err;
      return await this.#legacy.get(hash); // CAS_MISSING naming the file path
    }
  }

  /** Stores one blob as a CAS file (the plugin `host.cas.put` contract); returns its address. */
  put(bytes: Uint8Array): Promise<string> {
    return this.#legacy.put(bytes);
  }
}

/**
 * A read-only blob store over `<dataDir>` that never writes or cuts anything (safe
 * beside a running node).
 *
 * @example
 * ```ts
 * import { openBlobReader } from "./blob_store.ts";
 * const blobs = await openBlobReader("./data");
 * ```
 */
export async function openBlobReader(
  dataDir: string,
): Promise<LayeredBlobs & { readonly reader: PackReader }> {
  const reader = await PackReader.open(packDir(dataDir));
  const blobs = new LayeredBlobs(reader, new CasStore(storeDir(dataDir), { durable: false }));
  return Object.assign(blobs, { reader });
}

/** A writable layered store over an open {@link PackStore}. */
export function layeredOver(pack: PackStore, dataDir: string, durable: boolean): LayeredBlobs {
  return new LayeredBlobs(pack, new CasStore(storeDir(dataDir), { durable }));
}
