/**
 * Four networked NodeRuntimes in one process (one validator each, messages handed over
 * in-process as the p2p layer hands them), a frozen injected clock and a one-hour tick:
 * each node ticks once, at start. Whatever commits after that was done by early steps.
 */
import { assert, assertEquals } from "@std/assert";
import { type BftMessage, STEP_ORDER } from "../../src/consensus/bft/types.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { DIRTY_STATE_GAP_MS, dirtyWriteDue, StateWritePacer } from "../../src/node/runtime_step.ts";

const IDS = ["a", "b", "c", "d"];
const HOUR = 3_600_000;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
}

interface Net {
  nodes: NodeRuntime[];
  /**
   * Per node, each own proposal/vote as it leaves: its (height, round, step) and the
   * signer state file's at that moment.
   */
  logs: { sent: string; sentKey: number[]; onDisk: number[] }[][];
  dirs: string[];
}

async function startNet(maxEarlyStepsPerTick?: number): Promise<Net> {
  const nodes: NodeRuntime[] = [];
  const logs: Net["logs"] = IDS.map(() => []);
  const dirs: string[] = [];
  // Until every node runs, messages wait here (a node not started yet would drop them).
  let held: { from: number; m: BftMessage }[] | null = [];
  const deliver = (from: number, m: BftMessage) => {
    for (const [j, other] of nodes.entries()) {
      if (j !== from) other.receiveConsensusMessage(structuredClone(m));
    }
  };
  for (const [i, id] of IDS.entries()) {
    const dataDir = await Deno.makeTempDir({ prefix: `awr-early-${id}-` });
    dirs.push(dataDir);
    nodes.push(
      new NodeRuntime({
        nodeId: id,
        worldId: "world-early",
        dataDir,
        tickIntervalMs: HOUR,
        validators: IDS.map((v) => ({ id: v, stake: 1 })),
        localValidators: [id],
        durable: false,
        maxEarlyStepsPerTick,
      }, {
        networked: true,
        clock: () => 1_000_000,
        onBroadcast: (m: BftMessage) => {
          const signed = m.kind === "proposal" && m.proposal.proposer === id
            ? { sent: "proposal", h: m.proposal.height, r: m.proposal.round, step: 1 }
            : m.kind === "vote" && m.vote.validator === id
            ? {
              sent: m.vote.type,
              h: m.vote.height,
              r: m.vote.round,
              step: STEP_ORDER[m.vote.type],
            }
            : null;
          if (signed) {
            const disk = new FileSignerStateStore(dataDir, id).loadSync()!;
            logs[i].push({
              sent: signed.sent,
              sentKey: [signed.h, signed.r, signed.step],
              onDisk: [disk.height, disk.round, disk.step],
            });
          }
          if (held) held.push({ from: i, m });
          else deliver(i, m);
        },
      }),
    );
  }
  for (const n of nodes) await n.start();
  const early = held;
  held = null;
  for (const { from, m } of early) deliver(from, m);
  return { nodes, logs, dirs };
}

async function stopNet(net: Net): Promise<void> {
  for (const n of net.nodes) await n.stop();
  for (const d of net.dirs) await Deno.remove(d, { recursive: true });
}

