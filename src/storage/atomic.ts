/**
 * Crash-safe file writes: a temp file in the same folder, fsynced, renamed over the
 * target, and the folder fsynced so the rename itself survives a power cut. A
 * reader therefore sees the old bytes or the new bytes, never a torn file.
 * @module
 */
import { dirname, join, resolve } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { flushNow } from "./flush.ts";

let tempCounter = 0;
// Marks this process's temp files: a temp carrying it is in flight, never stale, even
// when a restarted node gets the pid of the one that crashed (common in containers).
const PROCESS_TOKEN = crypto.randomUUID().slice(0, 8);
// `.<name>.<pid>[-<token>].<n>.tmp`: the only names removeStaleTemps touches.
const TEMP_NAME = /^\..+\.\d+(-([0-9a-f]{8}))?\.\d+\.tmp$/;

/** Most folder entries one {@link removeStaleTemps} call looks at (default). */
export const STALE_SCAN_MAX_ENTRIES = 100_000;

/** Options for {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Flush the file and its folder to disk (default true). Tests of logic may skip it. */
  durable?: boolean;
  /** fsync the folder after the rename (default: same as `durable`). Batch writers
   * turn it off and sync each folder once themselves. */
  syncDir?: boolean;
  /** Create missing parent folders (default true). */
  mkdirs?: boolean;
  /**
   * Make every call but the fsyncs synchronous (default false): for small files on a
   * latency-critical path (a node's block files), where each async call waits its turn
   * on a busy event loop.
   */
  syncCalls?: boolean;
  /** Make the fsyncs block the thread too (`flush.ts`; default false). */
  blockingFlush?: boolean;
}

function flush(file: Deno.FsFile, blocking = false): void | Promise<void> {
  return blocking ? flushNow(file) : file.sync();
}

function tempName(path: string): string {
  tempCounter = (tempCounter + 1) % 1_000_000_000;
  const base = path.slice(dirname(path).length + 1);
  return join(dirname(path), `.${base}.${Deno.pid}-${PROCESS_TOKEN}.${tempCounter}.tmp`);
}

/**
 * Creates `dir` and any missing parents, fsyncing the parent of every folder it
 * creates (when `durable`), so that a new folder survives a power cut together with
 * the files later renamed into it. Returns the folders it created, outermost first.
 *
 * @example
 * ```ts
 * import { ensureDirDurable } from "./atomic.ts";
 * await ensureDirDurable("/tmp/awr-example/a/b"); // fsyncs /tmp/awr-example/a, then …/a/b's parent
 * ```
 */
