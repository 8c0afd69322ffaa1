/**
 * The file-backed BFT signer state: `<data>/node/<id>/signer_state.cbor`, written with
 * an atomic, fsynced replace, so after a crash the file holds the last state whose
 * signature could have left.
 * @module
 */
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.ts";
import { decodeSignerState, encodeSignerState } from "../consensus/bft/signer_state.ts";
import type { SignerStateStore } from "../consensus/bft/signer_state.ts";
import type { SignerState } from "../consensus/bft/types.ts";
import { signerStatePath } from "../storage/data_dir.ts";

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { signerStatePath };

/**
 * A {@link SignerStateStore} on disk.
 *
 * @example
 * ```ts
 * import { FileSignerStateStore } from "./signer_state_file.ts";
 * const store = new FileSignerStateStore("/tmp/awr-data", "v1");
 * const state = await store.load(); // null on a fresh data dir
 * ```
 */
export class FileSignerStateStore implements SignerStateStore {
  /** The file this store reads and writes. */
  readonly path: string;
  /**
   * @param dataDir the node's data directory
   * @param validatorId this validator's id
   * @param durable fsync file and folder (default true)
   */
  constructor(dataDir: string, validatorId: string, readonly durable = true) {
    this.path = signerStatePath(dataDir, validatorId);
  }

  /** Reads the state; null when the file does not exist; a bad field throws naming it. */
  async load(): Promise<SignerState | null> {
    const bytes = await readFileIfExists(this.path);
    return bytes === null ? null : decodeSignerState(bytes);
  }

  /** Atomically replaces the file. */
  async save(state: SignerState): Promise<void> {
    await writeFileAtomic(this.path, encodeSignerState(state), { durable: this.durable });
  }
}
