/**
 * Execution throughput (issue 10), side by side in one run, printing these lines for
 * scripts (medians of per-height times; the machine is shared, so figures are noisy):
 *
 *   floor: <ms>                 the bytes of one 64-action height at 100k agents, written
 *                               once as one new file, fdatasynced once and hashed once
 *   core 100k: <ms>, core 1k: <ms>, naive 100k: <ms>, naive 1k: <ms>
 *   ratio core/floor: <x> (goal <= 3) [met|NOT MET], and the three other ratios
 *   empty heights/s: execution <n> node <n> ratio <x> (goal >= 1)
 *   actions/s at 100k: <n>      1,000 actions per height, durable
 *   1M agents: core <ms> ratio 1M/100k <x> (goal <= 1.5), rss <MB>
 *   cpu per height ..., load average ...   (extra: process CPU of a 64-action height,
 *                               which other processes' load disturbs less than wall time)
 *
 * "core" is the execution core with durable writes (one pack group and one fdatasync per
 * height); "naive" re-encodes, hashes and stores the whole world snapshot each height,
 * plus a durable record and state file (what the original bridge did). Setup registers
 * the agents with fsync off, then reopens durable; only measured heights pay for fsync.
 * Core heights at 1k, 100k and 1M run interleaved (one of each per round), so other
 * processes' disk load weighs on every size alike.
 * @module
 */
import process from "node:process";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { executionBlockHash, writeRecord } from "../../src/execution/records.ts";
import { writeExecutionState } from "../../src/execution/state_file.ts";
import { silentLogger } from "../../src/logger.ts";
import { World } from "../../src/world/world.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import type { BlockAction, CommittedBlock } from "../../src/consensus/types.ts";
import type { NodeExecutionHook } from "../../src/node/execution_hook.ts";
import {
  agentName,
  blockReader,
  committedBlock,
  ctxOf,
  prng,
  WORLD,
} from "../support/chain_fixture.ts";

const ROUNDS = 12;
const WARMUP = 2;
const REGISTER_BATCH = 10_000;
const EMPTY_HEIGHTS = 200;
const NODE_HEIGHTS = 200;
const BIG_HEIGHTS = 8;

const cleanups: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const d of cleanups) Deno.removeSync(d, { recursive: true });
});

function heightActions(rand: (n: number) => number, agents: number, count: number): BlockAction[] {
  const out: BlockAction[] = [];
  for (let i = 0; i < count; i++) {
    const a = agentName(rand(agents));
    const roll = rand(4);
    if (roll === 0) out.push({ kind: "move", agent: a, dx: rand(3) - 1, dy: rand(3) - 1 });
    else if (roll === 1) {
      const to = agentName(rand(agents));
      out.push({ kind: "transfer", from: a, to, resource: "gold", amount: 1 });
    } else if (roll === 2) out.push({ kind: "grant", agent: a, resource: "wood", amount: 3 });
    else out.push({ kind: "rest", agent: a });
  }
  return out;
}

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

