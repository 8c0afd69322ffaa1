/**
 * Offline check of a node's execution result log (`awr records verify`), for any
 * driver: every height 1..the state file's execution height has an entry, and each
 * entry's node block hash is the stored block's hash. The bridge driver's deeper
 * record and CAS check is `execution/verify.ts`; the CLI runs both when it applies.
 * @module
 */
import { errorMessage } from "../errors.ts";
import { BlockStore } from "./block_store.ts";
import { ExecutionResultLog, resultLogDir } from "./result_log.ts";
import { nodeDir, nodeStatePath, readNodeState } from "./state_file.ts";
import { blocksDir } from "../storage/data_dir.ts";

/** Outcome of {@link verifyResultLog}. */
export interface ResultLogReport {
  readonly ok: boolean;
  /** Heights checked. */
  readonly heights: number;
  /** Driver names seen in the log, in order of first appearance. */
  readonly drivers: string[];
  readonly firstBad?: { readonly height: number; readonly problem: string };
}

/** Options of {@link verifyResultLog}. */
export interface VerifyResultLogOptions {
  /**
   * Where a height without a log entry may be found instead (e.g. the bridge driver's
   * record, for heights executed in bridge mode before a switch to node mode).
   */
  fallback?: (height: number) => Promise<{ nodeBlockHash: string; driver: string } | null>;
}

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { onlyNodeId } from "../storage/data_dir.ts";

/**
 * Checks node `nodeId`'s result log against its state file and block store.
 *
 * @example
 * ```ts
 * import { verifyResultLog } from "./result_verify.ts";
 * const r = await verifyResultLog("./data", "node-1");
 * if (!r.ok) console.log(r.firstBad);
 * ```
 */
export async function verifyResultLog(
  dataDir: string,
  nodeId: string,
  options: VerifyResultLogOptions = {},
): Promise<ResultLogReport> {
  const dir = nodeDir(dataDir, nodeId);
  const drivers: string[] = [];
  let done = 0;
  const bad = (height: number, problem: string): ResultLogReport => ({
    ok: false,
    heights: done,
    drivers,
    firstBad: { height, problem },
  });
  let upper: number;
  try {
    const state = await readNodeState(nodeStatePath(dataDir, nodeId));
    if (!state) return bad(0, `no node state file at ${nodeStatePath(dataDir, nodeId)}`);
    upper = state.value.lastExecutionHeight;
  } catch (err) {
    return bad(0, errorMessage(err));
  }
  const exists = await Deno.stat(resultLogDir(dir)).then(() => true, () => false);
  if (!exists && upper > 0) return bad(1, `no execution result log at ${resultLogDir(dir)}`);
  if (!exists) return { ok: true, heights: 0, drivers };
  const log = await ExecutionResultLog.open(dir, false);
  const blocks = new BlockStore(blocksDir(dataDir, nodeId), { durable: false });
  let first: { height: number; problem: string } | null = null;
  try {
    await log.scan(1, upper, async (h, logged) => {
      if (first) return;
      const e = logged ?? await options.fallback?.(h) ?? null;
      if (!e) {
        first = { height: h, problem: `no execution result logged for height ${h}` };
        return;
      }
      const block = await blocks.getBlock(h);
      if (!block) {
        first = { height: h, problem: `committed block ${h} is missing` };
      } else if (block.hash !== e.nodeBlockHash) {
        first = {
          height: h,
          problem: `node_block_hash ${e.nodeBlockHash} is not the stored block's ${block.hash}`,
        };
      } else {
        if (!drivers.includes(e.driver)) drivers.push(e.driver);
        done++;
      }
    });
  } catch (err) {
    return bad(done + 1, errorMessage(err));
  }
  const f = first as { height: number; problem: string } | null;
  return f ? bad(f.height, f.problem) : { ok: true, heights: done, drivers };
}
