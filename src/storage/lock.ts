/**
 * One process per data dir: an exclusive `flock` on `<data>/awr.lock`. The kernel
 * drops the lock when the process dies, even by SIGKILL, so a crash never leaves a
 * data dir locked; a second live process is refused with the holder's pid.
 * @module
 */
import { AwrError } from "../errors.ts";
import { lockPath } from "./data_dir.ts";
import type { ErrorCode } from "../errors.ts";

/** Error raised when another process holds the data dir. */
export class DataDirLockedError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** A held data-dir lock. */
export interface DataDirLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Releases the lock. */
  release(): void;
}

/**
 * Takes the data dir's lock or throws {@link DataDirLockedError}.
 *
 * @example
 * ```ts
 * import { lockDataDir } from "./lock.ts";
 * const lock = await lockDataDir("./data");
 * lock.release();
 * ```
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = lockPath(dataDir);
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } catch (err) {
    file.close();
    throw err;
  }
  if (!locked) {
    file.close();
    let holder = "";
    try {
      holder = (await Deno.readTextFile(path)).trim();
    } catch { /* unreadable: say nothing about the holder */ }
    throw new DataDirLockedError(
      "DATA_DIR_LOCKED",
      `data dir ${dataDir} is in use by another awr process${holder ? ` (pid ${holder})` : ""}; ` +
        `stop it or use another --data-dir`,
      { dataDir, holder },
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
