/**
 * Rewards credit each role to the right party: with several validators, the proposer of
 * each block gets the proposer points, every attester its attester points, and the node
 * that executed gets the executor points — also when it is not a validator itself. A
 * validator that neither proposed nor attested gets nothing.
 * @module
 */
import { assertEquals, assertGreater } from "@std/assert";
import { join } from "@std/path";
import { ConsensusEngine } from "../../src/consensus/engine.ts";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { REWARD_POINTS, RewardRuntime } from "../../src/live/reward.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { commitContext } from "../../src/node/execution_hook.ts";
import { nodeDir } from "../../src/node/state_file.ts";
import { fixedRewardSource } from "../support/reward_source.ts";

const NODE = "exec-node";
const WORLD = "world-1";
// v1 + v2 hold 4 of 5 stake (> 2/3) and attest; v3 is offline: its slots commit nothing.
const VALIDATORS = [{ id: "v1", stake: 3 }, { id: "v2", stake: 1 }, { id: "v3", stake: 1 }];
const ONLINE = ["v1", "v2"];

async function buildChain(store: BlockStore, n: number): Promise<CommittedBlock[]> {
  const engine = new ConsensusEngine({ validators: VALIDATORS });
  const blocks: CommittedBlock[] = [];
  for (let slot = 1; blocks.length < n && slot < 10 * n; slot++) {
    const c = engine.commitLocally(slot, 1_700_000_000_000 + slot, [], ONLINE);
    if (!c) continue;
    const block = { ...c.block, attestations: c.attestations, committedAtUnixMs: 1 + slot };
    await store.put(block);
    blocks.push(block);
  }
  return blocks;
}

Deno.test("rewards: proposer, attester and executor points go to distinct parties", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-roles-" });
  try {
    const store = new BlockStore(join(nodeDir(dataDir, NODE), "blocks"), { durable: false });
    const blocks = await buildChain(store, 80);
    const core = await ExecutionCore.open({
      dataDir,
      worldId: WORLD,
      blocks: store,
      durable: false,
    });
    const last = await core.executeThrough(commitContext(WORLD, NODE, blocks[blocks.length - 1]));
    await core.close();

    const reward = await RewardRuntime.open(
      { dataDir, nodeId: NODE, worldId: WORLD, mode: "node" },
      fixedRewardSource(store, NODE, blocks.length, blocks.length, last.executionStateRoot),
      null,
    );
    await reward.runOnce();
    const settled = reward.ledger.settledThroughHeight;
    assertGreater(settled, 32);

    // Expected balances, counted straight from the stored block headers.
    const expected: Record<string, number> = {};
    const add = (k: string, v: number) => expected[k] = (expected[k] ?? 0) + v;
    const proposers = new Set<string>();
    for (const b of blocks.filter((b) => b.header.height <= settled)) {
      add(b.header.proposer, REWARD_POINTS.proposer);
      proposers.add(b.header.proposer);
      for (const a of b.attestations) add(a.validator, REWARD_POINTS.attester);
      add(NODE, REWARD_POINTS.executor);
    }
    // The chain really has two proposers and two attesters per block, and v3 takes no part.
    assertEquals([...proposers].sort(), ["v1", "v2"]);
    assertEquals(blocks[0].attestations.map((a) => a.validator).sort(), ONLINE);
    assertEquals(reward.ledger.balances, expected);
    assertEquals(reward.ledger.balances["v3"], undefined);
    assertEquals(reward.ledger.balances[NODE], settled * REWARD_POINTS.executor);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
