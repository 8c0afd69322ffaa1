/**
 * The node's own log of execution results: one entry per height (node block hash,
 * execution block hash, execution state root, driver), whatever the driver, so
 * rewards, reports, `/v1/records/:h`, the event stream and `awr records verify`
 * never need a driver's private files.
 *
 * Layout: `<data>/node/<id>/execution_results/<first height, 10 digits>.log`, one
 * file per {@link RESULT_LOG_SEGMENT_HEIGHTS} heights, one fixed-size slot of
 * {@link RESULT_LOG_SLOT_BYTES} bytes per height (a JSON line padded with spaces), so
 * a file is at most 5 MiB, a height is found by offset, and a height the driver
 * executes again after a restart overwrites its own slot instead of growing the log.
 *
 * Crash safety: an entry is written (no fsync) when the result arrives, so a killed
 * process loses nothing; the fsync happens with the node state write that already
 * follows ({@link ExecutionResultLog.sync}), before the state file declares the
 * height executed. A slot torn by a power loss, or never written, reads as absent;
 * at start-up the node writes the entry of the hook's reported position again.
 * @module
 */
import { AwrError, errorChain } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { ExecutionPosition } from "./execution_hook.ts";
import { ensureDirDurable } from "../storage/atomic.ts";
import { join } from "../std/path.ts";
import { resultLogDirIn } from "../storage/data_dir.ts";

/** Heights per log file. */
export const RESULT_LOG_SEGMENT_HEIGHTS = 10_000;
/** Bytes of one height's slot (JSON + space padding + newline). */
export const RESULT_LOG_SLOT_BYTES = 512;
/** Most entries whose write failed that are kept for the next sync (oldest dropped beyond). */
export const RESULT_LOG_MAX_FAILED = 4_096;
/** Longest hash or driver name an entry keeps (longer values are refused). */
export const RESULT_LOG_MAX_FIELD = 80;

/** One height's execution result as the node saw it. */
export interface ExecutionResultEntry {
  readonly height: number;
  readonly nodeBlockHash: string;
  readonly executionBlockHash: string;
  readonly executionStateRoot: string;
  /** Name of the driver that produced it. */
  readonly driver: string;
  /** When the node received it (unix ms). */
  readonly receivedAtUnixMs: number;
}

/** The two execution hashes of a result (null when the hook has none yet). */
export type ResultHashes = Omit<ExecutionPosition, "height">;

/** Folder of a node's result log. */
export function resultLogDir(nodeDir: string): string {
  return resultLogDirIn(nodeDir);
}

function segmentName(height: number): string {
  const first = height - ((height - 1) % RESULT_LOG_SEGMENT_HEIGHTS);
  return `${String(first).padStart(10, "0")}.log`;
}

