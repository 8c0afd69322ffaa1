/**
 * Per-height execution cost at 1k, 10k and 100k agents, 64 actions per height,
 * durable writes on a temp dir: the chunked execution core beside the naive way
 * (the whole world snapshot re-encoded, hashed and stored every height). Goal
 * (issue 4): the core's cost at 100k agents is at most 2× its cost at 1k.
 *
 * Agents live in 4096 hash buckets (one chunk each) under a fanout-64 tree at all
 * three sizes (100k < 4096 × 32, so no growth happens here): a height writes about
 * the same ~100 files — the touched buckets' chunks, ~45 level-1 nodes, the root,
 * manifest and journal segment — at 1k as at 100k; only chunk sizes differ. New
 * files (create + fsync) dominate the cost, so the ratio stays near 1.
 *
 * Deno's table has no median, so each case also records its own per-height times
 * and a median table (with the 100k / 1k ratio) is printed when the run ends.
 * Setup registers the agents through the core with fsync off (the fast path), then
 * reopens the data dir durable; only the measured heights pay for fsync.
 * @module
 */
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { executionBlockHash, writeRecord } from "../../src/execution/records.ts";
import { writeExecutionState } from "../../src/execution/state_file.ts";
import { silentLogger } from "../../src/logger.ts";
import { World } from "../../src/world/world.ts";
import type { BlockAction, CommittedBlock } from "../../src/consensus/types.ts";
import {
  agentName,
  blockReader,
  committedBlock,
  ctxOf,
  prng,
  WORLD,
} from "../support/chain_fixture.ts";

const SIZES = [1_000, 10_000, 100_000];
const ACTIONS_PER_HEIGHT = 64;
const REGISTER_BATCH = 10_000;
const ITERATIONS = 25;

/** 64 actions touching random agents: moves, transfers, grants and rests. */
function heightActions(rand: (n: number) => number, agents: number): BlockAction[] {
  const out: BlockAction[] = [];
  for (let i = 0; i < ACTIONS_PER_HEIGHT; i++) {
    const a = agentName(rand(agents));
    const roll = rand(4);
    if (roll === 0) out.push({ kind: "move", agent: a, dx: rand(3) - 1, dy: rand(3) - 1 });
    else if (roll === 1) {
      out.push({
        kind: "transfer",
        from: a,
        to: agentName(rand(agents)),
        resource: "gold",
        amount: 1,
      });
    } else if (roll === 2) out.push({ kind: "grant", agent: a, resource: "wood", amount: 3 });
    else out.push({ kind: "rest", agent: a });
  }
  return out;
}

/** Registration blocks for `n` agents, each agent granted gold so transfers succeed. */
function setupBlocks(n: number): CommittedBlock[] {
  const blocks: CommittedBlock[] = [];
  let parent = "genesis";
  for (let start = 0; start < n; start += REGISTER_BATCH) {
    const actions: BlockAction[] = [];
    for (let i = start; i < Math.min(n, start + REGISTER_BATCH); i++) {
      actions.push({ kind: "register", agent: agentName(i), x: i % 1024, y: (i >> 10) % 1024 });
      actions.push({ kind: "grant", agent: agentName(i), resource: "gold", amount: 1000 });
    }
    const b = committedBlock(blocks.length + 1, parent, actions);
    blocks.push(b);
    parent = b.hash;
  }
  return blocks;
}

interface Case {
  dir: string;
  nextBlock(): CommittedBlock;
}

function chainFrom(blocks: CommittedBlock[], agents: number, seed: number): Case["nextBlock"] {
  const rand = prng(seed);
  return () => {
    const last = blocks[blocks.length - 1];
    const b = committedBlock(last.header.height + 1, last.hash, heightActions(rand, agents));
    blocks.push(b);
    return b;
  };
}

const times = new Map<string, number[]>();
function timed(name: string, ms: number): void {
  times.set(name, [...(times.get(name) ?? []), ms]);
}

const cleanups: string[] = [];

async function flushFilesystem(): Promise<void> {
  try {
    await new Deno.Command("sync").output();
  } catch {
    // No `sync` binary: the measurement just carries the setup's writeback.
  }
}
const chunked: { label: string; run: () => Promise<unknown> }[] = [];

