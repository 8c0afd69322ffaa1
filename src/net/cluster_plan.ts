/**
 * What `awr cluster` runs, apart from running it: the network folder (made by
 * `genesis init` when empty, checked when reused), each child's `awr live` arguments,
 * and the combined status line. Pure but for reading the folder.
 * @module
 */
import { join } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { readGenesis } from "./genesis_node.ts";
import {
  GENESIS_FILE,
  type GenesisInit,
  initGenesis,
  type InitNode,
  initNodeDir,
  liveArgsOf,
} from "./genesis_init.ts";
import { loadValidatorKey, validatorKeyPath } from "./keys.ts";

/** Most nodes one `awr cluster` starts. */
export const MAX_CLUSTER_NODES = 64;

/** Options of a local cluster. */
export interface ClusterOptions {
  /** Number of validator processes (1..{@link MAX_CLUSTER_NODES}). */
  nodes: number;
  /** Network folder: genesis.json and node1..nodeN. */
  dataDir: string;
  /** `--tick-ms` of every node, or null for awr live's default. */
  tickMs: number | null;
  /** `--driver` of every node, or null for awr live's default. */
  driver: string | null;
  /** p2p port of the first node when the folder is new. */
  basePort: number;
  /** World id when the folder is new. */
  worldId: string;
  /** Milliseconds between combined status lines. */
  statusEveryMs: number;
  /** Budget of one node's `/v1/status` answer (ms). */
  statusTimeoutMs: number;
  /** How long a stop waits for the children before SIGKILL (ms). */
  stopTimeoutMs: number;
  /** The program and leading arguments that run awr (`[deno, run, -A, mod.ts]` or `[awr]`). */
  awr: readonly string[];
  /** Extra `awr live` arguments given to every node (e.g. `--log-level warn`). */
  liveArgs: readonly string[];
}

/** Defaults of {@link ClusterOptions} (all but `nodes`, `dataDir`, `awr`). */
export const defaultClusterOptions: Omit<ClusterOptions, "nodes" | "dataDir" | "awr"> = {
  tickMs: null,
  driver: null,
  basePort: 26656,
  worldId: "world-1",
  statusEveryMs: 5_000,
  statusTimeoutMs: 2_000,
  stopTimeoutMs: 20_000,
  liveArgs: [],
};

function bad(option: string, why: string): never {
  throw new AwrError("CLUSTER_OPTION", `cluster: ${option} ${why}`, { option });
}

/** Checks the options; the error names the option. */
export function checkClusterOptions(o: ClusterOptions): void {
  if (!Number.isSafeInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_CLUSTER_NODES) {
    bad("nodes", `must be 1..${MAX_CLUSTER_NODES}, got ${o.nodes}`);
  }
  for (
    const [name, v] of [
      ["status interval", o.statusEveryMs],
      ["status timeout", o.statusTimeoutMs],
      ["stop timeout", o.stopTimeoutMs],
    ] as const
  ) {
    if (!Number.isSafeInteger(v) || v < 1) bad(name, `must be a positive integer, got ${v}`);
  }
  if (o.awr.length === 0) bad("awr command", "is empty");
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    throw new AwrError("CLUSTER_DIR", `cannot read ${dir}: ${String(err)}`, { path: dir });
  }
}

/**
 * The network in `o.dataDir`: made with `genesis init` when the folder is missing or
 * empty (`created` true), else read back and checked: its genesis lists exactly
 * `o.nodes` validators and `node<i>/validator_key.json` holds validator i's key
 * (`CLUSTER_DIR` naming what does not fit).
 *
 * @example
 * ```ts ignore
 * const { net, created } = await prepareCluster({ ...defaultClusterOptions, nodes: 4,
 *   dataDir: "testnet", awr: ["awr"] });
 * ```
 */
