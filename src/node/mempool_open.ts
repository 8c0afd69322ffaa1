/**
 * The mempool log on disk at open: the folder (created durable), stale compaction
 * temps removed, the size bound, a torn tail cut, the first frame checked to be a
 * base. What is left is the decoded records, for the mempool to replay.
 * @module
 */
import { AwrError } from "../errors.ts";
import { removeStaleTemps, syncDir } from "../storage/atomic.ts";
import { decodeCbor } from "../storage/cbor.ts";
import { mempoolDir } from "../storage/data_dir.ts";
import { decodeFrames, GroupCommitLog } from "./mempool_log.ts";
import { mempoolLogPath, type MempoolOptions } from "./mempool_options.ts";
import { decodeRecord, type LogRecord } from "./mempool_records.ts";

/**
 * Opens `<data>/mempool/actions.log` for appending and returns its records (none for
 * a new log). Throws `MEMPOOL_LOG_TOO_LARGE` beyond `maxLogBytes` and
 * `MEMPOOL_LOG_MISMATCH` when the log does not start with a base frame.
 *
 * @example
 * ```ts ignore
 * const { records, log } = await openMempoolLog({ ...defaultMempoolOptions, dataDir });
 * ```
 */
export async function openMempoolLog(
  opts: MempoolOptions,
): Promise<{ path: string; records: LogRecord[]; log: GroupCommitLog }> {
  const path = mempoolLogPath(opts.dataDir);
  const dir = mempoolDir(opts.dataDir);
  const existed = await Deno.stat(dir).then(() => true, () => false);
  await Deno.mkdir(dir, { recursive: true });
  // A new folder must survive a power cut too; temp files of a compaction a crash cut are stale.
  if (!existed && opts.durable) await syncDir(opts.dataDir);
  await removeStaleTemps(dir);
  const bytes = await opts.fs.read(path) ?? new Uint8Array();
  if (bytes.length > opts.maxLogBytes) {
    throw new AwrError(
      "MEMPOOL_LOG_TOO_LARGE",
      `mempool log ${path} has ${bytes.length} bytes, more than the ${opts.maxLogBytes} allowed`,
      { path, bytes: bytes.length },
    );
  }
  const { payloads, validBytes } = decodeFrames(bytes, opts.maxFrameBytes);
  const records = payloads.map((p, i) => decodeRecord(decodeCbor(p), path, i));
  if (validBytes < bytes.length) {
    opts.logger.warn("mempool log: cut a torn tail", {
      path,
      kept_bytes: validBytes,
      cut_bytes: bytes.length - validBytes,
    });
    await opts.fs.truncate(path, validBytes);
  }
  if (records.length > 0 && records[0].type !== "base") {
    throw new AwrError(
      "MEMPOOL_LOG_MISMATCH",
      `mempool log ${path} does not start with a base frame`,
      { path },
    );
  }
  const file = await opts.fs.openAppend(path);
  return { path, records, log: new GroupCommitLog(opts.fs, path, file, validBytes, opts.durable) };
}
