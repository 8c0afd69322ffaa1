/**
 * Public types and defaults of the pack store (re-exported by `pack.ts`).
 * @module
 */
import { PackError } from "./_pack_format.ts";

/** Options of {@link PackStore.open}; every field has a default in {@link defaultPackOptions}. */
export interface PackStoreOptions {
  /** fdatasync each group and fsync folders (default true). Tests of logic may skip it. */
  durable?: boolean;
  /** A group starts a new segment when it would push the current one past this (64 MiB). */
  maxSegmentBytes?: number;
  /** Largest entry (one CBOR item, i.e. a payload plus ~100 bytes of header), 16 MiB. */
  maxEntryBytes?: number;
  /** Reads in flight at once; more wait their turn (32). Each holds one file handle. */
  maxConcurrentReads?: number;
  /** Re-hash each new blob on commit and refuse a wrong address (default false: the
   * execution core names blobs from these same bytes, and hashing twice costs CPU). */
  verifyBlobHashes?: boolean;
  /** Called just before every fsync (`file`: a segment; `dir`: the pack folder). */
  onSync?: (kind: "file" | "dir", path: string) => void;
}

/** Defaults of {@link PackStoreOptions}. */
export const defaultPackOptions: Readonly<Required<Omit<PackStoreOptions, "onSync">>> = {
  durable: true,
  maxSegmentBytes: 64 * 1024 * 1024,
  maxEntryBytes: 16 * 1024 * 1024,
  maxConcurrentReads: 32,
  verifyBlobHashes: false,
};

/** One height's worth of writes. */
export interface PackGroup {
  /** Height of the group; must rise strictly from one group to the next. */
  height: number;
  /** Blobs with their BLAKE3 addresses; ones already stored are skipped. `digest`, when
   * given, must be the 32 bytes `hash` spells (it saves parsing the hex). */
  blobs: ReadonlyArray<{ hash: string; bytes: Uint8Array; digest?: Uint8Array }>;
  /** Named entries (e.g. the height's record, the execution state); a later group's entry
   * of the same name supersedes this one for {@link PackStore.getNamed}. */
  named: ReadonlyArray<{ name: string; bytes: Uint8Array }>;
}

/** What {@link PackStore.commitGroup} wrote. */
export interface PackCommit {
  /** The group's height. */
  height: number;
  /** Segment file name that holds the group. */
  segment: string;
  /** Offset of the group's first byte in that segment. */
  offset: number;
  /** Bytes appended (entries and marker). */
  bytes: number;
  /** Blobs written, and blobs skipped because they were already stored (or repeated). */
  blobsWritten: number;
  /** See {@link blobsWritten}. */
  blobsSkipped: number;
  /** Whether this commit started a new segment file (and so also fsynced the folder). */
  newSegment: boolean;
}

/** A tail that {@link PackStore.open} cut off. */
export interface PackRecovery {
  /** Segment file name. */
  segment: string;
  /** Where the segment now ends (start of the first uncommitted byte). */
  offset: number;
  /** Bytes removed. */
  cutBytes: number;
  /** Offset of the first bad byte found, and why it is bad. */
  problemOffset: number;
  /** See {@link problemOffset}. */
  reason: string;
}

/** A problem found by {@link PackStore.verifyAll}. */
export interface PackProblem {
  /** Segment file name. */
  segment: string;
  /** File offset of the bad entry (payload offset for a payload mismatch). */
  offset: number;
  /** Height of the group, when known. */
  height: number | null;
  /** Blob address or entry name, when known. */
  id: string | null;
  /** What is wrong. */
  reason: string;
}

/** Checks one numeric option. */
export function positiveInt(value: number, field: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new PackError("PACK_OPTION", `pack option ${field} must be an integer >= ${min}`, {
      field,
      value,
    });
  }
  return value;
}