export async function prepareCluster(
  o: Pick<ClusterOptions, "nodes" | "dataDir" | "basePort" | "worldId">,
): Promise<{ net: GenesisInit; created: boolean }> {
  if (await isEmptyOrMissing(o.dataDir)) {
    const net = await initGenesis({
      validators: o.nodes,
      outDir: o.dataDir,
      basePort: o.basePort,
      worldId: o.worldId,
    });
    return { net, created: true };
  }
  const genesisPath = join(o.dataDir, GENESIS_FILE);
  const reuse = (why: string): never => {
    throw new AwrError(
      "CLUSTER_DIR",
      `${o.dataDir} is not empty and is not a ${o.nodes}-node cluster folder: ${why}`,
      { path: o.dataDir },
    );
  };
  let genesis;
  try {
    genesis = await readGenesis(genesisPath);
  } catch (err) {
    reuse(err instanceof Error ? err.message : String(err));
  }
  // Genesis ids sort as strings (v1, v10, v2…); node folders follow v<i>.
  const byId = new Map(genesis!.validators.validators.map((v) => [v.id, v]));
  if (byId.size !== o.nodes) reuse(`${genesisPath} lists ${byId.size} validators`);
  const nodes: InitNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const v = byId.get(`v${i}`) ?? reuse(`${genesisPath} has no validator v${i}`);
    const dataDir = initNodeDir(o.dataDir, i);
    const key = await loadValidatorKey(validatorKeyPath(dataDir)).catch((err) =>
      reuse(err instanceof Error ? err.message : String(err))
    );
    if (key.publicKeyHex !== v.publicKey) {
      reuse(`${validatorKeyPath(dataDir)} is not the key of v${i} in ${genesisPath}`);
    }
    const address = genesis!.addresses.get(v.id) ??
      `/ip4/127.0.0.1/tcp/${o.basePort + i - 1}`;
    nodes.push({ id: v.id, dataDir, publicKeyHex: v.publicKey, address });
  }
  return { net: { genesisPath, worldId: genesis!.worldId, nodes }, created: false };
}

/**
 * The arguments (after the awr program) of node `index`'s `awr live`: the genesis
 * init line plus its HTTP port on loopback, no status lines of its own (the cluster
 * prints one for all), and the cluster-wide tick, driver and extra flags.
 *
 * @example
 * ```ts ignore
 * childArgs(net, 0, 7071, { tickMs: 100, driver: null, liveArgs: [] });
 * ```
 */
export function childArgs(
  net: Pick<GenesisInit, "genesisPath" | "nodes">,
  index: number,
  httpPort: number,
  o: Pick<ClusterOptions, "tickMs" | "driver" | "liveArgs">,
): string[] {
  const args = liveArgsOf(net, index);
  args.push("--http", `127.0.0.1:${httpPort}`, "--status-every", "0");
  if (o.tickMs !== null) args.push("--tick-ms", String(o.tickMs));
  if (o.driver !== null) args.push("--driver", o.driver);
  args.push(...o.liveArgs);
  return args;
}

/** One node's part of the status line: its heights and peers, or why it did not answer. */
export type NodeStatusEntry =
  | { id: string; committed: number; executed: number; peers: number }
  | { id: string; error: string };

/**
 * Reads the fields of a `/v1/status` body the status line shows: committed and
 * executed height, and the number of peers (`known_peer_heads` entries). Missing or
 * mistyped fields count as an error.
 */
export function statusEntry(id: string, body: unknown): NodeStatusEntry {
  const o = (body ?? {}) as Record<string, unknown>;
  const c = (o.consensus ?? {}) as Record<string, unknown>;
  const committed = c.committed_height;
  const executed = c.last_execution_height;
  if (typeof committed !== "number" || typeof executed !== "number") {
    return { id, error: "bad status" };
  }
  const heads = o.known_peer_heads ?? c.known_peer_heads;
  const peers = Array.isArray(heads)
    ? heads.length
    : heads !== null && typeof heads === "object"
    ? Object.keys(heads).length
    : 0;
  return { id, committed, executed, peers };
}

/**
 * The combined status line: the range of committed and executed heights over the
 * nodes that answered, then each node as `id committed/executed pN` or `id down (why)`.
 *
 * @example
 * ```ts
 * import { formatClusterStatus } from "./cluster_plan.ts";
 * formatClusterStatus([{ id: "v1", committed: 5, executed: 4, peers: 1 }, { id: "v2", error: "timeout" }]);
 * // "cluster: committed 5..5 executed 4..4 | v1 5/4 p1 | v2 down (timeout)"
 * ```
 */
export function formatClusterStatus(entries: readonly NodeStatusEntry[]): string {
  const up = entries.filter((e) => !("error" in e)) as {
    id: string;
    committed: number;
    executed: number;
    peers: number;
  }[];
  const range = (xs: number[]) => xs.length === 0 ? "-" : `${Math.min(...xs)}..${Math.max(...xs)}`;
  const head = `cluster: committed ${range(up.map((e) => e.committed))} ` +
    `executed ${range(up.map((e) => e.executed))}`;
  const parts = entries.map((e) =>
    "error" in e ? `${e.id} down (${e.error})` : `${e.id} ${e.committed}/${e.executed} p${e.peers}`
  );
  return [head, ...parts].join(" | ");
}