export async function ensureDirDurable(dir: string, durable = true): Promise<string[]> {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    try {
      const st = await Deno.stat(d);
      if (!st.isDirectory) {
        throw new AwrError("NOT_A_DIRECTORY", `${d} exists but is not a folder`, { path: d });
      }
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missing.push(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  missing.reverse();
  for (const m of missing) {
    try {
      await Deno.mkdir(m);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    if (durable) await syncDir(dirname(m));
  }
  return missing;
}

/** fsync a folder so that renames inside it are durable. */
export async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const fd = await Deno.open(dir, { read: true });
  try {
    await fd.sync();
  } finally {
    fd.close();
  }
}

/**
 * Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the folder).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("/tmp/example.cbor", new Uint8Array([0xa0]));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const calls = options.syncCalls ? SYNC_CALLS : ASYNC_CALLS;
  if ((options.mkdirs ?? true) && !await calls.isDir(dir)) await ensureDirDurable(dir, durable);
  const tmp = tempName(path);
  const file = await calls.create(tmp);
  try {
    let off = 0;
    while (off < bytes.length) off += await calls.write(file, bytes.subarray(off));
    if (durable) await flush(file, options.blockingFlush);
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  try {
    await calls.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  if ((options.syncDir ?? durable) && Deno.build.os !== "windows") {
    const fd = await calls.openDir(dir);
    try {
      await flush(fd, options.blockingFlush);
    } finally {
      fd.close();
    }
  }
}

// The file calls of writeFileAtomic. With `syncCalls` they block for microseconds (page
// cache) instead of each waiting its turn on the event loop; fsyncs are awaited either way.
interface FileCalls {
  /** Whether `dir` is an existing folder (false when missing; ensureDirDurable says why). */
  isDir(dir: string): boolean | Promise<boolean>;
  create(path: string): Deno.FsFile | Promise<Deno.FsFile>;
  write(file: Deno.FsFile, bytes: Uint8Array): number | Promise<number>;
  rename(from: string, to: string): void | Promise<void>;
  openDir(dir: string): Deno.FsFile | Promise<Deno.FsFile>;
}

const ASYNC_CALLS: FileCalls = {
  // ensureDirDurable stats every level anyway; leave the check to it.
  isDir: () => false,
  create: (path) => Deno.open(path, { write: true, createNew: true }),
  write: (file, bytes) => file.write(bytes),
  rename: (from, to) => Deno.rename(from, to),
  openDir: (dir) => Deno.open(dir, { read: true }),
};

const SYNC_CALLS: FileCalls = {
  isDir: (dir) => {
    try {
      return Deno.statSync(dir).isDirectory;
    } catch {
      return false;
    }
  },
  create: (path) => Deno.openSync(path, { write: true, createNew: true }),
  write: (file, bytes) => file.writeSync(bytes),
  rename: (from, to) => Deno.renameSync(from, to),
  openDir: (dir) => Deno.openSync(dir, { read: true }),
};

/**
 * Writes `path` through a temp file and a rename with synchronous calls and NO fsync:
 * for small copies whose durable original lives elsewhere (the execution core's record
 * files), where a few blocking syscalls cost less than async round trips.
 *
 * @example
 * ```ts
 * import { writeCopySync } from "./atomic.ts";
 * writeCopySync("/tmp/awr-copy.cbor", new Uint8Array([1]));
 * ```
 */
export function writeCopySync(path: string, bytes: Uint8Array): void {
  const tmp = tempName(path);
  try {
    Deno.writeFileSync(tmp, bytes, { createNew: true });
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

/**
 * Creates `path` with `bytes` unless it exists (then `Deno.errors.AlreadyExists`),
 * readable by the owner only from the first byte (0600): written to a temp, then
 * hard-linked, since a link, unlike a rename, never replaces a file another process
 * just made. For secrets made once (API token, validator key); `durable` fsyncs the
 * file and its folder (default true).
 *
 * @example
 * ```ts
 * import { createSecretFile } from "./atomic.ts";
 * const path = `/tmp/awr-secret-${crypto.randomUUID()}`;
 * await createSecretFile(path, new TextEncoder().encode("s3cret\n"));
 * await Deno.remove(path);
 * ```
 */
export async function createSecretFile(
  path: string,
  bytes: Uint8Array,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempName(path);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    let at = 0;
    while (at < bytes.length) at += await file.write(bytes.subarray(at));
    if (durable) await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.link(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  if (durable) await syncDir(dirname(path));
}

/** Reads a file, or returns `null` when it does not exist. */
export async function readFileIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Removes temp files left in `dir` by atomic writes that a crash interrupted (names
 * `.<file>.<pid>[-<token>].<n>.tmp`; this process's own temps in flight are kept).
 * Each folder's owner calls it when it opens the folder (node dir, blocks, execution,
 * records, store, reports, mempool) or, for shard folders, on first use; the scan
 * stops after `maxEntries` entries so that start-up work stays bounded. A missing
 * folder removes nothing. Returns how many files it removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * const removed = await removeStaleTemps("/tmp/awr-example"); // 0 when clean or missing
 * ```
 */
export async function removeStaleTemps(
  dir: string,
  maxEntries = STALE_SCAN_MAX_ENTRIES,
): Promise<number> {
  let removed = 0;
  let seen = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (++seen > maxEntries) break;
      const m = entry.isFile ? TEMP_NAME.exec(entry.name) : null;
      if (m && m[2] !== PROCESS_TOKEN) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
        removed++;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

/** What {@link readFileBounded} found when it refuses a file. */
export class FileReadError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

function fileTypeName(st: Deno.FileInfo): string {
  if (st.isDirectory) return "a folder";
  if (st.isCharDevice) return "a character device";
  if (st.isBlockDevice) return "a block device";
  if (st.isFifo) return "a FIFO";
  if (st.isSocket) return "a socket";
  return "not a regular file";
}

/**
 * Reads a regular file of at most `maxBytes` bytes. A device, FIFO, folder or larger
 * file is refused (`FILE_NOT_REGULAR`, `FILE_TOO_LARGE`) without reading it whole: the
 * read stops after `maxBytes + 1` bytes even if the file grows meanwhile. OS errors
 * become `FILE_READ` naming the path. Returns null when the file does not exist.
 *
 * @example
 * ```ts
 * import { readFileBounded } from "./atomic.ts";
 * const bytes = await readFileBounded("/tmp/awr-example.cbor", 1 << 20); // null when missing
 * ```
 */
export async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array | null> {
  let file: Deno.FsFile;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) {
      throw new FileReadError("FILE_NOT_REGULAR", `${path} is ${fileTypeName(st)}, not a file`, {
        path,
      });
    }
    if (st.size > maxBytes) {
      throw new FileReadError(
        "FILE_TOO_LARGE",
        `${path} is ${st.size} bytes, more than the ${maxBytes} allowed`,
        { path, size: st.size, maxBytes },
      );
    }
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof AwrError) throw err;
    throw new FileReadError("FILE_READ", `cannot read ${path}: ${osReason(err)}`, { path }, {
      cause: err,
    });
  }
  try {
    const buf = new Uint8Array(maxBytes + 1);
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    if (off > maxBytes) {
      throw new FileReadError(
        "FILE_TOO_LARGE",
        `${path} is more than the ${maxBytes} bytes allowed`,
        {
          path,
          maxBytes,
        },
      );
    }
    return buf.slice(0, off);
  } catch (err) {
    if (err instanceof AwrError) throw err;
    throw new FileReadError("FILE_READ", `cannot read ${path}: ${osReason(err)}`, { path }, {
      cause: err,
    });
  } finally {
    file.close();
  }
}

// The OS reason without Deno's repetition of the path ("… (os error 13): open '/x'").
function osReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/:\s*\w+\s+'[^']*'$/, "").replace(/\s*\(os error \d+\)/, "").toLowerCase();
}
