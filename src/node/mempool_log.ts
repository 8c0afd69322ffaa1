/**
 * The mempool's on-disk log: append-only frames, each `u32 length (big endian) ·
 * 16-byte BLAKE3 prefix of the payload · payload`. Appends go through one writer that
 * batches whatever arrived while the previous fsync ran into the next write + fsync
 * (group commit), so concurrent submitters share one fsync. A torn or corrupt tail
 * (short frame, bad checksum, absurd length) ends the log on reading; the caller cuts
 * it. File access goes through {@link LogFs} so tests can count and hold fsyncs.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { readFileIfExists, syncDir, writeFileAtomic } from "../storage/atomic.ts";
import { hashBytes } from "../storage/hash.ts";
import { dirname } from "../std/path.ts";

/** Bytes before a frame's payload: length (4) + checksum (16). */
export const FRAME_HEADER_BYTES = 20;
const CHECKSUM_BYTES = 16;

/** An open log file positioned at its end. */
export interface LogFile {
  /** Appends all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes the file to disk. */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes (undoes a failed append). */
  truncate(length: number): Promise<void>;
  /** Closes the handle. */
  close(): void;
}

/** The file operations the log uses (the default is {@link denoLogFs}). */
export interface LogFs {
  /** Whole file, or null when it does not exist. */
  read(path: string): Promise<Uint8Array | null>;
  /** Opens `path` for appending, creating it (and making the new name durable). */
  openAppend(path: string): Promise<LogFile>;
  /** Replaces `path` with `bytes` atomically (temp file, fsync, rename, fsync of the folder). */
  replace(path: string, bytes: Uint8Array, durable: boolean): Promise<void>;
  /** Cuts `path` to `length` bytes and makes that durable. */
  truncate(path: string, length: number): Promise<void>;
}

/**
 * {@link LogFs} on the real file system.
 *
 * @example
 * ```ts
 * import { denoLogFs } from "./mempool_log.ts";
 * const bytes = await denoLogFs.read("/tmp/none"); // null
 * ```
 */
