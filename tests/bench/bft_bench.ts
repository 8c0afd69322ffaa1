/**
 * BFT benchmarks (`deno task bench`):
 *  - simulated heights per CPU-second for 4, 7 and 16 validators (fault-free simulator
 *    runs of 10 heights: every validator's engine, signing and verifying in one thread);
 *  - messages per second one engine handles (a proposal, 3 prevotes and 3 precommits
 *    per height, 100 heights per iteration, signatures verified).
 * Per-height cost = time / 10; messages/s = 700 / time.
 */
import { BftEngine } from "../../src/consensus/bft/engine.ts";
import {
  blockId,
  proposalSignBytes,
  simPublicKey,
  simSigner,
  simVerifier,
  voteSignBytes,
} from "../../src/consensus/bft/signing.ts";
import {
  BFT_GENESIS_PARENT,
  type BftBlock,
  type BftMessage,
} from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { runSimulation } from "../../src/sim/simulator.ts";

const HEIGHTS = 10;
for (const nodes of [4, 7, 16]) {
  let seed = 1;
  Deno.bench(`sim: ${HEIGHTS} heights, ${nodes} validators, no faults`, { group: "sim" }, () => {
    const r = runSimulation({ seed: seed++, nodes, heights: HEIGHTS, faults: null });
    if (r.violation) throw new Error(r.violation);
  });
}

// One engine ("observer" validator d) fed a pre-signed stream of 100 heights.
const W = "bench";
const IDS = ["a", "b", "c", "d"];
const SET = new BftValidatorSet(
  IDS.map((id) => ({ id, publicKey: simPublicKey(W, id), stake: 1 })),
);
const stream: BftMessage[] = [];
let parent = BFT_GENESIS_PARENT;
for (let h = 1; h <= 100; h++) {
  const proposer = SET.proposer(h, 0);
  const block: BftBlock = { height: h, parent, proposer, payload: { n: h }, evidence: [] };
  const p = { height: h, round: 0, block, validRound: -1, proposer };
  stream.push({
    kind: "proposal",
    proposal: p,
    signature: simSigner(W, proposer).sign(proposalSignBytes(W, p)),
  });
  for (const type of ["prevote", "precommit"] as const) {
    for (const id of IDS.filter((x) => x !== "d")) {
      const v = { type, height: h, round: 0, block: blockId(block), validator: id };
      stream.push({ kind: "vote", vote: v, signature: simSigner(W, id).sign(voteSignBytes(W, v)) });
    }
  }
  parent = blockId(block);
}

Deno.bench("engine: 700 messages (100 heights × 7), fresh verifier", { group: "engine" }, () => {
  const e = new BftEngine({
    worldId: W,
    validators: SET,
    verifier: simVerifier(W),
    self: null,
    signer: null,
    height: 1,
    lastBlockId: BFT_GENESIS_PARENT,
  });
  e.step({ kind: "start" });
  let commits = 0;
  for (const message of stream) {
    for (const o of e.step({ kind: "message", message })) if (o.kind === "commit") commits++;
  }
  if (commits !== 100) throw new Error(`expected 100 commits, got ${commits}`);
});
