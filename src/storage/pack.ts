/**
 * Append-only pack store: one height's blobs, record and execution state become
 * durable together with one fsync (group commit), instead of one file and fsync
 * per blob as in the CAS folder.
 *
 * Layout (README, "Pack segments"): `<dir>/<20-digit sequence>.pack` segments, each a
 * run of groups; a group is length-prefixed canonical CBOR entries (blobs named by
 * the BLAKE3 of their bytes, named entries) closed by a commit marker that carries
 * the height and a BLAKE3 sum over the group. A group without a complete, matching
 * marker was never committed.
 *
 * Crash semantics: when {@link PackStore.commitGroup} resolves, the whole group is on
 * disk (its segment fdatasynced; a segment file it created also has its folder
 * fsynced). Until then nothing of it is visible to readers. After a crash, `open`
 * finds the first byte that is not part of a complete group in the last segment
 * (torn entry, missing or mismatching marker, or payloads of the last group that
 * do not hash to their digests) and truncates the segment there: every group whose
 * commit resolved survives. Damage anywhere else is corruption and stops `open`.
 *
 * Concurrency: one writer (commits are queued and run one at a time); any number of
 * readers in the same process (at most `maxConcurrentReads` reads in flight). Two
 * processes must not open the same folder (the data-dir lock sees to that).
 * @module
 */
import { join } from "../std/path.ts";
import { SerialQueue } from "../std/serial_queue.ts";
import { syncDir } from "./atomic.ts";
import { hashHex } from "./hash.ts";
import { PackError, segmentName } from "./_pack_format.ts";
import { encodeGroup } from "./_pack_group.ts";
import { SegmentAppender } from "./_pack_writer.ts";
import { payloadMatches, readAt, type ScannedEntry } from "./_pack_scan.ts";
import { listSegments, ReadLimiter, recoverSegments, verifySegments } from "./_pack_open.ts";
import {
  defaultPackOptions,
  type PackCommit,
  type PackGroup,
  type PackProblem,
  type PackRecovery,
  type PackStoreOptions,
  positiveInt,
} from "./_pack_types.ts";

export { PACK_FORMAT_VERSION, PackError } from "./_pack_format.ts";
// A deliberate twin of the import list above: this module is the public face of
// the private `_pack_*` files, so it re-exports the types it also uses.
export {
  defaultPackOptions,
  type PackCommit,
  type PackGroup,
  type PackProblem,
  type PackRecovery,
  type PackStoreOptions,
} from "./_pack_types.ts";

interface Location {
  seq: number;
  off: number;
  length: number;
  height: number;
}

interface NamedLocation extends Location {
  digest: Uint8Array;
}

/**
 * The pack store of one folder (e.g. `<data>/store/packs`).
 *
 * @example
 * ```ts
 * import { PackStore } from "./pack.ts";
 * import { fromHex, hashHex } from "./hash.ts";
 * const store = await PackStore.open(await Deno.makeTempDir());
 * const bytes = new TextEncoder().encode("chunk");
 * await store.commitGroup({ height: 1, blobs: [{ hash: hashHex(bytes), bytes }], named: [] });
 * const back = await store.get(hashHex(bytes));
 * await store.close();
 * ```
 */
export class PackStore {
  readonly #dir: string;
  readonly #opts: Required<Omit<PackStoreOptions, "onSync">>;
  readonly #appender: SegmentAppender;
  readonly #blobs = new Map<string, Location>();
  readonly #named = new Map<string, NamedLocation>();
  readonly #heights: number[] = [];
  readonly #segments: number[] = [];
  readonly #queue = new SerialQueue({ name: "pack store commits" });
  #closed = false;
  readonly #limiter: ReadLimiter;
  /** The tail cut off at open, or null when every segment ended cleanly. */
  recovery: PackRecovery | null = null;

