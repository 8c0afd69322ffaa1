/**
 * Reading pack segments (private to `pack.ts`): a sequential scan with a bounded
 * buffer that finds every complete group and the first byte that is not part of
 * one, positional reads of one payload, and the payload check of one group.
 * @module
 */
import { hashBytes } from "./hash.ts";
import {
  groupSum,
  LENGTH_PREFIX_BYTES,
  namedDigest,
  type ParsedEntry,
  parseEntry,
} from "./_pack_format.ts";

/** Bytes the scanner asks the OS for at a time (entries larger than this are read whole). */
export const SCAN_CHUNK_BYTES = 1 << 20;

/** A blob or named entry found by a scan; `off` is the payload's offset in the file. */
export interface ScannedEntry {
  /** Entry kind. */
  kind: "blob" | "named";
  /** Blob address or entry name. */
  id: string;
  /** The entry's 32-byte digest (the blob address, or the named digest). */
  digest: Uint8Array;
  /** File offset of the payload. */
  off: number;
  /** Payload length. */
  length: number;
}

/** A group whose commit marker is complete and matches. */
export interface ScannedGroup {
  /** Height in the commit marker. */
  height: number;
  /** File offset of the group's first byte. */
  start: number;
  /** File offset just past the commit marker. */
  end: number;
  /** The group's entries, in file order. */
  entries: ScannedEntry[];
}

/** What a scan found in one segment. */
export interface SegmentScan {
  /** Complete, matching groups in file order. */
  groups: ScannedGroup[];
  /** Offset just past the last complete group: everything from here on is not committed. */
  validEnd: number;
  /** File size seen by the scan. */
  size: number;
  /** The first thing wrong after `validEnd`, or null when the file ends cleanly. */
  problem: { offset: number; reason: string } | null;
}

class SequentialReader {
  #file: Deno.FsFile;
  #buf = new Uint8Array(0);
  #pos = 0;
  #eof = false;
  /** File offset of the next byte {@link take} returns. */
  offset = 0;

  readonly #size: number;

  constructor(file: Deno.FsFile, size: number) {
    this.#file = file;
    this.#size = size;
  }

  /** Bytes buffered and not yet taken. */
  get available(): number {
    return this.#buf.length - this.#pos;
  }

