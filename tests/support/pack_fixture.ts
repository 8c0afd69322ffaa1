/**
 * Groups shaped like an execution height (a few hundred-byte blobs, a record and the
 * execution state) for the pack store's tests and bench.
 * @module
 */
import { hashHex } from "../../src/storage/hash.ts";
import type { PackGroup } from "../../src/storage/pack.ts";

const te = new TextEncoder();

/** A blob with its address. */
export function blobOf(text: string): { hash: string; bytes: Uint8Array } {
  const bytes = te.encode(text);
  return { hash: hashHex(bytes), bytes };
}

/** Name of a height's record entry. */
export function recordName(height: number): string {
  return `record/${String(height).padStart(20, "0")}`;
}

/** Name of the execution state entry. */
export const STATE_NAME = "execution-state";

/**
 * Group of `height` with `blobs` distinct blobs of about `blobBytes` bytes each, plus
 * the height's record and the execution state (whose bytes name the height).
 */
export function heightGroup(height: number, blobs: number, blobBytes = 300, salt = ""): PackGroup {
  const out: PackGroup = { height, blobs: [], named: [] };
  for (let i = 0; i < blobs; i++) {
    const head = `h${height}/b${i}${salt}:`;
    (out.blobs as { hash: string; bytes: Uint8Array }[]).push(
      blobOf(head + "x".repeat(Math.max(0, blobBytes - head.length))),
    );
  }
  (out.named as { name: string; bytes: Uint8Array }[]).push(
    { name: recordName(height), bytes: te.encode(`record of ${height}`) },
    { name: STATE_NAME, bytes: te.encode(`state after ${height}`) },
  );
  return out;
}

/** Offset of `needle` in `hay`, or -1. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
