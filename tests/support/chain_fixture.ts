/**
 * Test fixture: a deterministic committed chain of world actions (seeded PRNG, no
 * Math.random), a block reader over it, and hook contexts for its blocks. Shared by
 * the execution tests, the full tier and the execution bench.
 * @module
 */
import { makeBlock } from "../../src/consensus/block.ts";
import type { BlockAction, CommittedBlock } from "../../src/consensus/types.ts";
import type { CommittedBlockReader } from "../../src/node/block_store.ts";
import { commitContext, type NodeExecutionCommitContext } from "../../src/node/execution_hook.ts";

/** World id used by the fixtures. */
export const WORLD = "world-test";

/** A small seeded PRNG (mulberry32): same seed, same sequence, everywhere. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

/** Name of the i-th generated agent. */
export const agentName = (i: number): string => `agent-${i}`;

/**
 * `count` pseudo-random actions over agents `0..agents-1` (plus new registrations
 * and a few invalid ones, so rejections are exercised). Returns the actions and
 * the new agent count.
 */
export function randomActions(
  rand: (n: number) => number,
  agents: number,
  count: number,
): { actions: BlockAction[]; agents: number } {
  const actions: BlockAction[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rand(100);
    const a = agentName(rand(Math.max(agents, 1)));
    if (agents < 2 || roll < 10) {
      actions.push({ kind: "register", agent: agentName(agents++) });
    } else if (roll < 40) {
      actions.push({ kind: "move", agent: a, dx: rand(7) - 3, dy: rand(7) - 3 });
    } else if (roll < 65) {
      const to = agentName(rand(agents));
      actions.push({ kind: "transfer", from: a, to, resource: "gold", amount: 1 + rand(20) });
    } else if (roll < 85) {
      actions.push({
        kind: "grant",
        agent: a,
        resource: rand(2) ? "gold" : "wood",
        amount: 1 + rand(50),
      });
    } else if (roll < 95) {
      actions.push({ kind: "rest", agent: a });
    } else if (roll < 97) {
      actions.push({ kind: "move", agent: "nobody", dx: 1, dy: 0 });
    } else {
      actions.push({ kind: "grant", agent: a, resource: "gold", amount: 0 });
    }
  }
  return { actions, agents };
}

/** A committed block at `height` on top of `parentHash`. */
export function committedBlock(
  height: number,
  parentHash: string,
  actions: readonly BlockAction[],
): CommittedBlock {
  const timestampMs = 1_700_000_000_000 + height * 200;
  const block = makeBlock(
    {
      height,
      slot: height,
      epoch: Math.floor(height / 32),
      parentHash,
      proposer: "v1",
      timestampMs,
    },
    actions,
  );
  return { ...block, attestations: [], committedAtUnixMs: timestampMs + 7 };
}

/** A chain of `n` blocks whose actions come from a PRNG seeded with `seed`. */
export function randomChain(n: number, seed: number, actionsPerBlock = 8): CommittedBlock[] {
  const rand = prng(seed);
  const blocks: CommittedBlock[] = [];
  let agents = 0;
  let parent = "genesis";
  for (let h = 1; h <= n; h++) {
    const gen = randomActions(rand, agents, actionsPerBlock);
    agents = gen.agents;
    const block = committedBlock(h, parent, gen.actions);
    blocks.push(block);
    parent = block.hash;
  }
  return blocks;
}

/** A block reader over `blocks` (index = height - 1) that logs the heights read. */
export function blockReader(blocks: readonly CommittedBlock[]): CommittedBlockReader & {
  reads: number[];
} {
  const reads: number[] = [];
  return {
    reads,
    getBlock(height: number) {
      reads.push(height);
      return Promise.resolve(blocks[height - 1] ?? null);
    },
  };
}

/** The hook context the node would send for `block`. */
export function ctxOf(block: CommittedBlock, worldId = WORLD): NodeExecutionCommitContext {
  return commitContext(worldId, "node-1", block);
}