export const denoLogFs: LogFs = {
  read: (path) => readFileIfExists(path),
  async openAppend(path) {
    const dir = dirname(path);
    let created = false;
    try {
      await Deno.lstat(path);
    } catch {
      created = true;
    }
    const file = await Deno.open(path, { append: true, create: true });
    if (created) await syncDir(dir);
    return {
      async write(bytes) {
        let off = 0;
        while (off < bytes.length) off += await file.write(bytes.subarray(off));
      },
      sync: () => file.sync(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  },
  replace: (path, bytes, durable) => writeFileAtomic(path, bytes, { durable }),
  async truncate(path, length) {
    const file = await Deno.open(path, { write: true });
    try {
      await file.truncate(length);
      await file.sync();
    } finally {
      file.close();
    }
  },
};

/**
 * One frame around `payload`.
 *
 * @example
 * ```ts
 * import { encodeFrame, FRAME_HEADER_BYTES } from "./mempool_log.ts";
 * encodeFrame(new Uint8Array([1, 2])).length === FRAME_HEADER_BYTES + 2; // true
 * ```
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(hashBytes(payload).subarray(0, CHECKSUM_BYTES), 4);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** The valid frames of a log and where they end. */
export interface DecodedFrames {
  readonly payloads: Uint8Array[];
  /** Bytes covered by valid frames; anything after is a torn or corrupt tail. */
  readonly validBytes: number;
}

/**
 * Reads frames from the start of `bytes` until the end or the first frame that is
 * short, longer than `maxFrameBytes`, or fails its checksum.
 *
 * @example
 * ```ts
 * import { decodeFrames, encodeFrame } from "./mempool_log.ts";
 * const log = encodeFrame(new Uint8Array([7]));
 * decodeFrames(log.subarray(0, log.length - 1), 1024).validBytes; // 0: torn
 * ```
 */
export function decodeFrames(bytes: Uint8Array, maxFrameBytes: number): DecodedFrames {
  const payloads: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    const len = view.getUint32(at);
    const end = at + FRAME_HEADER_BYTES + len;
    if (len > maxFrameBytes || end > bytes.length) break;
    const payload = bytes.subarray(at + FRAME_HEADER_BYTES, end);
    const sum = hashBytes(payload);
    let same = true;
    for (let i = 0; i < CHECKSUM_BYTES; i++) same &&= sum[i] === bytes[at + 4 + i];
    if (!same) break;
    payloads.push(payload);
    at = end;
  }
  return { payloads, validBytes: at };
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly sync: boolean;
  readonly onWritten: (() => void) | undefined;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * The append side of the log with group commit. Each {@link GroupCommitLog.append}
 * resolves once its bytes are written (and fsynced, when asked and `durable`).
 * Appends that arrive while a write + fsync runs wait and go together in the next.
 */
export class GroupCommitLog {
  readonly #fs: LogFs;
  readonly #path: string;
  readonly #durable: boolean;
  #file: LogFile;
  #size: number;
  #queue: Pending[] = [];
  #running: Promise<void> = Promise.resolve();
  /** True from the moment a writer loop starts until it has seen an empty queue. */
  #active = false;
  #broken: Error | null = null;
  #afterFlush: () => Promise<void>;

  /**
   * @param fs file access @param path the log file @param file its open handle
   * @param size its length @param durable fsync at all (false only in logic tests)
   */
  constructor(fs: LogFs, path: string, file: LogFile, size: number, durable: boolean) {
    this.#fs = fs;
    this.#path = path;
    this.#file = file;
    this.#size = size;
    this.#durable = durable;
    this.#afterFlush = () => Promise.resolve();
  }

  /** Current length of the log file in bytes. */
  get size(): number {
    return this.#size;
  }

  /**
   * Runs after a flushed group when nothing else is queued, with no write in progress
   * (compaction hooks in here; appends made meanwhile wait and go after it).
   */
  set afterFlush(fn: () => Promise<void>) {
    this.#afterFlush = fn;
  }

  /**
   * Appends `bytes`; `onWritten` runs synchronously, in log order, once they are
   * durable. Rejects with `MEMPOOL_IO` when the write or fsync fails (the file is cut
   * back to where it was, so a refused append never reappears after a restart).
   */
  append(bytes: Uint8Array, sync: boolean, onWritten?: () => void): Promise<void> {
    if (this.#broken) {
      return Promise.reject(
        new AwrError(
          "MEMPOOL_IO",
          `mempool log ${this.#path} is unusable: ${this.#broken.message}`,
          { path: this.#path },
          { cause: this.#broken },
        ),
      );
    }
    const done = Promise.withResolvers<void>();
    this.#queue.push({ bytes, sync, onWritten, resolve: done.resolve, reject: done.reject });
    if (!this.#active) {
      this.#active = true;
      this.#running = this.#run();
    }
    return done.promise;
  }

  /** Resolves once everything appended so far has been written. */
  async flush(): Promise<void> {
    while (this.#active) await this.#running;
  }

  /** Replaces the whole log with `bytes` (atomically); call only from `afterFlush`. */
  async rewrite(bytes: Uint8Array): Promise<void> {
    await this.#fs.replace(this.#path, bytes, this.#durable);
    this.#file.close();
    this.#file = await this.#fs.openAppend(this.#path);
    this.#size = bytes.length;
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    await this.flush();
    this.#file.close();
    this.#broken ??= new AwrError("MEMPOOL_IO", "closed", { path: this.#path });
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#queue.length === 0) {
        // Same turn as the empty-queue check: no append can slip in between.
        this.#active = false;
        return;
      }
      const group = this.#queue.splice(0);
      let total = 0;
      for (const p of group) total += p.bytes.length;
      const joined = new Uint8Array(total);
      let at = 0;
      for (const p of group) {
        joined.set(p.bytes, at);
        at += p.bytes.length;
      }
      try {
        await this.#file.write(joined);
        if (this.#durable && group.some((p) => p.sync)) await this.#file.sync();
      } catch (err) {
        const error = new AwrError(
          "MEMPOOL_IO",
          `cannot write the mempool log ${this.#path}: ${errorMessage(err)}`,
          { path: this.#path },
          { cause: err },
        );
        try {
          await this.#file.truncate(this.#size);
        } catch (cut) {
          // The file may now hold bytes nobody was told about: refuse further appends.
          this.#broken = new AwrError("MEMPOOL_IO", errorMessage(cut), { path: this.#path }, {
            cause: cut,
          });
        }
        for (const p of group) p.reject(error);
        continue;
      }
      this.#size += total;
      for (const p of group) p.onWritten?.();
      for (const p of group) p.resolve();
      // Only with nothing queued: a compaction snapshots memory, which already reflects
      // queued frames (a trim), and those frames must not be applied on top of it again.
      if (this.#queue.length === 0) await this.#afterFlush().catch(() => {});
    }
  }
}
