/**
 * The signed envelope every gossip message travels in. Besides the signatures inside a
 * vote or proposal, the sending node signs the whole frame with its Ed25519 key, so a
 * frame can be traced to exactly one key. Gossipsub itself signs nothing
 * (`StrictNoSign`, `_libp2p.ts`): this signature is the origin's proof.
 *
 * Wire form (canonical CBOR map): `{v: 2, world, kind, from, key, n, body, sig}` where
 * `kind` is `consensus` | `actions` | `heads`, `from` the sender's validator id ("" for
 * a node that is no validator), `key` its 32-byte public key, `n` a number the sender
 * never repeats (a per-process counter from a random start), `body` the CBOR payload
 * and `sig` the Ed25519 signature over {@link envelopeSignBytes}. Gossipsub's message id
 * is the frame's sha256, and it refuses to publish an id it saw in the last 2 minutes:
 * without `n`, a vote relayed again unchanged (the engines' relay for peers that missed
 * it) or an unchanged head would be the same bytes, and never sent. Version 1 frames
 * (no `n`, from before gossipsub stopped signing) are `MALFORMED`.
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

/** Bytes the sender signs: domain, world, kind, sender, `n` and the body's BLAKE3. */
export function envelopeSignBytes(
  world: string,
  kind: string,
  from: string,
  keyHex: string,
  n: number,
  body: Uint8Array,
): Uint8Array {
  return encodeFlatArray(["awr-net-envelope", world, kind, from, keyHex, n, hashHex(body)]);
}

// The next envelope's `n`: a random start below 2^52, then one more per envelope.
let nextN = Math.floor(Math.random() * 2 ** 52);

/** The `n` of the next envelope this process seals (never the same twice). */
function takeN(): number {
  const n = nextN;
  nextN = nextN + 1 >= Number.MAX_SAFE_INTEGER ? 0 : nextN + 1;
  return n;
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
  const n = takeN();
  const sig = s.signer.sign(envelopeSignBytes(s.world, kind, s.from, key, n, bodyBytes));
  return encodeCanonical({
    v: 2,
    world: s.world,
    kind,
    from: s.from,
    key: s.publicKey,
    n,
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
  if (e.v !== 2 || typeof e.world !== "string" || typeof e.from !== "string") return "MALFORMED";
  if (typeof e.n !== "number" || !Number.isSafeInteger(e.n) || e.n < 0) return "MALFORMED";
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
  const bytes = envelopeSignBytes(e.world, kind, e.from, key, e.n, e.body);
  if (!verifierFor(key).verify("k", bytes, e.sig)) return "BAD_SIGNATURE";
  let body: unknown;
  try {
    body = decodeCbor(e.body);
  } catch {
    return "BAD_BODY";
  }
  return { world: e.world, kind, from: e.from, key, body };
}
