/**
 * Crash-safe file writes: a temp file in the same folder, fsynced, renamed over the
 * target, and the folder fsynced so the rename itself survives a power cut. A
 * reader therefore sees the old bytes or the new bytes, never a torn file.
 * @module
 */
import { dirname, join } from "@std/path";

let tempCounter = 0;

/** Options for {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Flush the file and its folder to disk (default true). Tests of logic may skip it. */
  durable?: boolean;
  /** fsync the folder after the rename (default: same as `durable`). Batch writers
   * turn it off and sync each folder once themselves. */
  syncDir?: boolean;
  /** Create missing parent folders (default true). */
  mkdirs?: boolean;
}

function tempName(path: string): string {
  tempCounter = (tempCounter + 1) % 1_000_000_000;
  const base = path.slice(dirname(path).length + 1);
  return join(dirname(path), `.${base}.${Deno.pid}.${tempCounter}.tmp`);
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
  if (options.mkdirs ?? true) await Deno.mkdir(dir, { recursive: true });
  const tmp = tempName(path);
  const file = await Deno.open(tmp, { write: true, createNew: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    if (durable) await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  if (options.syncDir ?? durable) await syncDir(dir);
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

/** Removes temp files left in `dir` by writes that a crash interrupted. */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.startsWith(".") && entry.name.endsWith(".tmp")) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
        removed++;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}
