/**
 * Helpers of the full-tier network tests (separate `awr live` processes on 127.0.0.1):
 * free ports, `awr genesis init`, committed heights from status, and each node's chain
 * (block hashes and execution state roots) read from its data dir.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { awr } from "./cli.ts";
import type { LiveProcess } from "./live_process.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { ExecutionResultLog } from "../../src/node/result_log.ts";
import { nodeDir } from "../../src/node/state_file.ts";

/** A base port with `n` consecutive free ports (checked by binding each). */
export function freeBase(n: number): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768-60999 by default): a range checked free there
    // can be taken by any outgoing connection's local port before the nodes bind it.
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < n; i++) held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      return base;
    } catch {
      // taken: try another range
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error("no free port range");
}

/** The loopback TCP multiaddr of `port`. */
export const addr = (port: number): string => `/ip4/127.0.0.1/tcp/${port}`;

/** `awr live` flags of node `i` of a network listening on `all`: genesis, its address, the others as peers. */
export function networkArgs(genesis: string, all: readonly string[], i: number): string[] {
  return [
    "--genesis",
    genesis,
    "--listen",
    all[i],
    "--peers",
    all.filter((_, j) => j !== i).join(","),
  ];
}

/** A node's committed height from its /v1/status. */
export async function committed(p: LiveProcess): Promise<number> {
  const s = await p.status();
  return (s.consensus as { committed_height: number }).committed_height;
}

/** Lowest committed height of `ps`. */
export async function minHeight(ps: readonly LiveProcess[]): Promise<number> {
  return Math.min(...await Promise.all(ps.map(committed)));
}

/** Highest committed height of `ps`. */
export async function maxHeight(ps: readonly LiveProcess[]): Promise<number> {
  return Math.max(...await Promise.all(ps.map(committed)));
}

/** Lowest execution height of `ps` (`consensus.last_execution_height`). */
export async function minExecuted(ps: readonly LiveProcess[]): Promise<number> {
  const heights = await Promise.all(ps.map(async (p) => {
    const s = await p.status();
    return (s.consensus as { last_execution_height: number }).last_execution_height;
  }));
  return Math.min(...heights);
}

/** Block hashes of heights 1..upTo in a node's data dir ("missing" where absent). */
export async function blockHashes(dataDir: string, nodeId: string, upTo: number) {
  const store = new BlockStore(join(dataDir, "node", nodeId, "blocks"));
  const out: string[] = [];
  for (let h = 1; h <= upTo; h++) out.push((await store.getBlock(h))?.hash ?? "missing");
  return out;
}

/** `awr genesis init` of `n` validators on ports base..base+n-1; returns the genesis path. */
export async function initGenesis(
  dir: string,
  n: number,
  base: number,
  worldId: string,
): Promise<string> {
  const out = join(dir, "net");
  const init = await awr(
    "genesis",
    "init",
    "--validators",
    String(n),
    "--out",
    out,
    "--base-port",
    String(base),
    "--world-id",
    worldId,
  );
  assertEquals(init.code, 0, init.err);
  return join(out, "genesis.json");
}

/** One height of a node's chain: block hash and execution state root. */
export interface ChainEntry {
  readonly hash: string;
  readonly root: string;
}

/**
 * Heights 1..`upTo` (or until the first height without both a block and an execution
 * result) of a node's data dir; each result must name its height's block, and slots
 * must grow (epochs never go back) from each block to the next, whoever proposed it.
 */
export async function chainOf(dataDir: string, id: string, upTo = 100_000): Promise<ChainEntry[]> {
  const dir = nodeDir(dataDir, id);
  const blocks = new BlockStore(join(dir, "blocks"), { durable: false });
  const log = await ExecutionResultLog.open(dir, false);
  const out: ChainEntry[] = [];
  let parent = { slot: 0, epoch: 0 };
  try {
    for (let h = 1; h <= upTo; h++) {
      const b = await blocks.getBlock(h);
      const r = await log.get(h);
      if (!b || !r) break;
      assertEquals(r.nodeBlockHash, b.hash, `${id} height ${h}: result of another block`);
      const { slot, epoch } = b.header;
      assert(slot > parent.slot, `${id} height ${h}: slot ${slot} after ${parent.slot}`);
      assert(epoch >= parent.epoch, `${id} height ${h}: epoch ${epoch} after ${parent.epoch}`);
      parent = { slot, epoch };
      out.push({ hash: b.hash, root: r.executionStateRoot });
    }
  } finally {
    log.close();
  }
  return out;
}

/**
 * Asserts identical block hashes and execution state roots at every common height of
 * the nodes' chains, and at least `minCommon` common heights; returns the common count.
 */
export async function assertAgree(
  nodes: readonly { dataDir: string; id: string }[],
  minCommon: number,
): Promise<number> {
  const chains = await Promise.all(nodes.map((n) => chainOf(n.dataDir, n.id)));
  const common = Math.min(...chains.map((c) => c.length));
  assert(
    common >= minCommon,
    `only ${common} common executed heights (wanted ${minCommon}): ${
      chains.map((c, i) => `${nodes[i].id}=${c.length}`).join(" ")
    }`,
  );
  for (let h = 0; h < common; h++) {
    for (let i = 1; i < chains.length; i++) {
      assertEquals(chains[i][h], chains[0][h], `height ${h + 1}: ${nodes[i].id} ≠ ${nodes[0].id}`);
    }
  }
  return common;
}

/**
 * Asserts that no two nodes hold different blocks at a height both committed
 * (blocks only; a dead node's execution may lag). Returns the heights compared.
 */
export async function assertNoConflict(
  nodes: readonly { dataDir: string; id: string }[],
  upTo: number,
): Promise<number> {
  const all = await Promise.all(nodes.map((n) => blockHashes(n.dataDir, n.id, upTo)));
  let compared = 0;
  for (let h = 0; h < upTo; h++) {
    const seen = new Set(all.map((c) => c[h]).filter((x) => x !== "missing"));
    assert(seen.size <= 1, `height ${h + 1}: conflicting blocks ${[...seen].join(" ")}`);
    if (seen.size === 1) compared++;
  }
  return compared;
}
