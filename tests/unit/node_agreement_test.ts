import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { proposalSignBytes, simSigner } from "../../src/consensus/bft/signing.ts";
import type { BftMessage, Proposal } from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import type { Validator } from "../../src/consensus/types.ts";
import { LiveMetrics } from "../../src/live/metrics.ts";
import type { Logger } from "../../src/logger.ts";
import { blockClaim, makePayload } from "../../src/node/bft_block.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { snapshotToJson } from "../../src/node/snapshot.ts";
import { RecordingHook, waitFor } from "../support/hooks.ts";

const W = "world-agree-node";

/** A proposal by `proposer` (signed with local mode's keys) carrying `claim`, at a far height. */
function proposalFrom(
  validators: readonly Validator[],
  proposer: string,
  claim: { height: number; stateRoot: string },
  forge = false,
): BftMessage {
  const set = new BftValidatorSet(validators.map((v) => ({ ...v, publicKey: "" })));
  let height = 1000;
  while (set.proposer(height, 0) !== proposer) height++;
  const proposal: Proposal = {
    height,
    round: 0,
    block: {
      height,
      parent: "f".repeat(64),
      proposer,
      payload: makePayload(1, 0, 0, [], claim),
      evidence: [],
    },
    validRound: -1,
    proposer,
  };
  const signature = simSigner(W, forge ? "someone-else" : proposer).sign(
    proposalSignBytes(W, proposal),
  );
  return { kind: "proposal", proposal, signature };
}

function capturingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const none = () => {};
  return {
    errors,
    debug: none,
    info: none,
    warn: none,
    error: (msg, fields) => errors.push(`${msg} ${JSON.stringify(fields)}`),
  };
}

async function withNode(
  validators: Validator[],
  local: string[],
  fn: (node: NodeRuntime, log: ReturnType<typeof capturingLogger>) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-agree-node-" });
  const log = capturingLogger();
  const node = new NodeRuntime({
    nodeId: "n1",
    worldId: W,
    dataDir,
    tickIntervalMs: 10,
    durable: false,
    validators,
    localValidators: local,
  }, { executionHook: new RecordingHook(), logger: log });
  try {
    await node.start();
    await fn(node, log);
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("node: blocks carry the proposer's execution claim of its latest executed height", async () => {
  await withNode([{ id: "a", stake: 1 }], ["a"], async (node) => {
    assert(await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 3, 30_000));
    let claims = 0;
    for (let h = 2; h <= node.snapshot().consensus.committedHeight; h++) {
      const c = blockClaim((await node.blocks.getBlock(h))!);
      if (!c) continue;
      claims++;
      assert(c.height < h, `block ${h} claims height ${c.height}`);
      assertEquals(c.stateRoot, (await node.executionResult(c.height))?.executionStateRoot);
    }
    assert(claims > 0, "no block carried a claim");
    const json = snapshotToJson(node.snapshot());
    assertEquals([json.divergence, json.diverged_validators], [null, []]);
  });
});

Deno.test("node: a validator whose signed proposal claims another root is listed diverged; the node keeps committing", async () => {
  const validators = [{ id: "a", stake: 10 }, { id: "b", stake: 1 }];
  await withNode(validators, ["a"], async (node, log) => {
    // A forged one (not b's signature) is ignored; b's own is believed.
    node.receiveConsensusMessage(
      proposalFrom(validators, "b", { height: 1, stateRoot: "forged" }, true),
    );
    node.receiveConsensusMessage(proposalFrom(validators, "b", { height: 1, stateRoot: "other" }));
    assert(await waitFor(() => node.snapshot().consensus.lastExecutionHeight >= 1, 30_000));
    const own = (await node.executionResult(1))!.executionStateRoot;
    assert(await waitFor(() => snapshotToJson(node.snapshot()).diverged_validators.length > 0));
    const json = snapshotToJson(node.snapshot());
    assertEquals(json.divergence, null);
    assertEquals(json.execution_claims.checked, 1, "the forged claim was not checked");
    assertEquals(
      json.diverged_validators.map((v) => [v.validator, v.height, v.own_root, v.their_root]),
      [["b", 1, own, "other"]],
    );
    const at = node.snapshot().consensus.committedHeight;
    assert(await waitFor(() => node.snapshot().consensus.committedHeight >= at + 3, 30_000));
    assertEquals(log.errors, []);
  });
});

Deno.test("node: its own earlier claim that differs makes it diverged: status, metrics, one ERROR, no more votes", async () => {
  await withNode([{ id: "a", stake: 1 }], ["a"], async (node, log) => {
    node.receiveConsensusMessage(
      proposalFrom([{ id: "a", stake: 1 }], "a", { height: 2, stateRoot: "earlier" }),
    );
    assert(await waitFor(() => snapshotToJson(node.snapshot()).divergence !== null, 30_000));
    const json = snapshotToJson(node.snapshot());
    const own = (await node.executionResult(2))!.executionStateRoot;
    const d = json.divergence!;
    assertEquals([d.height, d.own_root, d.network_root, d.claimant], [2, own, "earlier", "a"]);
    assert(d.since > 0);
    assertEquals(json.diverged_validators, []);
    assertStringIncludes(json.last_error ?? "", "execution diverged at height 2");
    assertEquals(log.errors.length, 1);
    assertStringIncludes(log.errors[0], '"network_root":"earlier"');
    // Its only validator stopped voting: at most the height in flight still commits.
    const at = node.snapshot().consensus.committedHeight;
    const ticks = node.snapshot().tickCount;
    assert(await waitFor(() => node.snapshot().tickCount >= ticks + 30, 30_000));
    assert(node.snapshot().consensus.committedHeight <= at + 1);
    // Records kept for inspection.
    assert((await node.executionResult(1)) !== null);
    // Metrics show it.
    const metrics = new LiveMetrics();
    metrics.setGaugeSource(() => ({
      committedHeight: 0,
      executionHeight: 0,
      mempoolSize: 0,
      executionDiverged: node.snapshot().agreement?.divergence !== undefined &&
        node.snapshot().agreement?.divergence !== null,
      divergedValidators: 0,
    }));
    assertStringIncludes(metrics.render(), "\nawr_execution_diverged 1\n");
  });
});

Deno.test("node: a peer's status claim (observePeerClaim) is checked like a proposal's", async () => {
  const validators = [{ id: "a", stake: 10 }, { id: "b", stake: 1 }];
  await withNode(validators, ["a"], async (node) => {
    node.observePeerClaim("b", 1, "peer-root");
    node.observePeerClaim("nobody", 1, "peer-root");
    assert(await waitFor(() => snapshotToJson(node.snapshot()).diverged_validators.length > 0));
    assertEquals(snapshotToJson(node.snapshot()).diverged_validators.map((v) => v.validator), [
      "b",
    ]);
  });
});
