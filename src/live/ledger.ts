/**
 * The reward ledger (`<data>/reward/ledger.cbor`): points settled per account, and
 * how far settlement got. Written atomically at each epoch settlement, so a crash
 * re-settles at most the open epoch, from blocks and records, never twice.
 * @module
 */
import { readFileIfExists } from "../storage/atomic.ts";
import { rewriteFileAtomic } from "../storage/rewrite.ts";
import {
  type Decoded,
  decodeFile,
  defaultsOf,
  encodeFile,
  type FileSchema,
} from "../storage/schema.ts";
import { ledgerPath } from "../storage/data_dir.ts";

/** Settled rewards. */
export interface RewardLedger {
  worldId: string;
  /** Last height whose epoch has been settled (0 = none). */
  settledThroughHeight: number;
  /** Last settled epoch, or null before the first settlement. */
  lastSettledEpoch: number | null;
  /** Account → points. */
  balances: Record<string, number>;
}

/** Schema of the ledger file (version 1). */
export const LEDGER_SCHEMA: FileSchema<RewardLedger> = {
  kind: "RewardLedger",
  version: 1,
  fields: [
    { key: "worldId", wire: "world_id", type: "string", default: "" },
    { key: "settledThroughHeight", wire: "settled_through_height", type: "u64", default: 0 },
    { key: "lastSettledEpoch", wire: "last_settled_epoch", type: "u64?", default: null },
    { key: "balances", wire: "balances", type: "object", default: {} },
  ],
};

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { ledgerPath };

/**
 * Reads the ledger (defaults when absent).
 *
 * @example
 * ```ts
 * import { readLedger } from "./ledger.ts";
 * const { value } = await readLedger("./data");
 * ```
 */
export async function readLedger(dataDir: string): Promise<Decoded<RewardLedger>> {
  const path = ledgerPath(dataDir);
  const bytes = await readFileIfExists(path);
  if (!bytes) {
    return { value: defaultsOf(LEDGER_SCHEMA), unknown: {}, version: LEDGER_SCHEMA.version };
  }
  return decodeFile(LEDGER_SCHEMA, bytes, path);
}

/** Writes the ledger atomically (once per epoch: no inode made or freed). */
export async function writeLedger(
  dataDir: string,
  ledger: RewardLedger,
  unknown: Record<string, unknown>,
): Promise<void> {
  const path = ledgerPath(dataDir);
  await rewriteFileAtomic(path, encodeFile(LEDGER_SCHEMA, ledger, unknown, path));
}
