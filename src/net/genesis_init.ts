/**
 * `awr genesis init`: a new network's genesis file and one data dir per validator
 * holding its key, plus the `awr live` command line of each node.
 *
 * ```
 * DIR/genesis.json
 * DIR/node1/validator_key.json   (mode 0600)
 * DIR/node2/validator_key.json
 * ```
 *
 * Validators are `v1`..`vN` at `/ip4/<host>/tcp/<base-port + i - 1>`.
 * @module
 */
import { join } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { parseGenesis } from "../consensus/bft/genesis.ts";
import { ensureDirDurable, writeFileAtomic } from "../storage/atomic.ts";
import { generateValidatorKey, validatorKeyPath, writeValidatorKey } from "./keys.ts";

/** Most validators `genesis init` makes (each is a process on one machine with `awr cluster`). */
export const MAX_INIT_VALIDATORS = 64;

/** Options of {@link initGenesis}. */
export interface GenesisInitOptions {
  /** Number of validators (1..{@link MAX_INIT_VALIDATORS}). */
  validators: number;
  /** Folder to create; must be missing or empty. */
  outDir: string;
  /** World id written to the genesis. */
  worldId: string;
  /** p2p port of the first validator; the others follow consecutively. */
  basePort: number;
  /** Stake of each validator. */
  stake: number;
  /** IPv4 address the validators listen on. */
  host: string;
  /** fsync what is written (default true; logic tests may skip it). */
  durable: boolean;
}

/** Defaults of {@link GenesisInitOptions} (all but `validators` and `outDir`). */
export const defaultGenesisInitOptions: Omit<GenesisInitOptions, "validators" | "outDir"> = {
  worldId: "world-1",
  basePort: 26656,
  stake: 10,
  host: "127.0.0.1",
  durable: true,
};

/** One node of a new network. */
export interface InitNode {
  /** Validator id in the genesis (`v1`…). */
  readonly id: string;
  /** Its data dir (`DIR/node<i>`). */
  readonly dataDir: string;
  readonly publicKeyHex: string;
  /** Its p2p listen address (a multiaddr). */
  readonly address: string;
}

/** What {@link initGenesis} made. */
export interface GenesisInit {
  readonly genesisPath: string;
  readonly worldId: string;
  readonly nodes: readonly InitNode[];
}

/** Name of the genesis file in an init folder. */
export const GENESIS_FILE = "genesis.json";

/** Data dir of node `i` (1-based) in an init folder. */
export function initNodeDir(outDir: string, i: number): string {
  return join(outDir, `node${i}`);
}

function bad(field: string, why: string): never {
  throw new AwrError("GENESIS_INIT_OPTION", `genesis init: ${field} ${why}`, { field });
}

/** Checks the options; the error names the option. */
function checkOptions(o: GenesisInitOptions): void {
  if (!Number.isSafeInteger(o.validators) || o.validators < 1) {
    bad("validators", `must be a positive integer, got ${o.validators}`);
  }
  if (o.validators > MAX_INIT_VALIDATORS) {
    bad("validators", `must be at most ${MAX_INIT_VALIDATORS}, got ${o.validators}`);
  }
  if (!Number.isSafeInteger(o.basePort) || o.basePort < 1) {
    bad("base port", `must be a port number, got ${o.basePort}`);
  }
  if (o.basePort + o.validators - 1 > 65535) {
    bad("base port", `${o.basePort} leaves no room for ${o.validators} ports below 65536`);
  }
  if (!Number.isSafeInteger(o.stake) || o.stake < 1) {
    bad("stake", `must be a positive integer, got ${o.stake}`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(o.worldId)) {
    bad("world id", `must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit`);
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(o.host)) bad("host", `must be an IPv4 address: ${o.host}`);
}

/** Refuses an existing `dir` that is not an empty folder, naming it. */
async function checkOutDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw new AwrError("GENESIS_INIT_OUT", `cannot use ${dir}: ${String(err)}`, { path: dir });
  }
  if (!info.isDirectory) {
    throw new AwrError("GENESIS_INIT_OUT", `${dir} exists and is not a folder`, { path: dir });
  }
  for await (const _ of Deno.readDir(dir)) {
    throw new AwrError(
      "GENESIS_INIT_OUT",
      `${dir} is not empty; genesis init writes only into a new or empty folder`,
      { path: dir },
    );
  }
}

/**
 * Writes a new network: keys first (each `node<i>/validator_key.json`, mode 0600), then
 * `genesis.json` listing their public keys. Refuses an `outDir` that is not empty.
 *
 * @example
 * ```ts
 * import { initGenesis } from "./genesis_init.ts";
 * const net = await initGenesis({ validators: 4, outDir: "/tmp/awr-net" });
 * net.nodes[0].address; // "/ip4/127.0.0.1/tcp/26656"
 * ```
 */
export async function initGenesis(
  input: Pick<GenesisInitOptions, "validators" | "outDir"> & Partial<GenesisInitOptions>,
): Promise<GenesisInit> {
  const o: GenesisInitOptions = { ...defaultGenesisInitOptions, ...input };
  checkOptions(o);
  await checkOutDir(o.outDir);
  const nodes: InitNode[] = [];
  for (let i = 1; i <= o.validators; i++) {
    const dataDir = initNodeDir(o.outDir, i);
    await ensureDirDurable(dataDir, o.durable);
    const key = await generateValidatorKey();
    await writeValidatorKey(validatorKeyPath(dataDir), key, { durable: o.durable });
    nodes.push({
      id: `v${i}`,
      dataDir,
      publicKeyHex: key.publicKeyHex,
      address: `/ip4/${o.host}/tcp/${o.basePort + i - 1}`,
    });
  }
  const genesis = {
    version: 1,
    world_id: o.worldId,
    validators: nodes.map((n) => ({
      id: n.id,
      public_key: n.publicKeyHex,
      stake: o.stake,
      address: n.address,
    })),
  };
  parseGenesis(genesis); // what we write must read back (world id syntax, bounds)
  const genesisPath = join(o.outDir, GENESIS_FILE);
  const text = JSON.stringify(genesis, null, 2) + "\n";
  await writeFileAtomic(genesisPath, new TextEncoder().encode(text), { durable: o.durable });
  return { genesisPath, worldId: o.worldId, nodes };
}

/**
 * The `awr live` arguments of node `index` (0-based) of a network: its data dir, the
 * genesis, its listen address and every other node's address as peers.
 *
 * @example
 * ```ts ignore
 * liveArgsOf(net, 0); // ["live", "--data-dir", "DIR/node1", "--genesis", ...]
 * ```
 */
export function liveArgsOf(
  net: Pick<GenesisInit, "genesisPath" | "nodes">,
  index: number,
): string[] {
  const node = net.nodes[index];
  const peers = net.nodes.filter((_, i) => i !== index).map((n) => n.address);
  const args = ["live", "--data-dir", node.dataDir, "--genesis", net.genesisPath];
  args.push("--listen", node.address);
  if (peers.length > 0) args.push("--peers", peers.join(","));
  return args;
}

/**
 * One shell word: as it is when it holds only safe characters, else single-quoted.
 *
 * @example
 * ```ts
 * import { shellWord } from "./genesis_init.ts";
 * shellWord("a b"); // "'a b'"
 * ```
 */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A command line to print: `awr` then the words, shell-quoted. */
export function commandLine(args: readonly string[], program = "awr"): string {
  return [program, ...args].map(shellWord).join(" ");
}