function slotOffset(height: number): number {
  return ((height - 1) % RESULT_LOG_SEGMENT_HEIGHTS) * RESULT_LOG_SLOT_BYTES;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Encodes an entry as its fixed-size slot. Throws {@link AwrError}
 * `RESULT_LOG_FIELD` when a field is too long or not a string.
 */
export function encodeResultSlot(e: ExecutionResultEntry): Uint8Array {
  for (const [k, v] of Object.entries(e)) {
    if (k === "height" || k === "receivedAtUnixMs") continue;
    if (typeof v !== "string" || v.length > RESULT_LOG_MAX_FIELD) {
      throw new AwrError(
        "RESULT_LOG_FIELD",
        `execution result of height ${e.height}: ${k} must be a string of at most ` +
          `${RESULT_LOG_MAX_FIELD} characters`,
        { height: e.height, field: k },
      );
    }
  }
  const json = JSON.stringify(resultEntryJson(e));
  const out = new Uint8Array(RESULT_LOG_SLOT_BYTES).fill(0x20);
  const body = enc.encode(json);
  if (body.length >= RESULT_LOG_SLOT_BYTES) {
    throw new AwrError(
      "RESULT_LOG_FIELD",
      `execution result of height ${e.height} does not fit a ${RESULT_LOG_SLOT_BYTES}-byte slot`,
      { height: e.height },
    );
  }
  out.set(body);
  out[RESULT_LOG_SLOT_BYTES - 1] = 0x0a;
  return out;
}

/** Decodes a slot; null when it is empty, torn or not for `height`. */
export function decodeResultSlot(slot: Uint8Array, height: number): ExecutionResultEntry | null {
  if (slot.length !== RESULT_LOG_SLOT_BYTES || slot[RESULT_LOG_SLOT_BYTES - 1] !== 0x0a) {
    return null;
  }
  try {
    const j = JSON.parse(dec.decode(slot));
    if (j.height !== height) return null;
    const strs = [j.node_block_hash, j.execution_block_hash, j.execution_state_root, j.driver];
    if (strs.some((s) => typeof s !== "string")) return null;
    return {
      height,
      nodeBlockHash: j.node_block_hash,
      executionBlockHash: j.execution_block_hash,
      executionStateRoot: j.execution_state_root,
      driver: j.driver,
      receivedAtUnixMs: Number(j.received_at_ms) || 0,
    };
  } catch {
    return null;
  }
}

/** Snake-case JSON of an entry, as the API and reports show it. */
export function resultEntryJson(e: ExecutionResultEntry): Record<string, unknown> {
  return {
    height: e.height,
    node_block_hash: e.nodeBlockHash,
    execution_block_hash: e.executionBlockHash,
    execution_state_root: e.executionStateRoot,
    driver: e.driver,
    received_at_ms: e.receivedAtUnixMs,
  };
}

/**
 * A node's execution result log (see the module doc).
 *
 * @example
 * ```ts
 * import { ExecutionResultLog } from "./result_log.ts";
 * const log = await ExecutionResultLog.open("/tmp/awr/node/node-1");
 * log.put({ height: 1, nodeBlockHash: "a", executionBlockHash: "b",
 *   executionStateRoot: "c", driver: "x", receivedAtUnixMs: 0 });
 * await log.sync();
 * console.log(await log.get(1));
 * log.close();
 * ```
 */
export class ExecutionResultLog {
  readonly dir: string;
  readonly #durable: boolean;
  #file: { name: string; fd: Deno.FsFile } | null = null;
  #unsynced = false;
  readonly #failed = new Map<number, Uint8Array>();

  private constructor(dir: string, durable: boolean) {
    this.dir = dir;
    this.#durable = durable;
  }

  /** Opens (creating) the log of the node whose folder is `nodeDir`. */
  static async open(nodeDir: string, durable = true): Promise<ExecutionResultLog> {
    const dir = resultLogDir(nodeDir);
    await ensureDirDurable(dir, durable);
    return new ExecutionResultLog(dir, durable);
  }

  /**
   * Writes height `e.height`'s slot now (no fsync; {@link sync} makes it durable).
   * Synchronous: one small positioned write, so results land in height order.
   */
  put(e: ExecutionResultEntry): void {
    const slot = encodeResultSlot(e);
    try {
      this.#write(e.height, slot);
      this.#failed.delete(e.height);
    } catch (err) {
      // Kept for sync(), which must not succeed until every entry is on disk.
      if (this.#failed.size >= RESULT_LOG_MAX_FAILED) {
        this.#failed.delete(this.#failed.keys().next().value!);
      }
      this.#failed.set(e.height, slot);
      throw err;
    }
  }

  #write(height: number, slot: Uint8Array): void {
    const name = segmentName(height);
    try {
      if (this.#file?.name !== name) {
        // Leaving a file (once per segment): make it durable first; sync() sees only the new one.
        if (this.#file && this.#unsynced && this.#durable) this.#file.fd.syncDataSync();
        this.#file?.fd.close();
        this.#file = null;
        const fd = Deno.openSync(join(this.dir, name), { read: true, write: true, create: true });
        this.#file = { name, fd };
      }
      const fd = this.#file.fd;
      fd.seekSync(slotOffset(height), Deno.SeekMode.Start);
      let done = 0;
      while (done < slot.length) done += fd.writeSync(slot.subarray(done));
      this.#unsynced = true;
    } catch (err) {
      // Reopen on the next write (an fsync of a new handle covers the file's dirty pages).
      this.#file?.fd.close();
      this.#file = null;
      this.#unsynced = true;
      throw err;
    }
  }

  /**
   * {@link put} for the node's result path: incomplete results are skipped and a
   * refused entry is logged (the node keeps running; `records verify` shows the gap).
   */
  record(
    height: number,
    nodeBlockHash: string,
    r: ResultHashes,
    driver: string,
    atUnixMs: number,
    log: Logger,
  ): void {
    if (height < 1 || !r.executionBlockHash || !r.executionStateRoot) return;
    try {
      this.put({
        height,
        nodeBlockHash,
        executionBlockHash: r.executionBlockHash,
        executionStateRoot: r.executionStateRoot,
        driver,
        receivedAtUnixMs: atUnixMs,
      });
    } catch (err) {
      log.warn("execution result not logged", { height, error: errorChain(err) });
    }
  }

  /** Makes every entry written so far durable (called before the node state write). */
  async sync(): Promise<void> {
    // Entries whose write failed first (disk full…): until they are written this
    // throws, so the node state never names a height the log lacks (the node halts
    // and retries, like any failed write of its own).
    for (const [height, slot] of this.#failed) {
      this.#write(height, slot);
      this.#failed.delete(height);
    }
    if (!this.#unsynced || !this.#file) return;
    if (this.#durable) await this.#file.fd.syncData();
    this.#unsynced = false;
  }

  /** Entries whose write failed and that the next {@link sync} writes again. */
  get failedCount(): number {
    return this.#failed.size;
  }

  /** The entry of `height`, or null when none was written (or it was torn). */
  async get(height: number): Promise<ExecutionResultEntry | null> {
    if (!Number.isSafeInteger(height) || height < 1) return null;
    let fd: Deno.FsFile;
    try {
      fd = await Deno.open(join(this.dir, segmentName(height)), { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
    try {
      await fd.seek(slotOffset(height), Deno.SeekMode.Start);
      const slot = new Uint8Array(RESULT_LOG_SLOT_BYTES);
      let got = 0;
      while (got < slot.length) {
        const n = await fd.read(slot.subarray(got));
        if (n === null) return null;
        got += n;
      }
      return decodeResultSlot(slot, height);
    } finally {
      fd.close();
    }
  }

  /**
   * Calls `visit` with the entry (or null) of each height `from..to`, reading each
   * file once (at most one segment, 5 MiB, in memory at a time).
   */
  async scan(
    from: number,
    to: number,
    visit: (height: number, e: ExecutionResultEntry | null) => Promise<void> | void,
  ): Promise<void> {
    let bytes: Uint8Array | null = null;
    let name = "";
    for (let h = Math.max(1, from); h <= to; h++) {
      if (segmentName(h) !== name) {
        name = segmentName(h);
        bytes = await Deno.readFile(join(this.dir, name)).catch((err) => {
          if (err instanceof Deno.errors.NotFound) return null;
          throw err;
        });
      }
      const at = slotOffset(h);
      const slot = bytes?.subarray(at, at + RESULT_LOG_SLOT_BYTES);
      await visit(h, slot ? decodeResultSlot(slot, h) : null);
    }
  }

  /** Closes the open file (entries stay on disk; sync first to make them durable). */
  close(): void {
    this.#file?.fd.close();
    this.#file = null;
  }
}
