/**
 * Opening and checking a pack folder (private to `pack.ts`): list the segments, scan
 * them in order, find and describe the torn tail of the last one; re-check every
 * payload for `verifyAll`; and the bound on reads in flight.
 * @module
 */
import { join } from "../std/path.ts";
import { PackError, parseEntry, segmentName, segmentSeq } from "./_pack_format.ts";
import { checkGroupPayloads, readAt, type ScannedGroup, scanSegment } from "./_pack_scan.ts";
import type { PackProblem, PackRecovery } from "./_pack_types.ts";

/** Segment sequence numbers in `dir`, ascending; creates `dir` when missing. */
export async function listSegments(dir: string): Promise<{ seqs: number[]; created: boolean }> {
  let created = false;
  try {
    await Deno.stat(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.mkdir(dir, { recursive: true });
    created = true;
  }
  const seqs: number[] = [];
  for await (const e of Deno.readDir(dir)) {
    const seq = e.isFile ? segmentSeq(e.name) : null;
    if (seq !== null) seqs.push(seq);
  }
  return { seqs: seqs.sort((a, b) => a - b), created };
}

/** What {@link recoverSegments} found. */
export interface Recovered {
  /** Every segment with its committed groups, oldest first. */
  segments: Array<{ seq: number; groups: ScannedGroup[] }>;
  /** The cut made to the last segment, or null. */
  recovery: PackRecovery | null;
  /** Size of the last segment after the cut (0 when there is none). */
  lastSize: number;
}

/**
 * Scans every segment. Only the last group of the last segment can be torn (older
 * ones were synced before it was written): from the first group that is incomplete,
 * has no matching marker, or (the last group only) has a payload that does not hash
 * to its digest, the last segment is cut with `truncate`. Damage in an earlier
 * segment, or followed by a complete marker, is `PACK_CORRUPT` and nothing is cut.
 */
export async function recoverSegments(
  dir: string,
  seqs: number[],
  truncate: (path: string, size: number) => Promise<void>,
): Promise<Recovered> {
  const out: Recovered = { segments: [], recovery: null, lastSize: 0 };
  let last = -1;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i];
    const name = segmentName(seq);
    const path = join(dir, name);
    const scan = await scanSegment(path, last);
    const isLast = i === seqs.length - 1;
    if (scan.problem && !isLast) {
      throw new PackError(
        "PACK_CORRUPT",
        `pack segment ${path} is damaged at offset ${scan.problem.offset}: ` +
          `${scan.problem.reason} (not the last segment, so not a torn tail)`,
        { segment: name, path, offset: scan.problem.offset, reason: scan.problem.reason },
      );
    }
    if (scan.problem && (await laterGroupAfter(path, scan.problem.offset, scan.size))) {
      throw new PackError(
        "PACK_CORRUPT",
        `pack segment ${path} is damaged at offset ${scan.problem.offset}: ` +
          `${scan.problem.reason} (a later group follows, so not a torn tail)`,
        { segment: name, path, offset: scan.problem.offset, reason: scan.problem.reason },
      );
    }
    let { validEnd, problem } = scan;
    if (isLast && scan.groups.length > 0) {
      // The last group's marker may be on disk while a page of its payload is not.
      const tail = scan.groups[scan.groups.length - 1];
      const bad = await checkGroupPayloads(path, tail);
      if (bad) {
        scan.groups.pop();
        validEnd = tail.start;
        problem = {
          offset: bad.off,
          reason: `${bad.kind} ${bad.id} of height ${tail.height} does not match its digest`,
        };
      }
    }
    if (isLast && validEnd < scan.size) {
      await truncate(path, validEnd);
      out.recovery = {
        segment: name,
        offset: validEnd,
        cutBytes: scan.size - validEnd,
        problemOffset: problem?.offset ?? validEnd,
        reason: problem?.reason ?? "bytes after the last commit marker",
      };
    }
    if (scan.groups.length) last = scan.groups[scan.groups.length - 1].height;
    out.segments.push({ seq, groups: scan.groups });
    if (isLast) out.lastSize = validEnd;
  }
  return out;
}

// A commit marker's first bytes: a 5-key map whose first key/value is "k": "commit".
const MARKER_HEAD = new Uint8Array([0xa5, 0x61, 0x6b, 0x66, 0x63, 0x6f, 0x6d, 0x6d, 0x69, 0x74]);

/**
 * Whether a complete commit marker that ends before the file does starts after
 * `from`: then the damage at `from` is followed by another group, so it is not the
 * torn tail of an interrupted append (which is always the file's last group).
 */
async function laterGroupAfter(path: string, from: number, size: number): Promise<boolean> {
  const file = await Deno.open(path, { read: true });
  try {
    const rest = await readAt(file, from, size - from);
    if (!rest) return false;
    const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
    outer: for (let p = 4; p + MARKER_HEAD.length <= rest.length; p++) {
      for (let j = 0; j < MARKER_HEAD.length; j++) {
        if (rest[p + j] !== MARKER_HEAD[j]) continue outer;
      }
      const end = p + view.getUint32(p - 4);
      if (end >= rest.length) continue;
      const e = parseEntry(rest.subarray(p, end));
      if (typeof e !== "string" && e.kind === "commit") return true;
    }
    return false;
  } finally {
    file.close();
  }
}

/** Re-scans `seqs` and re-hashes every payload; returns up to `limit` problems. */
export async function verifySegments(
  dir: string,
  seqs: number[],
  limit: number,
): Promise<PackProblem[]> {
  const problems: PackProblem[] = [];
  let last = -1;
  for (const seq of seqs) {
    const segment = segmentName(seq);
    const path = join(dir, segment);
    const scan = await scanSegment(path, last);
    for (const g of scan.groups) {
      if (problems.length >= limit) return problems;
      const bad = await checkGroupPayloads(path, g);
      if (bad) {
        problems.push({
          segment,
          offset: bad.off,
          height: g.height,
          id: bad.id,
          reason: `${bad.kind} ${bad.id} of height ${g.height}: bytes do not match its digest`,
        });
      }
      last = g.height;
    }
    if (scan.problem && problems.length < limit) {
      const { offset, reason } = scan.problem;
      problems.push({ segment, offset, height: null, id: null, reason });
    }
  }
  return problems;
}

/** A counting semaphore: at most `max` holders; the rest wait in FIFO order. */
export class ReadLimiter {
  readonly #max: number;
  #held = 0;
  readonly #waiters: Array<() => void> = [];

  /** @param max holders at once */
  constructor(max: number) {
    this.#max = max;
  }

  /** Holders now. */
  get held(): number {
    return this.#held;
  }

  /** Waits for a free slot and takes it. */
  async acquire(): Promise<void> {
    if (this.#held < this.#max) {
      this.#held++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Gives a slot back (to the longest waiter, if any). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held--;
  }
}