// Applied setup blocks keep their hashes but drop their actions: at 1M agents they are
// 2M action objects that only weigh on the garbage collector (and on the 1M figure).
function dropActions(blocks: CommittedBlock[]): void {
  for (let i = 0; i < blocks.length; i++) blocks[i] = { ...blocks[i], actions: [] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function flushFilesystem(): Promise<void> {
  try {
    await new Deno.Command("sync").output();
  } catch {
    // No `sync` binary: the measurement just carries the setup's writeback.
  }
}

interface CoreCase {
  core: ExecutionCore;
  blocks: CommittedBlock[];
  agents: number;
  rand: (n: number) => number;
  /** Bytes of each measured height's pack group (from the core's debug log). */
  groupBytes: number[];
  /** Process CPU (user + system, all threads) of each height, in ms. */
  cpuMs: number[];
  /** Executes one more height of `actions` actions (or none); returns its ms. */
  height(actions: number): Promise<number>;
}

async function coreCase(agents: number): Promise<CoreCase> {
  const blocks = setupBlocks(agents);
  const dir = await Deno.makeTempDir({ prefix: `awr-xbench-${agents}-` });
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
  dropActions(blocks);
  await flushFilesystem();
  const groupBytes: number[] = [];
  const logger = {
    ...silentLogger,
    debug: (_msg: string, fields?: Record<string, unknown>) => {
      if (typeof fields?.bytes === "number") groupBytes.push(fields.bytes);
    },
  };
  const core = await ExecutionCore.open({ dataDir: dir, worldId: WORLD, blocks: reader, logger });
  const rand = prng(agents);
  const cpuMs: number[] = [];
  const c: CoreCase = {
    core,
    blocks,
    agents,
    rand,
    groupBytes,
    cpuMs,
    async height(count) {
      const last = blocks[blocks.length - 1];
      const actions = count ? heightActions(rand, agents, count) : [];
      const b = committedBlock(last.header.height + 1, last.hash, actions);
      blocks.push(b);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await core.executeThrough(ctxOf(b));
      const ms = performance.now() - t0;
      const c1 = process.cpuUsage(c0);
      cpuMs.push((c1.user + c1.system) / 1000);
      return ms;
    },
  };
  return c;
}

/** The naive executor over the same world: whole snapshot each height. */
async function naiveCase(agents: number): Promise<() => Promise<number>> {
  const blocks = setupBlocks(agents);
  const dir = await Deno.makeTempDir({ prefix: `awr-xbench-naive-${agents}-` });
  cleanups.push(dir);
  const cas = new CasStore(`${dir}/store`);
  const world = new World();
  for (const b of blocks) {
    world.step({ height: b.header.height, nodeBlockHash: b.hash, actions: b.actions });
  }
  dropActions(blocks);
  const rand = prng(agents);
  let prev: string | null = null;
  return async () => {
    const last = blocks[blocks.length - 1];
    const block = committedBlock(
      last.header.height + 1,
      last.hash,
      heightActions(rand, agents, 64),
    );
    blocks.push(block);
    const t0 = performance.now();
    const step = world.step({
      height: block.header.height,
      nodeBlockHash: block.hash,
      actions: block.actions,
    });
    const all = [];
    for (let i = 0; i < world.bucketCount; i++) all.push(...world.chunk(i).agents);
    const snapshot = encodeCanonical({
      world_id: WORLD,
      height: step.height,
      agents: all,
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
    await writeRecord(dir, {
      ...pre,
      prevExecutionBlockHash: prev ?? "genesis",
      executionBlockHash: hash,
      manifestRef: root,
      journalRef: root,
      timestampMs: block.header.timestampMs,
      hash: "blake3",
    }, true);
    await writeExecutionState(
      dir,
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
    return performance.now() - t0;
  };
}

/** `bytes` random bytes written as one new file, fdatasynced once, hashed once. */
async function floorOnce(dir: string, bytes: Uint8Array, i: number): Promise<number> {
  const t0 = performance.now();
  const f = await Deno.open(`${dir}/floor-${i}`, { write: true, createNew: true });
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
  await f.syncData();
  f.close();
  hashHex(bytes);
  return performance.now() - t0;
}

/** Committed heights per second of a node alone (no-op hook) at a 1 ms tick. */
async function nodeHeightsPerSecond(): Promise<number> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-xbench-node-" });
  cleanups.push(dataDir);
  const hook: NodeExecutionHook = {
    onCommit: (ctx) =>
      Promise.resolve({
        executionHeight: ctx.height,
        executionBlockHash: ctx.nodeBlockHash,
        executionStateRoot: ctx.nodeBlockHash,
      }),
  };
  const node = new NodeRuntime(
    { nodeId: "node-1", worldId: WORLD, dataDir, tickIntervalMs: 1 },
    { executionHook: hook },
  );
  let seen = 0;
  let t0 = 0;
  let t1 = 0;
  const done = new Promise<void>((resolve) => {
    const off = node.events.on("commit", () => {
      seen++;
      if (seen === 1) t0 = performance.now();
      if (seen === NODE_HEIGHTS + 1) {
        t1 = performance.now();
        off();
        resolve();
      }
    });
  });
  await node.start();
  await done;
  await node.stop();
  return (1000 * NODE_HEIGHTS) / (t1 - t0);
}

const goal = (ok: boolean) => (ok ? "met" : "NOT MET");
const fmt = (x: number, d = 2) => x.toFixed(d);

const small = await coreCase(1_000);
const mid = await coreCase(100_000);
let naiveSmall: (() => Promise<number>) | null = await naiveCase(1_000);
let naiveMid: (() => Promise<number>) | null = await naiveCase(100_000);

// Interleaved rounds: core 1k, core 100k, naive 1k, naive 100k (naive 100k every third
// round: it costs ~1 s a height).
const t = { c1: [] as number[], c100: [] as number[], n1: [] as number[], n100: [] as number[] };
for (let r = 0; r < ROUNDS + WARMUP; r++) {
  const keep = r >= WARMUP;
  const a = await small.height(64);
  const b = await mid.height(64);
  const c = await naiveSmall!();
  if (keep) t.c1.push(a), t.c100.push(b), t.n1.push(c);
  if (r % 3 === 0) {
    const d = await naiveMid!();
    if (keep) t.n100.push(d);
  }
}
// CPU per height (64 actions), less sensitive than wall time to other processes' load.
const cpu100 = median(mid.cpuMs.slice(WARMUP));
const cpu1 = median(small.cpuMs.slice(WARMUP));
naiveSmall = naiveMid = null; // their worlds are not needed any more
const core1 = median(t.c1);
const core100 = median(t.c100);
const naive1 = median(t.n1);
const naive100 = median(t.n100);

// Floor: the size of a measured 100k height's group, written the floor's way.
const floorDir = await Deno.makeTempDir({ prefix: "awr-xbench-floor-" });
cleanups.push(floorDir);
const groupSize = Math.round(median(mid.groupBytes.slice(WARMUP)));
const floorBytes = crypto.getRandomValues(new Uint8Array(Math.min(groupSize, 65536)));
const floorPayload = new Uint8Array(groupSize);
for (let i = 0; i < groupSize; i += floorBytes.length) {
  floorPayload.set(floorBytes.subarray(0, Math.min(floorBytes.length, groupSize - i)), i);
}
const floors: number[] = [];
for (let i = 0; i < ROUNDS; i++) floors.push(await floorOnce(floorDir, floorPayload, i));
const floor = median(floors);

// Empty heights: the core alone (100k world) against the node alone at a 1 ms tick.
const e0 = performance.now();
for (let i = 0; i < EMPTY_HEIGHTS; i++) await mid.height(0);
const execPerS = (1000 * EMPTY_HEIGHTS) / (performance.now() - e0);
const nodePerS = await nodeHeightsPerSecond();

// Throughput: 1,000 actions per height at 100k, durable.
let busy = 0;
for (let i = 0; i < BIG_HEIGHTS; i++) busy += await mid.height(1_000);
const actionsPerS = (1000 * 1_000 * BIG_HEIGHTS) / busy;
await small.core.close();

// 1M agents (set up last: it holds the most memory).
const big = await coreCase(1_000_000);
const t1m: number[] = [];
for (let r = 0; r < ROUNDS + WARMUP; r++) {
  const x = await big.height(64);
  const y = await mid.height(64);
  if (r >= WARMUP) t1m.push(x), t.c100.push(y);
}
const core1m = median(t1m);
const core100b = median(t.c100);
const rssMb = Deno.memoryUsage().rss / (1024 * 1024);
await big.core.close();
await mid.core.close();

const lines = [
  `floor: ${fmt(floor)}`,
  `core 100k: ${fmt(core100)}`,
  `core 1k: ${fmt(core1)}`,
  `naive 100k: ${fmt(naive100)}`,
  `naive 1k: ${fmt(naive1)}`,
  `ratio core/floor: ${fmt(core100 / floor)} (goal <= 3) ${goal(core100 / floor <= 3)}`,
  `ratio naive/core 100k: ${fmt(naive100 / core100)} (goal >= 50) ${
    goal(naive100 / core100 >= 50)
  }`,
  `ratio core/naive 1k: ${fmt(core1 / naive1)} (goal <= 1) ${goal(core1 / naive1 <= 1)}`,
  `ratio 100k/1k: ${fmt(core100 / core1)} (goal <= 2) ${goal(core100 / core1 <= 2)}`,
  `empty heights/s: execution ${fmt(execPerS, 0)} node ${fmt(nodePerS, 0)} ratio ${
    fmt(execPerS / nodePerS)
  } (goal >= 1) ${goal(execPerS / nodePerS >= 1)}`,
  `actions/s at 100k: ${fmt(actionsPerS, 0)}`,
  `1M agents: core ${fmt(core1m)} ratio 1M/100k ${fmt(core1m / core100b)} (goal <= 1.5), rss ${
    fmt(rssMb, 0)
  } ${goal(core1m / core100b <= 1.5)}`,
  `cpu per height (process, all threads): core 100k ${fmt(cpu100)} core 1k ${fmt(cpu1)}`,
  `load average: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  `(medians of ${ROUNDS} heights after ${WARMUP} warm-up; group bytes at 100k: ${groupSize}; shared machine, noisy)`,
];
console.log(lines.join("\n"));

Deno.bench({
  name: "execution bench (figures printed above)",
  n: 1,
  warmup: 0,
  fn() {},
});
