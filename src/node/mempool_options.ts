/**
 * Options of the durable mempool, their defaults, and where its log lives.
 * @module
 */
import { type Logger, silentLogger } from "../logger.ts";
import { denoLogFs, type LogFs } from "./mempool_log.ts";

/** Options of `Mempool.open`. */
export interface MempoolOptions {
  /** The data dir; the log is `<dataDir>/mempool/actions.log`. */
  dataDir: string;
  /** Most actions waiting (acknowledged, not yet committed). */
  maxSize: number;
  /** Most included action ids (and their keys) remembered for status and retries. */
  maxRememberedIds: number;
  /** fsync appends (false only in logic tests). */
  durable: boolean;
  /** The log is compacted once it is larger than this and mostly dead. */
  compactMinBytes: number;
  /** Largest frame (one batch); bigger batches are refused, bigger frames are corruption. */
  maxFrameBytes: number;
  /** Largest log file read at start. */
  maxLogBytes: number;
  fs: LogFs;
  logger: Logger;
  /**
   * Blocks may carry actions in another order or that this node did not queue first (a
   * network of validators, each proposing from its own mempool): committed actions are
   * then matched by content, never refused (`MEMPOOL_LOG_MISMATCH`) at start.
   */
  foreignBlocks: boolean;
}

/** Defaults of {@link MempoolOptions} (besides `dataDir`). */
export const defaultMempoolOptions: Omit<MempoolOptions, "dataDir"> = {
  maxSize: 10_000,
  maxRememberedIds: 100_000,
  durable: true,
  compactMinBytes: 1 << 20,
  maxFrameBytes: 8 << 20,
  maxLogBytes: 512 << 20,
  fs: denoLogFs,
  logger: silentLogger,
  foreignBlocks: false,
};

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { mempoolLogPath } from "../storage/data_dir.ts";