  get #available(): number {
    return this.#buf.length - this.#pos;
  }

  /** The next `n` bytes if they are buffered already, else undefined (nothing taken). */
  takeBuffered(n: number): Uint8Array | undefined {
    if (this.#available < n) return undefined;
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.offset += n;
    return out;
  }

  async #fill(n: number): Promise<void> {
    while (this.#available < n && !this.#eof) {
      // Never more than the file still holds (plus one byte, to see its end).
      const left = this.#size - this.offset - this.#available + 1;
      const chunk = new Uint8Array(
        Math.max(n - this.#available, Math.min(SCAN_CHUNK_BYTES, Math.max(1, left))),
      );
      const got = await this.#file.read(chunk);
      if (got === null) {
        this.#eof = true;
        break;
      }
      const rest = this.#buf.subarray(this.#pos);
      const next = new Uint8Array(rest.length + got);
      next.set(rest);
      next.set(chunk.subarray(0, got), rest.length);
      this.#buf = next;
      this.#pos = 0;
    }
  }

  /** Whether no byte is left. */
  async atEnd(): Promise<boolean> {
    if (this.#available > 0) return false;
    await this.#fill(1);
    return this.#available === 0;
  }

  /** The next `n` bytes, or null when the file ends first. */
  async take(n: number): Promise<Uint8Array | null> {
    // Most entries are already buffered: skip the read path (and its awaits) for them.
    if (this.#available < n) await this.#fill(n);
    if (this.#available < n) return null;
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.offset += n;
    return out;
  }
}

/**
 * Scans a segment from its first byte; one entry at a time is held in memory (an entry
 * is never longer than the file). Structure, entry bounds, the commit marker's
 * count, strictly rising heights (above `afterHeight`) and the group sum over the
 * entries' recorded digests are checked; payload bytes are not hashed (see
 * {@link checkGroupPayloads}). `startAt` (a group boundary found by an earlier scan)
 * skips the groups before it: a read-only view re-scans only what was appended since.
 */
export async function scanSegment(
  path: string,
  afterHeight: number,
  startAt = 0,
): Promise<SegmentScan> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const r = new SequentialReader(file, size);
    if (startAt > 0) {
      await file.seek(startAt, Deno.SeekMode.Start);
      r.offset = startAt;
    }
    const groups: ScannedGroup[] = [];
    let pending: ScannedEntry[] = [];
    let groupStart = startAt;
    let last = afterHeight;
    const fail = (offset: number, reason: string): SegmentScan => ({
      groups,
      validEnd: groupStart,
      size,
      problem: { offset, reason },
    });
    while (true) {
      const at = r.offset;
      if (r.available === 0 && (await r.atEnd())) {
        if (pending.length > 0) return fail(at, "group without a commit marker");
        return { groups, validEnd: groupStart, size, problem: null };
      }
      // Buffered bytes are taken without an await: most entries are (see SCAN_CHUNK_BYTES).
      const prefix = r.takeBuffered(LENGTH_PREFIX_BYTES) ?? await r.take(LENGTH_PREFIX_BYTES);
      if (!prefix) return fail(at, "incomplete length prefix");
      const len = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0);
      // Bounded by what the file holds, not by today's maxEntryBytes: a store reopened
      // with a smaller limit must not cut entries written under a larger one.
      if (len === 0 || len > size - r.offset) {
        return fail(at, `entry length ${len} does not fit in the segment (${size} bytes)`);
      }
      const item = r.takeBuffered(len) ?? await r.take(len);
      if (!item) return fail(at, `incomplete entry (${len} bytes announced)`);
      const e: ParsedEntry | string = parseEntry(item);
      if (typeof e === "string") return fail(at, e);
      if (e.kind !== "commit") {
        const id = e.kind === "blob" ? e.hash : e.name;
        const off = at + LENGTH_PREFIX_BYTES + e.payloadOff;
        pending.push({ kind: e.kind, id, digest: e.digest, off, length: e.length });
        continue;
      }
      if (e.count !== pending.length) {
        return fail(at, `commit marker counts ${e.count} entries, the group has ${pending.length}`);
      }
      if (e.height <= last) {
        return fail(at, `commit height ${e.height} does not rise above ${last}`);
      }
      if (groupSum(e.height, pending.map((p) => p.digest)) !== e.sum) {
        return fail(at, `group sum of height ${e.height} does not match`);
      }
      groups.push({ height: e.height, start: groupStart, end: r.offset, entries: pending });
      last = e.height;
      pending = [];
      groupStart = r.offset;
    }
  } finally {
    file.close();
  }
}

/** Reads exactly `length` bytes at `offset` (a bounded read, never the whole file). */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array | null> {
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(out.subarray(got));
    if (n === null) return null;
    got += n;
  }
  return out;
}

/** Digest that a payload must have for `entry`. */
export function payloadDigest(entry: Pick<ScannedEntry, "kind" | "id">, bytes: Uint8Array) {
  return entry.kind === "blob" ? hashBytes(bytes) : namedDigest(entry.id, bytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `bytes` hash to the digest recorded for `entry`. */
export function payloadMatches(entry: ScannedEntry, bytes: Uint8Array): boolean {
  return sameBytes(payloadDigest(entry, bytes), entry.digest);
}

/**
 * Re-hashes every payload of `group`; returns the first entry whose bytes do not
 * match their recorded digest (or cannot be read), else null.
 */
export async function checkGroupPayloads(
  path: string,
  group: ScannedGroup,
): Promise<ScannedEntry | null> {
  const file = await Deno.open(path, { read: true });
  try {
    for (const e of group.entries) {
      const bytes = await readAt(file, e.off, e.length);
      if (!bytes || !payloadMatches(e, bytes)) return e;
    }
    return null;
  } finally {
    file.close();
  }
}
