/**
 * The data-dir layout, in one place: every path a module reads or writes under
 * `<data>` comes from a function here, so the README's "Data directory" table and
 * `tests/unit/data_dir_test.ts` (golden paths) describe the whole of it. Modules
 * keep their own file formats; only where the files live is decided here.
 * @module
 */
import { join } from "../std/path.ts";

/** Names inside a node's folder `<data>/node/<node_id>/`. */
export const NODE_FILES = {
  /** The node's state snapshot (`PosNodeStateSnapshot`). */
  state: "node_pos_state.cbor",
  /** Committed blocks. */
  blocks: "blocks",
  /** The node's log of every execution hook result. */
  resultLog: "execution_results",
  /** A local BFT validator's signer state. */
  signerState: "signer_state.cbor",
  /** A local BFT validator's signer state journal (newer than `signerState`). */
  signerJournal: "signer_state.journal",
} as const;

/**
 * `<data>/awr.lock`: the one-process-per-data-dir lock.
 *
 * @example
 * ```ts
 * import { lockPath } from "./data_dir.ts";
 * lockPath("/var/awr"); // "/var/awr/awr.lock"
 * ```
 */
export function lockPath(dataDir: string): string {
  return join(dataDir, "awr.lock");
}

/** `<data>/api_token`: the HTTP bearer token. */
export function apiTokenPath(dataDir: string): string {
  return join(dataDir, "api_token");
}

/** `<data>/mempool`: the mempool's folder. */
export function mempoolDir(dataDir: string): string {
  return join(dataDir, "mempool");
}

/** `<data>/mempool/actions.log`: acknowledged actions not yet committed. */
export function mempoolLogPath(dataDir: string): string {
  return join(mempoolDir(dataDir), "actions.log");
}

/** `<data>/node`: one folder per node id (and per local validator). */
export function nodesDir(dataDir: string): string {
  return join(dataDir, "node");
}

/**
 * `<data>/node/<node_id>`: one node's folder.
 *
 * @example
 * ```ts
 * import { nodeDir } from "./data_dir.ts";
 * nodeDir("/var/awr", "node-1"); // "/var/awr/node/node-1"
 * ```
 */
export function nodeDir(dataDir: string, nodeId: string): string {
  return join(nodesDir(dataDir), nodeId);
}

/** `<data>/node/<node_id>/node_pos_state.cbor`: the node's state file. */
export function nodeStatePath(dataDir: string, nodeId: string): string {
  return join(nodeDir(dataDir, nodeId), NODE_FILES.state);
}

/** `<data>/node/<node_id>/blocks`: the node's committed blocks. */
export function blocksDir(dataDir: string, nodeId: string): string {
  return join(nodeDir(dataDir, nodeId), NODE_FILES.blocks);
}

/** `<node folder>/execution_results`: the result log inside a node folder. */
export function resultLogDirIn(nodeFolder: string): string {
  return join(nodeFolder, NODE_FILES.resultLog);
}

/** `<data>/node/<validator>/signer_state.cbor`: a local validator's BFT signer state. */
export function signerStatePath(dataDir: string, validatorId: string): string {
  return join(nodeDir(dataDir, validatorId), NODE_FILES.signerState);
}

/** `<data>/node/<validator>/signer_state.journal`: the signer states saved since a start. */
export function signerJournalPath(dataDir: string, validatorId: string): string {
  return join(nodeDir(dataDir, validatorId), NODE_FILES.signerJournal);
}

/** `<data>/execution`: the execution core's folder. */
export function executionDir(dataDir: string): string {
  return join(dataDir, "execution");
}

/** `<data>/execution/state.cbor`: the execution state file (pre-pack data dirs, and mirrors). */
export function executionStatePath(dataDir: string): string {
  return join(executionDir(dataDir), "state.cbor");
}

/** `<data>/execution/records`: one execution record file per height. */
export function recordsDir(dataDir: string): string {
  return join(executionDir(dataDir), "records");
}

/** `<data>/store`: CAS blob files (data dirs from before the pack store) and the packs. */
export function storeDir(dataDir: string): string {
  return join(dataDir, "store");
}

/** `<data>/store/packs`: the execution pack segments. */
export function packDir(dataDir: string): string {
  return join(storeDir(dataDir), "packs");
}

/**
 * `<data>/drivers/<name>`: a driver's own folder (the one place its sandbox may write
 * besides what the host writes for it).
 *
 * @example
 * ```ts
 * import { driverDir } from "./data_dir.ts";
 * driverDir("/var/awr", "counter"); // "/var/awr/drivers/counter"
 * ```
 */
export function driverDir(dataDir: string, driverName: string): string {
  return join(dataDir, "drivers", driverName);
}

/** `<data>/reward`: the reward runtime's folder. */
export function rewardDir(dataDir: string): string {
  return join(dataDir, "reward");
}

/** `<data>/reward/ledger.cbor`: settled reward points. */
export function ledgerPath(dataDir: string): string {
  return join(rewardDir(dataDir), "ledger.cbor");
}

/** `<data>/reports`: epoch reports and `latest.json`. */
export function reportsDir(dataDir: string): string {
  return join(dataDir, "reports");
}

/**
 * The id of the data dir's only node folder under `<data>/node/`; null when there is
 * none, several, or no such folder (tools then need an explicit node id). Reads at
 * most two directory entries that are folders.
 *
 * @example
 * ```ts ignore
 * import { onlyNodeId } from "./data_dir.ts";
 * const id = await onlyNodeId("./data"); // "node-1", or null
 * ```
 */
export async function onlyNodeId(dataDir: string): Promise<string | null> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(nodesDir(dataDir))) {
      if (e.isDirectory) ids.push(e.name);
      if (ids.length > 1) return null;
    }
  } catch {
    return null;
  }
  return ids[0] ?? null;
}