/** Waits (bounded by count, not asserted in time) until `ok` or gives up. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !ok(); i++) await settle();
}

Deno.test("early steps: 2 heights commit on 4 networked nodes with two ticks each; signer state durable before each own message", async () => {
  const net = await startNet();
  try {
    await until(() => net.nodes.every((n) => n.snapshot().consensus.committedHeight >= 2));
    await settle();
    for (const [i, n] of net.nodes.entries()) {
      const s = n.snapshot();
      // Height 1 by early steps after the start tick; its commit brought one tick
      // forward, whose proposal made height 2; the next tick is an interval away.
      assertEquals(s.consensus.committedHeight, 2, `node ${IDS[i]}`);
      assertEquals(s.tickCount, 2, `node ${IDS[i]}: the start tick and one brought forward`);
      assert(n.earlySteps >= 1 && n.earlySteps <= 16, `node ${IDS[i]}: ${n.earlySteps}`);
    }
    // The same blocks on every node.
    for (const h of [1, 2]) {
      const hashes = await Promise.all(
        net.nodes.map(async (n) => (await n.blocks.getBlock(h))?.hash),
      );
      assertEquals(new Set(hashes).size, 1, `height ${h}`);
      assert(hashes[0] !== undefined, `height ${h}`);
    }
    // Durability: when an own proposal/vote leaves, the signer state file already covers it.
    for (const [i, log] of net.logs.entries()) {
      const text = JSON.stringify(log);
      assert(log.some((e) => e.sent === "precommit"), `node ${IDS[i]}: ${text}`);
      for (const e of log) {
        const [h, r, st] = e.onDisk;
        const [mh, mr, ms] = e.sentKey;
        const covered = h > mh || (h === mh && (r > mr || (r === mr && st >= ms)));
        assert(covered, `node ${IDS[i]}: ${e.sent} left before its signer state: ${text}`);
      }
    }
  } finally {
    await stopNet(net);
  }
});

Deno.test("without early steps (maxEarlyStepsPerTick 0) the same single tick commits nothing", async () => {
  const net = await startNet(0);
  try {
    await until(() => net.nodes.every((n) => n.snapshot().tickCount >= 1));
    await settle();
    for (const n of net.nodes) {
      assertEquals(n.snapshot().consensus.committedHeight, 0);
      assertEquals(n.earlySteps, 0);
    }
  } finally {
    await stopNet(net);
  }
});

Deno.test("maxEarlyStepsPerTick 1: at most one early step per node between two ticks", async () => {
  const net = await startNet(1);
  // Early steps counted at the end of each tick: the differences are the steps between.
  const atTicks: number[][] = net.nodes.map(() => []);
  const offs = net.nodes.map((n, i) => n.events.on("tick", () => atTicks[i].push(n.earlySteps)));
  try {
    await until(() => net.nodes.every((n) => n.earlySteps >= 1));
    await settle();
    for (const [i, n] of net.nodes.entries()) {
      // 0: the start tick (before any message was handed over, see startNet).
      const marks = [0, ...atTicks[i], n.earlySteps];
      const between = marks.slice(1).map((m, k) => m - marks[k]);
      assert(between.every((d) => d <= 1), `node ${IDS[i]}: ${marks}`);
      assert(between.some((d) => d === 1), `node ${IDS[i]}: ${marks}`);
      // A tick only at start and, at most, one brought forward by a commit.
      assert(n.snapshot().tickCount <= 2, `node ${IDS[i]}: ${n.snapshot().tickCount}`);
    }
  } finally {
    offs.forEach((off) => off());
    await stopNet(net);
  }
});

Deno.test("an execution-only state write waits DIRTY_STATE_GAP_MS of ticks on a networked node", () => {
  assertEquals(DIRTY_STATE_GAP_MS, 100);
  // Local mode: at once, every tick.
  assert(dirtyWriteDue(1, 0, 20, {}));
  assert(dirtyWriteDue(1, 0, 20, { networked: false }));
  // Networked at 20 ms: every 5th tick, not before.
  assert(!dirtyWriteDue(4, 0, 20, { networked: true }));
  assert(dirtyWriteDue(5, 0, 20, { networked: true }));
  assert(!dirtyWriteDue(9, 5, 20, { networked: true }));
  assert(dirtyWriteDue(10, 5, 20, { networked: true }));
  // A tick of 100 ms or more: every tick, as before.
  assert(dirtyWriteDue(2, 1, 100, { networked: true }));
  assert(dirtyWriteDue(2, 1, 200, { networked: true }));
  // 30 ms: ceil(100 / 30) = 4 ticks.
  assert(!dirtyWriteDue(3, 0, 30, { networked: true }));
  assert(dirtyWriteDue(4, 0, 30, { networked: true }));
});

Deno.test("StateWritePacer: commits always write, execution-only changes at the gap, every 64th tick", () => {
  const pacer = new StateWritePacer(20, true);
  const due = Array.from({ length: 12 }, (_, i) => pacer.due(i + 1, i === 2, true));
  // Tick 3 committed; execution-only writes at ticks 5 and 10 (every 5th tick at 20 ms).
  assertEquals(due.map((d, i) => d ? i + 1 : 0).filter(Boolean), [3, 5, 10]);
  assert(pacer.due(64, false, false), "every 64th tick writes");
  assert(!pacer.due(65, false, false), "nothing changed, no commit");
  const local = new StateWritePacer(20, false);
  assert(local.due(1, false, true) && local.due(2, false, true), "a local node writes at once");
});
