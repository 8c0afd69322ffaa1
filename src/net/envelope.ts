/**
 * The signed envelope every gossip message travels in. Besides the signatures inside a
 * vote or proposal, the sending node signs the whole frame with its Ed25519 key, so a
 * frame can be traced to exactly one key, which must also be the libp2p key of the peer
 * that published it (a peer id is derived from the same key).
 *
 * Wire form (canonical CBOR map): `{v: 1, world, kind, from, key, body, sig}` where
 * `kind` is `consensus` | `actions` | `heads`, `from` the sender's validator id ("" for
 * a node that is no validator), `key` its 32-byte public key, `body` the CBOR payload
 * and `sig` the Ed25519 signature over {@link envelopeSignBytes}.
 * @module
 */
import { encodeFlatArray, type Signer } from "../consensus/bft/signing.ts";
import { decodeCbor, encodeCanonical } from "../storage/cbor.ts";
import { hashHex, toHex } from "../storage/hash.ts";
import { ed25519Verifier } from "./keys.ts";

/** What an envelope carries. */
export type EnvelopeKind = "consensus" | "actions" | "heads";

const KINDS: readonly EnvelopeKind[] = ["consensus", "actions", "heads"];

/** Largest gossip frame accepted or sent (bytes); bigger ones are rejected unread. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Why a frame was dropped (counted per peer, in status and /metrics). */
export type RejectCode =
  | "TOO_LARGE"
  | "MALFORMED"
  | "UNSIGNED"
  | "BAD_SIGNATURE"
  | "UNKNOWN_VALIDATOR"
  | "WRONG_WORLD"
  | "PEER_MISMATCH"
  | "BAD_BODY"
  | "BAD_CERTIFICATE";

/** Every reject code, in a stable order (metrics print all of them). */
export const REJECT_CODES: readonly RejectCode[] = [
  "TOO_LARGE",
  "MALFORMED",
  "UNSIGNED",
  "BAD_SIGNATURE",
  "UNKNOWN_VALIDATOR",
  "WRONG_WORLD",
  "PEER_MISMATCH",
  "BAD_BODY",
  "BAD_CERTIFICATE",
];

/** A verified envelope. */
export interface Envelope {
  readonly world: string;
  readonly kind: EnvelopeKind;
  /** Validator id of the sender ("" = not a validator). */
  readonly from: string;
  /** Hex public key of the sender. */
  readonly key: string;
  /** The decoded body (still untrusted: checked by the kind's handler). */
  readonly body: unknown;
}

/** The sender of envelopes: its validator id ("" for none), key and signer. */
export interface EnvelopeSender {
  readonly world: string;
  readonly from: string;
  readonly publicKey: Uint8Array;
  readonly signer: Signer;
}

/** Bytes the sender signs: domain, world, kind, sender and the body's BLAKE3. */
export function envelopeSignBytes(
  world: string,
  kind: string,
  from: string,
  keyHex: string,
  body: Uint8Array,
): Uint8Array {
  return encodeFlatArray(["awr-net-envelope", world, kind, from, keyHex, hashHex(body)]);
}

/**
 * Encodes and signs `body` (any CBOR value) as one frame.
 *
 * @example
 * ```ts ignore
 * const frame = sealEnvelope(sender, "heads", { height: 3 });
 * ```
 */
export function sealEnvelope(s: EnvelopeSender, kind: EnvelopeKind, body: unknown): Uint8Array {
  const bodyBytes = encodeCanonical(body);
  const key = toHex(s.publicKey);
  const sig = s.signer.sign(envelopeSignBytes(s.world, kind, s.from, key, bodyBytes));
  return encodeCanonical({
    v: 1,
    world: s.world,
    kind,
    from: s.from,
    key: s.publicKey,
    body: bodyBytes,
    sig,
  });
}

/** What {@link openEnvelope} checks against. */
export interface EnvelopeCheck {
  readonly world: string;
  /** Validator id → hex public key (the genesis set). */
  readonly validators: ReadonlyMap<string, string>;
  /** Hex public key of the libp2p peer that published the frame, when known. */
  readonly publisherKey?: string | null;
}

// Verifiers per sender key, bounded (a flood of fresh keys only costs the cache).
const verifiers = new Map<string, ReturnType<typeof ed25519Verifier>>();
const MAX_VERIFIERS = 1024;

function verifierFor(keyHex: string): ReturnType<typeof ed25519Verifier> {
  let v = verifiers.get(keyHex);
  if (!v) {
    v = ed25519Verifier([{ id: "k", publicKey: keyHex }]);
    if (verifiers.size >= MAX_VERIFIERS) verifiers.clear();
    verifiers.set(keyHex, v);
  }
  return v;
}

const isBytes = (x: unknown, n?: number): x is Uint8Array =>
  x instanceof Uint8Array && (n === undefined || x.length === n);

/**
 * Decodes and verifies one frame; never throws. A consensus envelope must come from a
 * validator of the set with its listed key.
 */
export function openEnvelope(frame: Uint8Array, c: EnvelopeCheck): Envelope | RejectCode {
  if (!(frame instanceof Uint8Array) || frame.length > MAX_FRAME_BYTES) return "TOO_LARGE";
  let raw: unknown;
  try {
    raw = decodeCbor(frame);
  } catch {
    return "MALFORMED";
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || isBytes(raw)) {
    return "MALFORMED";
  }
  const e = raw as Record<string, unknown>;
  if (e.v !== 1 || typeof e.world !== "string" || typeof e.from !== "string") return "MALFORMED";
  if (!KINDS.includes(e.kind as EnvelopeKind) || !isBytes(e.body) || !isBytes(e.key, 32)) {
    return "MALFORMED";
  }
  if (e.sig === undefined || e.sig === null) return "UNSIGNED";
  if (!isBytes(e.sig, 64)) return "MALFORMED";
  if (e.world !== c.world) return "WRONG_WORLD";
  const key = toHex(e.key);
  if (c.publisherKey && c.publisherKey !== key) return "PEER_MISMATCH";
  const kind = e.kind as EnvelopeKind;
  if (e.from !== "" || kind === "consensus") {
    if (c.validators.get(e.from) !== key) return "UNKNOWN_VALIDATOR";
  }
  const bytes = envelopeSignBytes(e.world, kind, e.from, key, e.body);
  if (!verifierFor(key).verify("k", bytes, e.sig)) return "BAD_SIGNATURE";
  let body: unknown;
  try {
    body = decodeCbor(e.body);
  } catch {
    return "BAD_BODY";
  }
  return { world: e.world, kind, from: e.from, key, body };
}
