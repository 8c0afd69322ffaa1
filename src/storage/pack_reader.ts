/**
 * A read-only view of a pack folder for processes (or isolates) that do not own it:
 * the live API, `records verify` while a node runs. Unlike {@link PackStore.open} it
 * never cuts a tail (the owner may be appending to it right now): bytes after the
 * last complete group are simply not indexed yet, and {@link PackReader.refresh}
 * picks up groups committed since (it re-scans only the newest segment and any new
 * ones). Damage is reported, never repaired.
 * @module
 */
import { join } from "../std/path.ts";
import { hashHex } from "./hash.ts";
import { PackError, segmentName } from "./_pack_format.ts";
import { listSegments, verifySegments } from "./_pack_open.ts";
import { payloadMatches, readAt, type ScannedEntry, scanSegment } from "./_pack_scan.ts";
import type { PackProblem } from "./_pack_types.ts";

interface Loc {
  seq: number;
  entry: ScannedEntry;
  height: number;
}

/**
 * Read-only index over a pack folder.
 *
 * @example
 * ```ts
 * import { PackReader } from "./pack_reader.ts";
 * const r = await PackReader.open("./data/store/packs");
 * console.log(r.lastHeight, r.has("ab".repeat(32)));
 * ```
 */
export class PackReader {
  readonly #dir: string;
  readonly #blobs = new Map<string, Loc>();
  readonly #named = new Map<string, Loc>();
  readonly #seqs: number[] = [];
  readonly #heights: number[] = [];
  #lastHeight: number | null = null;
  // Where the newest segment's last complete group ends (the next scan starts there).
  #lastEnd = 0;
  /** Damage seen by the last scan outside a possibly-torn tail (segment, offset, why). */
  problems: PackProblem[] = [];

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Scans every segment of `dir` (an absent folder is an empty store). */
  static async open(dir: string): Promise<PackReader> {
    const r = new PackReader(dir);
    await r.refresh();
    return r;
  }

  /** Folder of the store. */
  get dir(): string {
    return this.#dir;
  }

  /** Highest committed height seen, or null. */
  get lastHeight(): number | null {
    return this.#lastHeight;
  }

  /** Committed heights seen, ascending. */
  heights(): number[] {
    return [...this.#heights];
  }

  /** Segment sequence numbers seen, oldest first. */
  segments(): string[] {
    return this.#seqs.map(segmentName);
  }

  /** Indexes groups committed since the last scan. */
  async refresh(): Promise<void> {
    let seqs: number[];
    try {
      await Deno.stat(this.#dir);
      seqs = (await listSegments(this.#dir)).seqs;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    const from = this.#seqs.length ? this.#seqs[this.#seqs.length - 1] : -Infinity;
    this.problems = [];
    for (const seq of seqs.filter((s) => s >= from)) {
      const start = seq === from ? this.#lastEnd : 0;
      const scan = await scanSegment(join(this.#dir, segmentName(seq)), -1, start);
      this.#lastEnd = scan.validEnd;
      for (const g of scan.groups) {
        if (this.#lastHeight !== null && g.height <= this.#lastHeight) continue;
        for (const e of g.entries) {
          const loc = { seq, entry: e, height: g.height };
          if (e.kind === "blob") {
            if (!this.#blobs.has(e.id)) this.#blobs.set(e.id, loc);
          } else this.#named.set(e.id, loc);
        }
        this.#lastHeight = g.height;
        this.#heights.push(g.height);
      }
      if (!this.#seqs.includes(seq)) this.#seqs.push(seq);
      if (scan.problem && seq !== seqs[seqs.length - 1]) {
        this.problems.push({
          segment: segmentName(seq),
          offset: scan.problem.offset,
          height: null,
          id: null,
          reason: scan.problem.reason,
        });
      }
    }
  }

  /** Whether blob `hash` is indexed (call {@link refresh} to see newer groups). */
  has(hash: string): boolean {
    return this.#blobs.has(hash);
  }

  /** Every indexed blob address, in the order first stored. */
  blobIds(): string[] {
    return [...this.#blobs.keys()];
  }

  /** Height of the group that first stored blob `hash`, or null. */
  heightOf(hash: string): number | null {
    return this.#blobs.get(hash)?.height ?? null;
  }

  /** Reads blob `hash`, re-scanning once when it is not indexed; checks its hash. */
  async get(hash: string): Promise<Uint8Array> {
    if (!this.#blobs.has(hash)) await this.refresh();
    const loc = this.#blobs.get(hash);
    if (!loc) {
      throw new PackError("PACK_MISSING", `blob ${hash} is not in the pack store ${this.#dir}`, {
        hash,
      });
    }
    const bytes = await this.#read(loc, `blob ${hash}`);
    const actual = hashHex(bytes);
    if (actual !== hash) {
      throw this.#corrupt(loc, `blob ${hash}`, `its bytes hash to ${actual}`);
    }
    return bytes;
  }

  /** Latest bytes of the named entry (checked), or null when none is indexed. */
  async getNamed(name: string): Promise<Uint8Array | null> {
    const loc = this.#named.get(name);
    if (!loc) return null;
    const bytes = await this.#read(loc, `named entry ${name}`);
    if (!payloadMatches(loc.entry, bytes)) {
      throw this.#corrupt(loc, `named entry ${name}`, "its bytes do not match its digest");
    }
    return bytes;
  }

  /** Re-reads and re-hashes every indexed segment; up to `limit` problems. */
  verifyAll(limit = 100): Promise<PackProblem[]> {
    return verifySegments(this.#dir, this.#seqs, limit);
  }

  async #read(loc: Loc, what: string): Promise<Uint8Array> {
    const file = await Deno.open(join(this.#dir, segmentName(loc.seq)), { read: true });
    try {
      const bytes = await readAt(file, loc.entry.off, loc.entry.length);
      if (!bytes) throw this.#corrupt(loc, what, "the segment ends before it");
      return bytes;
    } finally {
      file.close();
    }
  }

  #corrupt(loc: Loc, what: string, why: string): PackError {
    const segment = segmentName(loc.seq);
    return new PackError(
      "PACK_CORRUPT",
      `${what} of height ${loc.height} in pack segment ${join(this.#dir, segment)} at offset ` +
        `${loc.entry.off} is corrupt: ${why}`,
      { segment, offset: loc.entry.off, height: loc.height, id: loc.entry.id },
    );
  }
}
