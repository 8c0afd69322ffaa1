/**
 * Encodes one group (private to `pack.ts`): entries in order (new blobs, then named
 * entries), then the commit marker, as one buffer ready for a single append.
 * @module
 */
import { fromHex, hashHex } from "./hash.ts";
import {
  encodeBlob,
  encodeCommit,
  encodeNamed,
  groupSum,
  isHash,
  LENGTH_PREFIX_BYTES,
  MAX_NAME_BYTES,
  namedDigest,
  PackError,
  payloadOffset,
} from "./_pack_format.ts";
import type { PackGroup } from "./_pack_types.ts";

/** One entry of an encoded group; `rel` is its payload offset from the group start. */
export interface EncodedEntry {
  /** Entry kind. */
  kind: "blob" | "named";
  /** Blob address or entry name. */
  id: string;
  /** Payload offset relative to the group's first byte. */
  rel: number;
  /** Payload length. */
  length: number;
  /** The entry's 32-byte digest. */
  digest: Uint8Array;
}

/** A group ready to append. */
export interface EncodedGroup {
  /** Entries and marker, framed, in file order. */
  bytes: Uint8Array;
  /** The blob and named entries written. */
  entries: EncodedEntry[];
  /** Blobs skipped because they are stored already or repeat within the group. */
  skipped: number;
}

/** Limits and checks that {@link encodeGroup} applies. */
export interface EncodeLimits {
  /** Largest entry (CBOR item) in bytes. */
  maxEntryBytes: number;
  /** Largest group in bytes. */
  maxGroupBytes: number;
  /** Re-hash blobs and refuse a wrong address. */
  verifyBlobHashes: boolean;
}

const textEncoder = new TextEncoder();

/** Encodes `group`, skipping blobs for which `stored(hash)` is true. */
export function encodeGroup(
  group: PackGroup,
  stored: (hash: string) => boolean,
  limits: EncodeLimits,
): EncodedGroup {
  const { height } = group;
  const parts: Uint8Array[] = [];
  const entries: EncodedEntry[] = [];
  let size = 0;
  const add = (e: Omit<EncodedEntry, "rel">, item: Uint8Array) => {
    if (item.length > limits.maxEntryBytes) {
      throw new PackError(
        "PACK_ENTRY_TOO_LARGE",
        `${e.kind} ${e.id} of height ${height} is ${item.length} bytes as an entry; ` +
          `maxEntryBytes is ${limits.maxEntryBytes}`,
        { kind: e.kind, id: e.id, height, bytes: item.length, maxEntryBytes: limits.maxEntryBytes },
      );
    }
    entries.push({ ...e, rel: size + LENGTH_PREFIX_BYTES + payloadOffset(item) });
    // Framed (length-prefixed) when the group is assembled below: one copy, not two.
    parts.push(item);
    size += LENGTH_PREFIX_BYTES + item.length;
  };
  const seen = new Set<string>();
  let skipped = 0;
  for (const { hash, bytes, digest } of group.blobs) {
    if (typeof hash !== "string" || !isHash(hash)) {
      throw new PackError(
        "PACK_BAD_ADDRESS",
        `not a blake3 address: ${String(hash).slice(0, 80)}`,
        {
          hash,
          height,
        },
      );
    }
    if (stored(hash) || seen.has(hash)) {
      skipped++;
      continue;
    }
    if (limits.verifyBlobHashes && hashHex(bytes) !== hash) {
      throw new PackError("PACK_BAD_ADDRESS", `blob bytes do not hash to ${hash}`, {
        hash,
        height,
      });
    }
    seen.add(hash);
    add(
      {
        kind: "blob",
        id: hash,
        length: bytes.length,
        digest: digest?.length === 32 ? digest : fromHex(hash),
      },
      encodeBlob(hash, bytes),
    );
  }
  const names = new Set<string>();
  for (const { name, bytes } of group.named) {
    const utf8 = typeof name === "string" ? textEncoder.encode(name).length : 0;
    if (utf8 === 0 || utf8 > MAX_NAME_BYTES || names.has(name)) {
      throw new PackError(
        "PACK_BAD_NAME",
        `pack entry name ${JSON.stringify(name)} must be 1..${MAX_NAME_BYTES} UTF-8 bytes ` +
          "and appear once per group",
        { name, height },
      );
    }
    names.add(name);
    const digest = namedDigest(name, bytes);
    add(
      { kind: "named", id: name, length: bytes.length, digest },
      encodeNamed(name, digest, bytes),
    );
  }
  const digests = entries.map((e) => e.digest);
  const marker = encodeCommit(height, digests.length, groupSum(height, digests));
  parts.push(marker);
  size += LENGTH_PREFIX_BYTES + marker.length;
  if (size > limits.maxGroupBytes) {
    throw new PackError(
      "PACK_GROUP_TOO_LARGE",
      `pack group of height ${height} is ${size} bytes; maxSegmentBytes is ${limits.maxGroupBytes}`,
      { height, bytes: size, maxSegmentBytes: limits.maxGroupBytes },
    );
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.length);
    bytes.set(p, o + LENGTH_PREFIX_BYTES);
    o += LENGTH_PREFIX_BYTES + p.length;
  }
  return { bytes, entries, skipped };
}