  private constructor(dir: string, options: PackStoreOptions) {
    this.#dir = dir;
    const o = { ...defaultPackOptions, ...options };
    // A small segment size brings the default entry limit down with it.
    if (options.maxEntryBytes === undefined) {
      o.maxEntryBytes = Math.min(o.maxEntryBytes, o.maxSegmentBytes);
    }
    positiveInt(o.maxSegmentBytes, "maxSegmentBytes", 64);
    positiveInt(o.maxEntryBytes, "maxEntryBytes", 64);
    positiveInt(o.maxConcurrentReads, "maxConcurrentReads", 1);
    if (o.maxEntryBytes > o.maxSegmentBytes || o.maxEntryBytes > 0xffffffff) {
      throw new PackError(
        "PACK_OPTION",
        "pack option maxEntryBytes must not exceed maxSegmentBytes nor 2^32-1",
        { maxEntryBytes: o.maxEntryBytes, maxSegmentBytes: o.maxSegmentBytes },
      );
    }
    this.#opts = {
      durable: o.durable,
      maxSegmentBytes: o.maxSegmentBytes,
      maxEntryBytes: o.maxEntryBytes,
      maxConcurrentReads: o.maxConcurrentReads,
      verifyBlobHashes: o.verifyBlobHashes,
    };
    this.#appender = new SegmentAppender(dir, {
      durable: o.durable,
      maxSegmentBytes: o.maxSegmentBytes,
      onSync: options.onSync,
    });
    this.#limiter = new ReadLimiter(o.maxConcurrentReads);
  }

  /**
   * Opens (creating if needed) the store in `dir`: scans every segment, rebuilds the
   * index, and cuts a torn tail of the last segment (see {@link recovery}). Damage
   * outside that tail is a `PACK_CORRUPT` error naming the segment and offset.
   */
  static async open(dir: string, options: PackStoreOptions = {}): Promise<PackStore> {
    const store = new PackStore(dir, options);
    await store.#load();
    return store;
  }

  /** Folder of the store. */
  get dir(): string {
    return this.#dir;
  }

  /** Committed heights, ascending. */
  heights(): number[] {
    return [...this.#heights];
  }

  /** Highest committed height, or null when the store is empty. */
  get lastHeight(): number | null {
    return this.#heights.length ? this.#heights[this.#heights.length - 1] : null;
  }

  /** Number of distinct blobs stored. */
  get blobCount(): number {
    return this.#blobs.size;
  }

  /** Segment file names, oldest first. */
  segments(): string[] {
    return this.#segments.map(segmentName);
  }

  /** Whether a committed group holds the blob `hash`. */
  has(hash: string): boolean {
    return this.#blobs.has(hash);
  }

  /** Height of the group that first stored blob `hash`, or null. */
  heightOf(hash: string): number | null {
    return this.#blobs.get(hash)?.height ?? null;
  }

  /**
   * Reads blob `hash` (one bounded read) and checks that its bytes hash to it.
   * `PACK_MISSING` when absent; `PACK_CORRUPT` naming segment, offset, blob and height.
   */
  async get(hash: string): Promise<Uint8Array> {
    const loc = this.#blobs.get(hash);
    if (!loc) {
      throw new PackError("PACK_MISSING", `blob ${hash} is not in the pack store`, { hash });
    }
    const bytes = await this.#read(loc, `blob ${hash}`);
    const actual = hashHex(bytes);
    if (actual !== hash) {
      throw this.#corrupt(loc, `blob ${hash}`, `its bytes hash to ${actual}`, { hash, actual });
    }
    return bytes;
  }

  /** Latest committed bytes of the named entry, checked against its digest; null if none. */
  async getNamed(name: string): Promise<Uint8Array | null> {
    const loc = this.#named.get(name);
    if (!loc) return null;
    const bytes = await this.#read(loc, `named entry ${name}`);
    if (
      !payloadMatches({ kind: "named", id: name, digest: loc.digest, off: 0, length: 0 }, bytes)
    ) {
      throw this.#corrupt(loc, `named entry ${name}`, "its bytes do not match its digest", {
        name,
      });
    }
    return bytes;
  }

  /** Payload length of the latest entry named `name`, or null. */
  namedLength(name: string): number | null {
    return this.#named.get(name)?.length ?? null;
  }

  /** Height of the group that holds the latest entry named `name`, or null. */
  namedHeight(name: string): number | null {
    return this.#named.get(name)?.height ?? null;
  }

  /**
   * Appends one group and makes it durable with one fdatasync of the segment (plus
   * one fsync of the folder when the group starts a new segment file). Blobs already
   * stored, or repeated within the group, are skipped. Commits run one at a time in
   * call order; readers see the group only once this resolves.
   */
  commitGroup(group: PackGroup): Promise<PackCommit> {
    return this.#queue.run(() => this.#commit(group));
  }

  /**
   * Re-reads every segment and re-hashes every payload; returns up to `limit`
   * problems (none when the store is intact). For `records verify`.
   */
  verifyAll(limit = 100): Promise<PackProblem[]> {
    return verifySegments(this.#dir, this.#segments, limit);
  }

  /** Waits for queued commits, then closes the segment handle; later calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
    this.#appender.close();
  }

  async #load(): Promise<void> {
    const { seqs, created } = await listSegments(this.#dir);
    const found = await recoverSegments(this.#dir, seqs, (p, n) => this.#appender.truncate(p, n));
    this.recovery = found.recovery;
    for (const { seq, groups } of found.segments) {
      for (const g of groups) this.#index(seq, g.height, g.entries);
      this.#segments.push(seq);
    }
    const last = seqs[seqs.length - 1];
    if (last !== undefined) this.#appender.resume(last, found.lastSize);
    if (this.#opts.durable) {
      // Make the folder entries we depend on (segments a killed process created,
      // the folder itself) durable before anything is appended.
      this.#appender.noteSync("dir", this.#dir);
      await syncDir(this.#dir);
      if (created) await syncDir(join(this.#dir, ".."));
    }
  }

  #index(seq: number, height: number, entries: ScannedEntry[]): void {
    for (const e of entries) {
      const loc = { seq, off: e.off, length: e.length, height };
      if (e.kind === "blob") {
        if (!this.#blobs.has(e.id)) this.#blobs.set(e.id, loc);
      } else this.#named.set(e.id, { ...loc, digest: e.digest });
    }
    this.#heights.push(height);
  }

  async #commit(group: PackGroup): Promise<PackCommit> {
    if (this.#closed) throw new PackError("PACK_CLOSED", `pack store ${this.#dir} is closed`);
    this.#appender.checkWritable();
    const { height } = group;
    const last = this.lastHeight;
    if (!Number.isSafeInteger(height) || height < 0 || (last !== null && height <= last)) {
      throw new PackError(
        "PACK_HEIGHT_ORDER",
        `pack group height ${height} must be an integer above the last committed ${last}`,
        { height, last },
      );
    }
    const enc = encodeGroup(group, (h) => this.#blobs.has(h), {
      maxEntryBytes: this.#opts.maxEntryBytes,
      maxGroupBytes: this.#opts.maxSegmentBytes,
      verifyBlobHashes: this.#opts.verifyBlobHashes,
    });
    const w = await this.#appender.append(enc.bytes);
    const start = w.start;
    const newSegment = w.newSegment;
    if (this.#segments[this.#segments.length - 1] !== w.seq) this.#segments.push(w.seq);
    let written = 0;
    for (const e of enc.entries) {
      const loc = { seq: w.seq, off: start + e.rel, length: e.length, height };
      if (e.kind === "blob") {
        this.#blobs.set(e.id, loc);
        written++;
      } else this.#named.set(e.id, { ...loc, digest: e.digest });
    }
    this.#heights.push(height);
    return {
      height,
      segment: segmentName(w.seq),
      offset: start,
      bytes: enc.bytes.length,
      blobsWritten: written,
      blobsSkipped: enc.skipped,
      newSegment,
    };
  }

  async #read(loc: Location, what: string): Promise<Uint8Array> {
    await this.#limiter.acquire();
    const path = join(this.#dir, segmentName(loc.seq));
    let file: Deno.FsFile | null = null;
    try {
      file = await Deno.open(path, { read: true });
      const bytes = await readAt(file, loc.off, loc.length);
      if (!bytes) throw this.#corrupt(loc, what, "the segment ends before it", {});
      return bytes;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw this.#corrupt(loc, what, "its segment file is missing", {});
      }
      throw err;
    } finally {
      file?.close();
      this.#limiter.release();
    }
  }

  #corrupt(loc: Location, what: string, why: string, extra: Record<string, unknown>): PackError {
    const segment = segmentName(loc.seq);
    return new PackError(
      "PACK_CORRUPT",
      `${what} of height ${loc.height} in pack segment ${join(this.#dir, segment)} at offset ` +
        `${loc.off} is corrupt: ${why}`,
      { ...extra, segment, offset: loc.off, height: loc.height },
    );
  }

  /** Reads in flight now (for tests of the bound). */
  get readsInFlight(): number {
    return this.#limiter.held;
  }
}
