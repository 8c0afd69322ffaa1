/**
 * Reward runtime reports (`<data>/reports/`): JSON for people and tools, versioned
 * by `schema` and documented in the README.
 *  - `latest.json`: where consensus, execution and settlement stand now;
 *  - `epoch-<n>.json`: one epoch's settlement, written once when the epoch closes.
 * @module
 */
import type { ExecutionMode } from "../execution/state_file.ts";
import { join } from "../std/path.ts";
import { writeFileAtomic } from "../storage/atomic.ts";
import { rewriteFileAtomic } from "../storage/rewrite.ts";
import { reportsDir } from "../storage/data_dir.ts";

/** Version of both report formats. */
export const REPORT_SCHEMA = 1;

/** Points per role and account for one epoch. */
export interface Settlement {
  proposer: Record<string, number>;
  attester: Record<string, number>;
  executor: Record<string, number>;
  total: Record<string, number>;
}

/** `reports/epoch-<n>.json`. */
export interface EpochReport {
  schema: number;
  kind: "awr.epoch_report";
  world_id: string;
  node_id: string;
  execution_mode: ExecutionMode;
  epoch: number;
  first_height: number;
  last_height: number;
  blocks: number;
  actions: number;
  consensus: {
    last_block_hash: string;
    last_execution_height: number;
    last_execution_block_hash: string | null;
    last_execution_state_root: string | null;
  };
  settlement: Settlement;
  balances_after: Record<string, number>;
}

/** `reports/latest.json`. */
export interface LatestReport {
  schema: number;
  kind: "awr.latest_report";
  generated_at_unix_ms: number;
  world_id: string;
  node_id: string;
  execution_mode: ExecutionMode;
  consensus: {
    slot: number;
    epoch: number;
    committed_height: number;
    last_block_hash: string | null;
    last_execution_height: number;
    last_execution_block_hash: string | null;
    last_execution_state_root: string | null;
  };
  execution_lag: number;
  last_error: string | null;
  reward: {
    settled_through_height: number;
    last_settled_epoch: number | null;
    balances: Record<string, number>;
  };
}

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { reportsDir };

const jsonBytes = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

/**
 * Writes `reports/epoch-<n>.json`.
 *
 * @example
 * ```ts
 * import { writeEpochReport } from "./reports.ts";
 * // await writeEpochReport("./data", report);
 * ```
 */
export async function writeEpochReport(dataDir: string, report: EpochReport): Promise<string> {
  const path = join(reportsDir(dataDir), `epoch-${report.epoch}.json`);
  await writeFileAtomic(path, jsonBytes(report));
  return path;
}

/** Writes `reports/latest.json` (rewritten in place of its old inode: `rewrite.ts`). */
export async function writeLatestReport(dataDir: string, report: LatestReport): Promise<string> {
  const path = join(reportsDir(dataDir), "latest.json");
  await rewriteFileAtomic(path, jsonBytes(report));
  return path;
}
