/**
 * The write side of a pack store: appending a group's bytes to the current segment,
 * rolling to the next segment when one would grow past its limit, the fdatasync (and
 * folder fsync for a new segment file), and cutting a failed append back. After an
 * fsync failure it refuses writes until the store is reopened.
 * @module
 */
import { join } from "../std/path.ts";
import { syncDir } from "./atomic.ts";
import { PackError, segmentName } from "./_pack_format.ts";
import type { PackStoreOptions } from "./_pack_types.ts";

/** Where an appended group landed. */
export interface Appended {
  seq: number;
  /** Byte offset of the group in its segment. */
  start: number;
  /** Whether the group started a new segment file. */
  newSegment: boolean;
}

interface Segment {
  seq: number;
  path: string;
  size: number;
  file: Deno.FsFile | null;
  /** Whether the file's folder entry is known durable (else the next append syncs the folder). */
  entrySynced: boolean;
}

/** Appends groups to the segments of one folder, one caller at a time (the store queues). */
export class SegmentAppender {
  readonly #dir: string;
  readonly #durable: boolean;
  readonly #maxSegmentBytes: number;
  readonly #onSync: PackStoreOptions["onSync"];
  #segment: Segment | null = null;
  #broken: string | null = null;

  /**
   * @param dir the store's folder
   * @param options durability, segment size limit, and the fsync observer (tests)
   */
  constructor(
    dir: string,
    options: { durable: boolean; maxSegmentBytes: number; onSync: PackStoreOptions["onSync"] },
  ) {
    this.#dir = dir;
    this.#durable = options.durable;
    this.#maxSegmentBytes = options.maxSegmentBytes;
    this.#onSync = options.onSync;
  }

  /** Continues the last segment found at open (`size` bytes of complete groups). */
  resume(seq: number, size: number): void {
    // The folder is synced at open, before any append.
    this.#segment = {
      seq,
      path: join(this.#dir, segmentName(seq)),
      size,
      file: null,
      entrySynced: true,
    };
  }

  /** Reports an fsync to the observer (tests count them). */
  noteSync(kind: "file" | "dir", path: string): void {
    this.#onSync?.(kind, path);
  }

  /** Cuts the segment at `path` to `size` bytes (a torn tail found at open). */
  async truncate(path: string, size: number): Promise<void> {
    const f = await Deno.open(path, { write: true });
    try {
      await f.truncate(size);
      if (this.#durable) {
        this.noteSync("file", path);
        await f.syncData();
      }
    } finally {
      f.close();
    }
  }

  /**
   * Appends `bytes` (one encoded group) and makes it durable. A failure cuts the
   * segment back to where it ended; `PACK_BROKEN` once an fsync has failed.
   */
  async append(bytes: Uint8Array): Promise<Appended> {
    this.checkWritable();
    const w = this.#segmentFor(bytes.length);
    const start = w.size;
    const newSegment = !w.entrySynced;
    let syncing = false;
    try {
      w.file ??= await Deno.open(w.path, { append: true, create: true });
      let off = 0;
      while (off < bytes.length) off += await w.file.write(bytes.subarray(off));
      syncing = true;
      if (this.#durable) {
        this.noteSync("file", w.path);
        await w.file.syncData();
        if (newSegment) {
          this.noteSync("dir", this.#dir);
          await syncDir(this.#dir);
        }
      }
      w.entrySynced = true;
    } catch (err) {
      // After a failed fsync the kernel may have dropped the dirty pages: what the file
      // holds is unknown until a reopen scans it, so the store stops taking writes.
      if (syncing) this.#broken = `fsync of ${w.path} failed (${String(err)}); reopen to recover`;
      await this.#undo(w, start, err);
      throw err;
    }
    w.size += bytes.length;
    return { seq: w.seq, start, newSegment };
  }

  /** Throws `PACK_BROKEN` once an fsync failed or a failed append could not be cut back. */
  checkWritable(): void {
    if (this.#broken) {
      throw new PackError("PACK_BROKEN", `pack store ${this.#dir} refuses writes: ${this.#broken}`);
    }
  }

  /** Closes the open segment handle. */
  close(): void {
    this.#segment?.file?.close();
    if (this.#segment) this.#segment.file = null;
  }

  // The segment to append `size` bytes to: the current one, or the next sequence number
  // when the group would push the current one past maxSegmentBytes.
  #segmentFor(size: number): Segment {
    const w = this.#segment;
    if (w && (w.size === 0 || w.size + size <= this.#maxSegmentBytes)) {
      return w;
    }
    w?.file?.close();
    const seq = w ? w.seq + 1 : 1;
    const path = join(this.#dir, segmentName(seq));
    this.#segment = { seq, path, size: 0, file: null, entrySynced: false };
    return this.#segment;
  }

  // A failed append is cut back so the segment ends at the last committed group; if even
  // that fails, the store refuses writes until it is reopened (open cuts the tail then).
  async #undo(w: Segment, start: number, cause: unknown): Promise<void> {
    if (!w.file) return;
    try {
      await w.file.truncate(start);
    } catch {
      this.#broken = `a failed append to ${w.path} could not be cut back (${String(cause)})`;
    }
  }
}
