/**
 * Byte layout of pack segments (private to `pack.ts`; the README's "Pack segments"
 * section is the reader-facing description). An entry is a 4-byte big-endian length
 * followed by one canonical CBOR map; a group of entries ends with a commit marker
 * whose `sum` binds the group's height and every entry's digest.
 * @module
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { AwrError } from "../errors.ts";
import { decodeCbor, encodeCanonical } from "./cbor.ts";
import { fromHex, toHex } from "./hash.ts";

/** Version written in every commit marker (`v`). */
export const PACK_FORMAT_VERSION = 1;
/** Bytes of the big-endian length prefix in front of every entry. */
export const LENGTH_PREFIX_BYTES = 4;
/** Segment file names: 20-digit sequence number and this suffix. */
export const SEGMENT_SUFFIX = ".pack";
/** Longest entry name in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256;

const SEGMENT_RE = /^(\d{20})\.pack$/;
const HASH_RE = /^[0-9a-f]{64}$/;
const textEncoder = new TextEncoder();

/** Error raised by the pack store; `code` says which rule broke. */
export class PackError extends AwrError {}

/** File name of segment `seq`. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, "0")}${SEGMENT_SUFFIX}`;
}

/** Sequence number of a segment file name, or null for any other file. */
export function segmentSeq(name: string): number | null {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** Whether `hash` is a lowercase 64-hex BLAKE3 address. */
export function isHash(hash: string): boolean {
  return HASH_RE.test(hash);
}

/** Digest of a named entry: BLAKE3(UTF-8 name || 0x00 || bytes), so the name is bound too. */
export function namedDigest(name: string, bytes: Uint8Array): Uint8Array {
  return blake3.create({}).update(textEncoder.encode(name)).update(new Uint8Array([0]))
    .update(bytes).digest();
}

/** Group checksum: BLAKE3(height as 8-byte big-endian || each entry's 32-byte digest). */
export function groupSum(height: number, digests: Uint8Array[]): string {
  const h = blake3.create({});
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(height));
  h.update(head);
  for (const d of digests) h.update(d);
  return toHex(h.digest());
}

/** Length-prefixes one canonical CBOR item. */
export function frame(item: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + item.length);
  new DataView(out.buffer).setUint32(0, item.length);
  out.set(item, LENGTH_PREFIX_BYTES);
  return out;
}

/** Canonical CBOR of a blob entry: `{b, h, k: "blob"}`. */
export function encodeBlob(hash: string, bytes: Uint8Array): Uint8Array {
  return encodeCanonical({ k: "blob", h: hash, b: bytes });
}

/** Canonical CBOR of a named entry: `{b, k: "named", n, s}` (`s` = hex {@link namedDigest}). */
export function encodeNamed(name: string, digest: Uint8Array, bytes: Uint8Array): Uint8Array {
  return encodeCanonical({ k: "named", n: name, s: toHex(digest), b: bytes });
}

/** Canonical CBOR of a commit marker. */
export function encodeCommit(height: number, count: number, sum: string): Uint8Array {
  return encodeCanonical({ k: "commit", v: PACK_FORMAT_VERSION, height, n: count, sum });
}

/**
 * Offset of the payload inside a blob or named entry's CBOR item. Canonical key order
 * puts `b` first: map head, `0x61 0x62`, then the byte-string head. Returns -1 when
 * the item does not start that way.
 */
export function payloadOffset(item: Uint8Array): number {
  if (item.length < 4 || item[1] !== 0x61 || item[2] !== 0x62 || item[3] >> 5 !== 2) return -1;
  const ai = item[3] & 0x1f;
  if (ai < 24) return 4;
  if (ai === 24) return 5;
  if (ai === 25) return 6;
  if (ai === 26) return 8;
  return -1;
}

/** One parsed entry (payload bytes not kept). */
export type ParsedEntry =
  | { kind: "blob"; hash: string; digest: Uint8Array; payloadOff: number; length: number }
  | { kind: "named"; name: string; digest: Uint8Array; payloadOff: number; length: number }
  | { kind: "commit"; height: number; count: number; sum: string };

/**
 * Parses one entry's CBOR item; `payloadOff` is relative to the item's first byte.
 * Returns a reason string when the item is not a well-formed entry.
 */
export function parseEntry(item: Uint8Array): ParsedEntry | string {
  let v: unknown;
  try {
    v = decodeCbor(item);
  } catch (err) {
    return `not one CBOR item (${err instanceof Error ? err.message : String(err)})`;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "entry is not a map";
  const e = v as Record<string, unknown>;
  if (e.k === "commit") {
    const { height, n, sum } = e;
    if (e.v !== PACK_FORMAT_VERSION) return `commit marker version ${String(e.v)} unknown`;
    if (!Number.isSafeInteger(height) || (height as number) < 0) return "commit height invalid";
    if (!Number.isSafeInteger(n) || (n as number) < 0) return "commit entry count invalid";
    if (typeof sum !== "string" || !isHash(sum)) return "commit sum invalid";
    return { kind: "commit", height: height as number, count: n as number, sum };
  }
  const off = payloadOffset(item);
  if (!(e.b instanceof Uint8Array) || off < 0) return "entry payload `b` missing or misplaced";
  const length = e.b.length;
  if (off + length > item.length) return "entry payload overruns the entry";
  if (e.k === "blob") {
    if (typeof e.h !== "string" || !isHash(e.h)) return "blob entry address `h` invalid";
    return { kind: "blob", hash: e.h, digest: fromHex(e.h), payloadOff: off, length };
  }
  if (e.k === "named") {
    if (typeof e.n !== "string" || e.n.length === 0) return "named entry name `n` invalid";
    if (typeof e.s !== "string" || !isHash(e.s)) return "named entry digest `s` invalid";
    return { kind: "named", name: e.n, digest: fromHex(e.s), payloadOff: off, length };
  }
  return `unknown entry kind ${JSON.stringify(e.k)?.slice(0, 40)}`;
}
