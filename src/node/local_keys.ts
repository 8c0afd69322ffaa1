/**
 * The keys of the local validators, and the crash points a test may kill the process at.
 * @module
 */
import { type Signer, simSigner, simVerifier, type Verifier } from "../consensus/bft/signing.ts";

/** Points where a test may crash the process (`--crash-at`, test only). */
export type CrashPoint = "before-signer-persist" | "after-signer-persist";

/** Keys of the local validators. */
export interface LocalKeys {
  /** The signer of local validator `id`. */
  signer(id: string): Signer;
  readonly verifier: Verifier;
}

/**
 * Keys local mode uses until validators get their own key files (next issue): the
 * simulator's keyed-BLAKE3 MACs with secrets derived from the world id. Nothing signed
 * leaves the process in local mode, so these only exercise the protocol; they are not
 * signatures anyone else should trust.
 */
export function localModeKeys(worldId: string): LocalKeys {
  return { signer: (id) => simSigner(worldId, id), verifier: simVerifier(worldId) };
}
