/**
 * The double-sign guard: a validator never signs two different things at one
 * (height, round, step), nor anything at an earlier (height, round, step), also across
 * restarts — the state is persisted before the signed message leaves (the engine emits
 * a "persist" output ahead of the "broadcast"). Pure; persistence is injected.
 * @module
 */
import { decodeCbor, encodeCanonical } from "../../storage/cbor.ts";
import { hashHex } from "../../storage/hash.ts";
import { BftError } from "./errors.ts";
import type { Signer } from "./signing.ts";
import { parseMessage } from "./checks.ts";
import type { LockProof, SignerState, Vote } from "./types.ts";

/** Where a validator's {@link SignerState} survives a crash. */
export interface SignerStateStore {
  /** The last saved state, or null when none was ever saved. */
  load(): Promise<SignerState | null>;
  /** Saves durably; resolves only once a crash can no longer lose it. */
  save(state: SignerState): Promise<void>;
}

/** A state that has signed nothing. */
export function initialSignerState(): SignerState {
  return {
    height: 0,
    round: 0,
    step: 0,
    signBytesHash: "",
    signature: new Uint8Array(),
    lockedRound: -1,
    lockProof: null,
  };
}

/** Result of {@link guardedSign}. */
export type GuardedSignResult =
  | { readonly ok: true; readonly signature: Uint8Array; readonly state: SignerState }
  | { readonly ok: false; readonly reason: string };

function cmp(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/**
 * Signs `bytes` at (height, round, step) unless that conflicts with `state`: an earlier
 * (height, round, step) is refused; the same one is allowed only for identical bytes
 * (the stored signature is returned). The new state carries the caller's lock.
 *
 * @example
 * ```ts
 * import { guardedSign, initialSignerState } from "./signer_state.ts";
 * import { simSigner } from "./signing.ts";
 * const r = guardedSign(simSigner("w", "a"), initialSignerState(), 1, 0, 2, new Uint8Array([1]),
 *   { lockedRound: -1, lockProof: null });
 * r.ok; // true
 * ```
 */
export function guardedSign(
  signer: Signer,
  state: SignerState,
  height: number,
  round: number,
  step: number,
  bytes: Uint8Array,
  lock: { lockedRound: number; lockProof: LockProof | null },
): GuardedSignResult {
  const order = cmp([height, round, step], [state.height, state.round, state.step]);
  const hash = hashHex(bytes);
  if (order < 0) {
    return {
      ok: false,
      reason: `(${height}, ${round}, ${step}) is before the last signed ` +
        `(${state.height}, ${state.round}, ${state.step})`,
    };
  }
  if (order === 0) {
    if (hash !== state.signBytesHash) {
      return {
        ok: false,
        reason: `(${height}, ${round}, ${step}) was already signed for different bytes`,
      };
    }
    return { ok: true, signature: state.signature, state };
  }
  const signature = signer.sign(bytes);
  return {
    ok: true,
    signature,
    state: { height, round, step, signBytesHash: hash, signature, ...lock },
  };
}

/** Canonical CBOR of a signer state (the `signer_state.cbor` file). */
export function encodeSignerState(state: SignerState): Uint8Array {
  return encodeCanonical({
    version: 1,
    height: state.height,
    round: state.round,
    step: state.step,
    sign_bytes_hash: state.signBytesHash,
    signature: state.signature,
    locked_round: state.lockedRound,
    lock_proof: state.lockProof as unknown as null,
  });
}

function need<T>(ok: boolean, field: string, value: T): T {
  if (!ok) {
    throw new BftError("SIGNER_STATE_FIELD", `signer state field "${field}" is missing or bad`, {
      field,
    });
  }
  return value;
}

/** Parses {@link encodeSignerState} bytes; a bad field throws `SIGNER_STATE_FIELD` naming it. */
export function decodeSignerState(bytes: Uint8Array): SignerState {
  const raw = decodeCbor(bytes) as Record<string, unknown>;
  need(raw !== null && typeof raw === "object", "(root)", 0);
  need(raw.version === 1, "version", 0);
  const int = (f: string, min: number) => {
    const v = raw[f];
    return need(typeof v === "number" && Number.isSafeInteger(v) && v >= min, f, v as number);
  };
  let lockProof: LockProof | null = null;
  if (raw.lock_proof !== null && raw.lock_proof !== undefined) {
    const lp = raw.lock_proof as Record<string, unknown>;
    const proposal = parseMessage(lp?.proposal);
    need(typeof proposal === "object" && proposal.kind === "proposal", "lock_proof.proposal", 0);
    need(Array.isArray(lp.prevotes), "lock_proof.prevotes", 0);
    const prevotes = (lp.prevotes as unknown[]).map((v, i) => {
      const m = parseMessage({ kind: "vote", ...(v as object) });
      return need(typeof m === "object" && m.kind === "vote", `lock_proof.prevotes[${i}]`, m) as {
        vote: Vote;
        signature: Uint8Array;
      };
    });
    lockProof = {
      proposal: proposal as LockProof["proposal"],
      prevotes: prevotes.map((m) => ({ vote: m.vote, signature: m.signature })),
    };
  }
  return {
    height: int("height", 0),
    round: int("round", 0),
    step: int("step", 0),
    signBytesHash: need(
      typeof raw.sign_bytes_hash === "string",
      "sign_bytes_hash",
      raw.sign_bytes_hash as string,
    ),
    signature: need(raw.signature instanceof Uint8Array, "signature", raw.signature as Uint8Array),
    lockedRound: int("locked_round", -1),
    lockProof,
  };
}

/**
 * A store kept in memory (the simulator's "disk": the object survives a simulated
 * crash). `save` is synchronous in effect; `saved` counts writes.
 *
 * @example
 * ```ts
 * import { MemorySignerStateStore } from "./signer_state.ts";
 * const store = new MemorySignerStateStore();
 * store.current; // null until the first save
 * ```
 */
export class MemorySignerStateStore implements SignerStateStore {
  /** The persisted state. */
  current: SignerState | null = null;
  /** Number of saves. */
  saved = 0;
  /** Returns {@link current}. */
  load(): Promise<SignerState | null> {
    return Promise.resolve(this.current);
  }
  /** Replaces {@link current}. */
  save(state: SignerState): Promise<void> {
    this.current = state;
    this.saved++;
    return Promise.resolve();
  }
}