for (const n of SIZES) {
  const label = n >= 1000 ? `${n / 1000}k` : String(n);
  const blocks = setupBlocks(n);
  const dir = await Deno.makeTempDir({ prefix: `awr-bench-${label}-` });
  cleanups.push(dir);
  const reader = blockReader(blocks);
  const fast = await ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: reader,
    durable: false,
  });
  await fast.executeThrough(ctxOf(blocks[blocks.length - 1]));
  await fast.close();
  // Flush the setup's unsynced writes now, so their writeback does not land inside the
  // measured heights (it would weigh on the 100k case most, whose setup writes most).
  await flushFilesystem();
  // The core logs each height's blob count at debug level; keep them for the table.
  const logger = {
    ...silentLogger,
    debug: (_msg: string, fields?: Record<string, unknown>) => {
      if (typeof fields?.blobs === "number") timed(`blobs ${label}`, fields.blobs);
    },
  };
  const core = await ExecutionCore.open({ dataDir: dir, worldId: WORLD, blocks: reader, logger });
  const next = chainFrom(blocks, n, 7);

  Deno.bench({
    name: `chunked core, ${label} agents`,
    group: `chunked`,
    baseline: n === SIZES[0],
    n: ITERATIONS,
    warmup: 3,
    async fn(b) {
      const block = next();
      b.start();
      const t0 = performance.now();
      await core.executeThrough(ctxOf(block));
      timed(`chunked ${label}`, performance.now() - t0);
      b.end();
    },
  });

  // Naive: the same world, stepped the same way, but the whole snapshot is encoded,
  // hashed and stored each height (what the original bridge did).
  const naiveDir = await Deno.makeTempDir({ prefix: `awr-bench-naive-${label}-` });
  cleanups.push(naiveDir);
  const cas = new CasStore(`${naiveDir}/store`);
  const world = new World();
  for (const blk of blocks) {
    world.step({ height: blk.header.height, nodeBlockHash: blk.hash, actions: blk.actions });
  }
  const naiveNext = chainFrom(blocks.slice(0, world.clock), n, 7);
  let prev: string | null = null;
  Deno.bench({
    name: `naive snapshot, ${label} agents`,
    group: `naive`,
    baseline: n === SIZES[0],
    n: ITERATIONS,
    warmup: 3,
    async fn(b) {
      const block = naiveNext();
      b.start();
      const t0 = performance.now();
      const step = world.step({
        height: block.header.height,
        nodeBlockHash: block.hash,
        actions: block.actions,
      });
      const agents = [];
      for (let i = 0; i < world.chunkCount; i++) agents.push(...world.chunk(i).agents);
      const snapshot = encodeCanonical({
        world_id: WORLD,
        height: step.height,
        agents,
        events: step.events,
      });
      const root = hashHex(snapshot);
      await cas.putMany([snapshot]);
      const pre = {
        worldId: WORLD,
        height: step.height,
        prevExecutionBlockHash: prev,
        executionStateRoot: root,
        journalLen: world.journalLen,
        nodeBlockHash: block.hash,
      };
      const hash = executionBlockHash(pre);
      await writeRecord(naiveDir, {
        ...pre,
        prevExecutionBlockHash: prev ?? "genesis",
        executionBlockHash: hash,
        manifestRef: root,
        journalRef: root,
        timestampMs: block.header.timestampMs,
        hash: "blake3",
      }, true);
      await writeExecutionState(
        naiveDir,
        {
          lastAppliedHeight: step.height,
          lastNodeBlockHash: block.hash,
          lastExecutionBlockHash: hash,
          lastExecutionStateRoot: root,
          lastManifest: root,
          journalLen: world.journalLen,
          executorMode: "node",
          worldId: WORLD,
        },
        {},
        true,
      );
      prev = hash;
      timed(`naive ${label}`, performance.now() - t0);
      b.end();
    },
  });
  chunked.push({ label, run: async () => await core.executeThrough(ctxOf(next())) });
  globalThis.addEventListener("unload", () => void core.close());
}

// The same cores once more, one height at each size per iteration (order rotated):
// other processes' disk load then hits every size alike, so this ratio is the fair one.
let round = 0;
Deno.bench({
  name: "chunked core, interleaved 1k/10k/100k",
  group: "interleaved",
  n: ITERATIONS,
  warmup: 1,
  async fn() {
    round++;
    for (let i = 0; i < chunked.length; i++) {
      const c = chunked[(i + round) % chunked.length];
      const t0 = performance.now();
      await c.run();
      timed(`interleaved ${c.label}`, performance.now() - t0);
    }
  },
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

globalThis.addEventListener("unload", () => {
  const lines = [
    "",
    "per-height medians (ms; 'blobs' = new CAS files per height), iterations incl. warmup:",
  ];
  for (const [name, xs] of times) {
    lines.push(`  ${name.padEnd(16)} ${median(xs).toFixed(2)} (n=${xs.length})`);
  }
  for (const kind of ["chunked", "interleaved"]) {
    const small = times.get(`${kind} 1k`);
    const big = times.get(`${kind} 100k`);
    if (small && big) {
      lines.push(`  ${kind} 100k / 1k = ${(median(big) / median(small)).toFixed(2)} (goal <= 2)`);
    }
  }
  console.log(lines.join("\n"));
  for (const d of cleanups) Deno.removeSync(d, { recursive: true });
});
