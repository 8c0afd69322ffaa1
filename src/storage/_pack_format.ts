/**
 * Byte layout of pack segments (private to `pack.ts`; the README's "Pack segments"
 * section is the reader-facing description). An entry is a 4-byte big-endian length
 * followed by one canonical CBOR map; a group of entries ends with a commit marker
 * whose `sum` binds the group's height and every entry's digest.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { blake3 } from "npm:@noble/hashes@2.4.0/blake3.js";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { decodeCbor, encodeCanonical } from "./cbor.ts";
import { toHex } from "./hash.ts";

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
export class PackError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

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
  // One buffer, hashed once: many small updates cost more than the copy.
  const buf = new Uint8Array(8 + 32 * digests.length);
  new DataView(buf.buffer).setBigUint64(0, BigInt(height));
  for (let i = 0; i < digests.length; i++) buf.set(digests[i], 8 + 32 * i);
  return toHex(blake3(buf));
}

/** Length-prefixes one canonical CBOR item. */
export function frame(item: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + item.length);
  new DataView(out.buffer).setUint32(0, item.length);
  out.set(item, LENGTH_PREFIX_BYTES);
  return out;
}

/**
 * Canonical CBOR of a blob entry: `{b, h, k: "blob"}`, built by hand because its
 * layout is fixed (the general encoder cost most of a group's CPU time); a unit test
 * pins it to {@link encodeCanonical}'s bytes. `hash` must be 64 lowercase hex.
 */
export function encodeBlob(hash: string, bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const head = n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(3 + head + n + 75);
  out[0] = 0xa3;
  out[1] = 0x61;
  out[2] = 0x62;
  const v = new DataView(out.buffer);
  if (head === 1) out[3] = 0x40 | n;
  else if (head === 2) out.set([0x58, n], 3);
  else if (head === 3) (out[3] = 0x59), v.setUint16(4, n);
  else (out[3] = 0x5a), v.setUint32(4, n);
  let o = 3 + head;
  out.set(bytes, o);
  o += n;
  out.set(BLOB_TAIL_HEAD, o);
  o += 4;
  for (let i = 0; i < 64; i++) out[o + i] = hash.charCodeAt(i);
  out.set(BLOB_TAIL_END, o + 64);
  return out;
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
 * Where the payload sits inside a blob or named entry's CBOR item. Canonical key order
 * puts `b` first: map head, `0x61 0x62`, then the byte-string head. Null when the item
 * does not start that way (a commit marker, or damage).
 */
export function payloadHead(item: Uint8Array): { off: number; length: number } | null {
  if (item.length < 4 || item[1] !== 0x61 || item[2] !== 0x62 || item[3] >> 5 !== 2) return null;
  const ai = item[3] & 0x1f;
  if (ai < 24) return { off: 4, length: ai };
  const v = new DataView(item.buffer, item.byteOffset, item.byteLength);
  if (ai === 24 && item.length >= 5) return { off: 5, length: item[4] };
  if (ai === 25 && item.length >= 6) return { off: 6, length: v.getUint16(4) };
  if (ai === 26 && item.length >= 8) return { off: 8, length: v.getUint32(4) };
  return null;
}

/** Offset of the payload inside an entry's CBOR item (see {@link payloadHead}); -1 if none. */
export function payloadOffset(item: Uint8Array): number {
  return payloadHead(item)?.off ?? -1;
}

const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[97 + i] = 10 + i;

// 64 lowercase hex characters to 32 bytes (callers checked the form with isHash).
function hexDigest(hex: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = (NIBBLE[hex.charCodeAt(2 * i)] << 4) | NIBBLE[hex.charCodeAt(2 * i + 1)];
  }
  return out;
}

// Canonical bytes after a blob's payload: "h", a 64-char text head, 64 hex, "k", "blob".
const BLOB_TAIL_HEAD = [0x61, 0x68, 0x78, 0x40];
const BLOB_TAIL_END = [0x61, 0x6b, 0x64, 0x62, 0x6c, 0x6f, 0x62];

// The address of a canonical blob entry read straight from its bytes (the common case
// at start-up, where decoding each entry cost most of the scan); null: decode instead.
function blobTail(item: Uint8Array, at: number): string | null {
  if (item.length - at !== 75) return null;
  for (let i = 0; i < 4; i++) if (item[at + i] !== BLOB_TAIL_HEAD[i]) return null;
  for (let i = 0; i < 7; i++) if (item[at + 68 + i] !== BLOB_TAIL_END[i]) return null;
  let hash = "";
  for (let i = at + 4; i < at + 68; i++) {
    const c = item[i];
    if (c >= 128 || NIBBLE[c] < 0) return null;
    hash += String.fromCharCode(c);
  }
  return hash;
}

function decodeOrReason(bytes: Uint8Array): unknown {
  try {
    return decodeCbor(bytes);
  } catch (err) {
    return `not one CBOR item (${err instanceof Error ? err.message : String(err)})`;
  }
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
  const head = payloadHead(item);
  if (!head) return parseMarker(item);
  const { off, length } = head;
  const pairs = item[0] - 0xa0;
  if (pairs !== 3 && pairs !== 4) return "entry is not a 3- or 4-key map";
  if (off + length > item.length) return "entry payload overruns the entry";
  const hash = pairs === 3 ? blobTail(item, off + length) : null;
  if (hash) return { kind: "blob", hash, digest: hexDigest(hash), payloadOff: off, length };
  // Decode the keys after the payload only (a map of the remaining pairs): the scan
  // at start-up then never copies payload bytes.
  const rest = new Uint8Array(1 + item.length - off - length);
  rest[0] = 0xa0 + pairs - 1;
  rest.set(item.subarray(off + length), 1);
  const v = decodeOrReason(rest);
  if (typeof v === "string") return v;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "entry is not a map";
  const e = v as Record<string, unknown>;
  if (e.k === "blob" && pairs === 3) {
    if (typeof e.h !== "string" || !isHash(e.h)) return "blob entry address `h` invalid";
    return { kind: "blob", hash: e.h, digest: hexDigest(e.h), payloadOff: off, length };
  }
  if (e.k === "named" && pairs === 4) {
    if (typeof e.n !== "string" || e.n.length === 0) return "named entry name `n` invalid";
    if (typeof e.s !== "string" || !isHash(e.s)) return "named entry digest `s` invalid";
    return { kind: "named", name: e.n, digest: hexDigest(e.s), payloadOff: off, length };
  }
  return `unknown entry kind ${JSON.stringify(e.k)?.slice(0, 40)} with ${pairs} keys`;
}

function parseMarker(item: Uint8Array): ParsedEntry | string {
  const v = decodeOrReason(item);
  if (typeof v === "string") return v;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "entry is not a map";
  const e = v as Record<string, unknown>;
  if (e.k !== "commit") return "entry has no payload `b` first and is not a commit marker";
  const { height, n, sum } = e;
  if (e.v !== PACK_FORMAT_VERSION) return `commit marker version ${String(e.v)} unknown`;
  if (!Number.isSafeInteger(height) || (height as number) < 0) return "commit height invalid";
  if (!Number.isSafeInteger(n) || (n as number) < 0) return "commit entry count invalid";
  if (typeof sum !== "string" || !isHash(sum)) return "commit sum invalid";
  return { kind: "commit", height: height as number, count: n as number, sum };
}
