/**
 * NodeRuntime in local mode with several validators: every local validator signs (its
 * own signer state file), blocks carry verifying certificates, and duplicate votes of a
 * remote validator show in the snapshot and end up in a block.
 */
import { assert, assertEquals } from "@std/assert";
import { checkCertificate } from "../../src/consensus/bft/checks.ts";
import { simSigner, simVerifier, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import type { Vote } from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { snapshotToJson } from "../../src/node/snapshot.ts";

const W = "world-lb";
const IDS = ["a", "b", "c", "d"];

async function waitFor(cond: () => boolean, ms = 20_000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

Deno.test("four validators, three local: certificates verify, each local signer persists, evidence reaches status and a block", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-local-bft-" });
  const node = new NodeRuntime({
    nodeId: "n",
    worldId: W,
    dataDir,
    tickIntervalMs: 2,
    durable: false,
    validators: IDS.map((id) => ({ id, stake: 1 })),
    localValidators: ["a", "b", "c"],
  }, { bft: { timeouts: { proposeMs: 20, prevoteMs: 10, precommitMs: 10, deltaMs: 5 } } });
  const commits: CommittedBlock[] = [];
  node.events.on("commit", (e) => commits.push(e.block));
  try {
    await node.start();
    assert(await waitFor(() => commits.length >= 3));
    const set = new BftValidatorSet(IDS.map((id) => ({ id, publicKey: "", stake: 1 })));
    for (const b of commits.slice(0, 3)) {
      const cert = b.certificate!;
      assertEquals(
        checkCertificate(W, set, simVerifier(W), b.header.height, cert.block, cert),
        null,
      );
      assertEquals(b.attestations.map((a) => a.validator).sort(), ["a", "b", "c"]);
    }
    for (const id of ["a", "b", "c"]) {
      const s = await new FileSignerStateStore(dataDir, id).load();
      assert(s && s.height >= 3, `${id} persisted its signer state`);
    }
    assertEquals(await new FileSignerStateStore(dataDir, "d").load(), null);

    // d equivocates at the next two heights (one is still ahead of the engines).
    const c = node.snapshot().consensus.committedHeight;
    const d = simSigner(W, "d");
    for (const height of [c + 2, c + 3]) {
      for (const block of ["11".repeat(32), "22".repeat(32)]) {
        const vote: Vote = { type: "prevote", height, round: 0, block, validator: "d" };
        assert(node.receiveConsensusMessage({
          kind: "vote",
          vote,
          signature: d.sign(voteSignBytes(W, vote)),
        }));
      }
    }
    assert(await waitFor(() => commits.some((b) => (b.evidence?.length ?? 0) > 0)));
    const json = snapshotToJson(node.snapshot());
    assert(json.evidence.count >= 1);
    assertEquals(json.evidence.recent[0].validator, "d");
    const withEvidence = commits.find((b) => (b.evidence?.length ?? 0) > 0)!;
    const stored = await node.blocks.getBlock(withEvidence.header.height);
    assertEquals(stored?.evidence?.[0].a.vote.validator, "d");
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
