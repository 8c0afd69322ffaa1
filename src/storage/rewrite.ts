/**
 * Atomic replacement of a file that is rewritten often (a node's state file, the reward
 * ledger, `latest.json`, the execution state copy) without making or freeing an inode.
 *
 * `writeFileAtomic` writes a new temp file and renames it over the target, which frees
 * the target's old inode every time. On ext4 without a journal, each new inode is then
 * found by scanning past every inode freed in the last minutes (`recently_deleted`), so
 * a node rewriting a few files 10 times a second made every later file creation slower:
 * in `perf`, that scan was the top kernel cost of a 4-validator run on one disk.
 *
 * Here the temp file is a spare kept beside the target, `.<name>.spare`:
 *
 * 1. the spare is overwritten from its start, cut to the new length and fsynced (created
 *    the first time only);
 * 2. the target gets a second name, `.<name>.prev` (a hard link: no new inode);
 * 3. the spare is renamed over the target: the reader sees the old or the new bytes;
 * 4. `.prev` is renamed to `.<name>.spare`: the old inode is the next write's spare;
 * 5. the folder is fsynced.
 *
 * A crash between any two steps leaves the target whole (old or new bytes); the next
 * write clears a leftover `.prev`. Where hard links fail (a file system without them),
 * step 3 is the plain temp-and-rename and the next write makes a new spare. One
 * difference from a fresh temp file: a reader that still holds the old target open
 * when the write after next overwrites it (as the spare) reads a mix of the two contents
 * or a cut file; the files written here are read whole at once (start-up, an operator's tool). Missing
 * folders are made (and fsynced when durable) on the first write. Writes to one path are serialized in the
 * process; the data dir lock keeps other processes out.
 * @module
 */
import { dirname, join } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { ensureDirDurable } from "./atomic.ts";

/** Options of {@link rewriteFileAtomic}. */
export interface RewriteOptions {
  /** fsync the file and its folder (default true). */
  durable?: boolean;
}

/** The names beside `path` that {@link rewriteFileAtomic} uses. */
export function rewriteSideNames(path: string): { spare: string; prev: string } {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  return { spare: join(dir, `.${base}.spare`), prev: join(dir, `.${base}.prev`) };
}

/**
 * Most writes of one path that may wait behind the one in flight (default); one more
 * is refused with `REWRITE_BACKLOG`. Every caller awaits its write (the execution
 * state copy coalesces), so at most one waits in practice; the bound catches a caller
 * that stops awaiting.
 */
export const MAX_WAITING_REWRITES = 16;

// Per path: the tail of its write chain and how many writes are queued on it.
const inFlight = new Map<string, { tail: Promise<void>; queued: number }>();

/**
 * Replaces `path` with `bytes` atomically, reusing the old inode as the next spare.
 *
 * @example
 * ```ts
 * import { rewriteFileAtomic } from "./rewrite.ts";
 * const path = (await Deno.makeTempDir()) + "/state.cbor";
 * await rewriteFileAtomic(path, new Uint8Array([1]));
 * await rewriteFileAtomic(path, new Uint8Array([2])); // no new inode, none freed
 * ```
 */
export function rewriteFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: RewriteOptions = {},
): Promise<void> {
  const entry = inFlight.get(path) ?? { tail: Promise.resolve(), queued: 0 };
  // `queued` counts the one in flight too.
  if (entry.queued > MAX_WAITING_REWRITES) {
    return Promise.reject(
      new AwrError(
        "REWRITE_BACKLOG",
        `${path}: ${entry.queued - 1} rewrites already wait (at most ${MAX_WAITING_REWRITES})`,
        { path, waiting: entry.queued - 1 },
      ),
    );
  }
  const run = entry.tail.then(() => rewrite(path, bytes, options.durable ?? true));
  entry.tail = run.catch(() => {});
  entry.queued++;
  inFlight.set(path, entry);
  entry.tail.then(() => {
    entry.queued--;
    if (entry.queued === 0 && inFlight.get(path) === entry) inFlight.delete(path);
  });
  return run;
}

async function rewrite(path: string, bytes: Uint8Array, durable: boolean): Promise<void> {
  const { spare, prev } = rewriteSideNames(path);
  const file = await openSpare(spare, path, durable);
  try {
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    // Cut what an older, longer content left after the new bytes (same size: no-op).
    file.truncateSync(bytes.length);
    if (durable) await file.sync();
  } finally {
    file.close();
  }
  const linked = linkTarget(path, prev);
  // Without hard links this is the plain temp-and-rename (the old inode is freed).
  Deno.renameSync(spare, path);
  if (linked === "linked") Deno.renameSync(prev, spare);
  if (durable && Deno.build.os !== "windows") {
    const dir = Deno.openSync(dirname(path), { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}

/**
 * Opens the spare for writing at its start, creating it (and missing folders) when
 * absent. Not truncated on open: the new bytes overwrite the old ones in their blocks
 * (an open with O_TRUNC freed them, and waited for their writeback, about 150 µs on the
 * node's loop on this project's test machine), and `rewrite` cuts any tail after.
 */
async function openSpare(spare: string, path: string, durable: boolean): Promise<Deno.FsFile> {
  const options = { write: true, create: true };
  try {
    return Deno.openSync(spare, options);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await ensureDirDurable(dirname(path), durable);
    return Deno.openSync(spare, options);
  }
}

/** Gives `path` the second name `prev`; "absent" when there is no target yet. */
function linkTarget(path: string, prev: string): "linked" | "absent" | "unsupported" {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.linkSync(path, prev);
      return "linked";
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return "absent";
      // A `.prev` left by a crash between steps 2 and 4: drop it and link again.
      if (err instanceof Deno.errors.AlreadyExists && attempt === 0) {
        Deno.removeSync(prev);
        continue;
      }
      if (err instanceof Deno.errors.AlreadyExists) throw err;
      return "unsupported";
    }
  }
  return "unsupported";
}
