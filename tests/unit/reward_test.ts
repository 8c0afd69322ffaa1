import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { ExecutionCore } from "../../src/execution/core.ts";
import { recordPath } from "../../src/execution/records.ts";
import { readLedger } from "../../src/live/ledger.ts";
import { REWARD_POINTS, RewardRuntime, type RewardSource } from "../../src/live/reward.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { commitContext } from "../../src/node/execution_hook.ts";
import { nodeDir } from "../../src/node/state_file.ts";
import { buildChain } from "../support/chain.ts";
import { fixedRewardSource } from "../support/reward_source.ts";

function source(
  dataDir: string,
  committed: number,
  executed: number,
  root: string | null,
): RewardSource {
  const blocks = new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks"));
  return fixedRewardSource(blocks, "node-1", committed, executed, root);
}

Deno.test("reward runtime settles each closed epoch once, from records, and survives a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-reward-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 70);
    const core = await ExecutionCore.open({
      dataDir,
      worldId: "world-1",
      blocks: new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks")),
      durable: false,
    });
    const last = await core.executeThrough(commitContext("world-1", "node-1", blocks[69]));
    await core.close();
    const options = { dataDir, nodeId: "node-1", worldId: "world-1", mode: "node" as const };
    const src = source(dataDir, 70, 70, last.executionStateRoot);

    const reward = await RewardRuntime.open(options, src, null);
    await reward.runOnce();
    // Slots 1..31 are epoch 0, 32..63 epoch 1; epoch 2 (64..70) is still open.
    const perBlock = REWARD_POINTS.proposer + REWARD_POINTS.attester + REWARD_POINTS.executor;
    assertEquals(reward.ledger.settledThroughHeight, 63);
    assertEquals(reward.ledger.lastSettledEpoch, 1);
    assertEquals(reward.ledger.balances, { "node-1": 63 * perBlock });
    const e1 = JSON.parse(await Deno.readTextFile(join(dataDir, "reports", "epoch-1.json")));
    assertEquals([e1.first_height, e1.last_height, e1.blocks], [32, 63, 32]);
    assertEquals(e1.settlement.proposer, { "node-1": 32 * REWARD_POINTS.proposer });
    assertEquals(e1.consensus.last_block_hash, blocks[62].hash);
    const rec63 = await ExecutionCore.open({
      dataDir,
      worldId: "world-1",
      blocks: new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks")),
      durable: false,
    });
    assertEquals(
      e1.consensus.last_execution_block_hash,
      (await rec63.resultAt(63))?.executionBlockHash,
    );
    await rec63.close();
    const latest = JSON.parse(await Deno.readTextFile(join(dataDir, "reports", "latest.json")));
    assertEquals(latest.consensus.last_execution_height, 70);
    assertEquals(latest.execution_lag, 0);
    assertEquals(latest.reward.settled_through_height, 63);

    // A restart re-reads the open epoch and settles nothing twice.
    const again = await RewardRuntime.open(options, src, null);
    await again.runOnce();
    assertEquals((await readLedger(dataDir)).value.balances, { "node-1": 63 * perBlock });
    await assertRejects(
      () => RewardRuntime.open({ ...options, worldId: "world-2" }, src, null),
      Error,
      "world_id",
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("an unreadable record reaches last_error, is logged once, and settlement resumes once it is readable", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-reward-err-" });
  try {
    const blocks = await buildChain(dataDir, "node-1", 70);
    const core = await ExecutionCore.open({
      dataDir,
      worldId: "world-1",
      blocks: new BlockStore(join(nodeDir(dataDir, "node-1"), "blocks")),
      durable: false,
    });
    const last = await core.executeThrough(commitContext("world-1", "node-1", blocks[69]));
    await core.close();
    const path = recordPath(dataDir, 63);
    const good = await Deno.readFile(path);
    await Deno.writeFile(path, new Uint8Array([0xff, 0x00, 0x13]));
    const warns: string[] = [];
    const infos: string[] = [];
    const logger = {
      debug() {},
      info: (m: string) => infos.push(m),
      warn: (m: string) => warns.push(m),
      error() {},
    };
    const options = {
      dataDir,
      nodeId: "node-1",
      worldId: "world-1",
      mode: "node" as const,
      logger,
    };
    const reward = await RewardRuntime.open(
      options,
      source(dataDir, 70, 70, last.executionStateRoot),
      null,
    );
    for (let i = 0; i < 5; i++) await reward.runOnce();
    assert(reward.lastError !== null, "last_error is set");
    assertEquals(reward.failures, 5);
    assertEquals(warns, ["reward runtime pass failed"], "one line for one distinct error");
    const latest = JSON.parse(await Deno.readTextFile(join(dataDir, "reports", "latest.json")));
    assertEquals(latest.last_error, reward.lastError);
    assertEquals(reward.ledger.settledThroughHeight, 31, "epoch 1 cannot close past record 63");

    await Deno.writeFile(path, good);
    await reward.runOnce();
    assertEquals(reward.lastError, null);
    assertEquals(infos, ["reward runtime recovered"]);
    assertEquals(reward.ledger.settledThroughHeight, 63, "epoch 1 settles once 63 is readable");
    await reward.stop();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
