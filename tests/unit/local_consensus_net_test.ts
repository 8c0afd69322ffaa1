import { assert, assertEquals } from "@std/assert";
import { MemorySignerStateStore } from "../../src/consensus/bft/signer_state.ts";
import { blockId, simSigner, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import type { BftBlock, BftMessage, SignerState, Vote } from "../../src/consensus/bft/types.ts";
import { makePayload } from "../../src/node/bft_block.ts";
import { LocalConsensus, localModeKeys } from "../../src/node/local_consensus.ts";

const W = "world-net";
const IDS = ["a", "b", "c", "d"];

function certified(height: number, parent: string) {
  const block: BftBlock = {
    height,
    parent,
    proposer: "a",
    payload: makePayload(height, 0, 1000 + height, []),
    evidence: [],
  };
  const id = blockId(block);
  const precommits = IDS.map((v) => {
    const vote: Vote = { type: "precommit", height, round: 0, block: id, validator: v };
    return { vote, signature: simSigner(W, v).sign(voteSignBytes(W, vote)) };
  });
  return {
    id,
    message: { kind: "commit", block, certificate: { height, round: 0, block: id, precommits } },
  };
}

Deno.test("a node that signs for no validator follows certified commits with an observer engine", async () => {
  const c = await LocalConsensus.open({
    worldId: W,
    validators: IDS.map((id) => ({ id, stake: 1 })),
    localValidators: [],
    height: 1,
    lastBlockId: "genesis",
    store: () => new MemorySignerStateStore(),
    keys: localModeKeys(W),
    onBroadcast: () => {
      throw new Error("an observer must not send");
    },
  }, 0);
  const one = certified(1, "genesis");
  const two = certified(2, one.id);
  // Out of order (sync batches may be), after a forged copy of height 1 that must not count.
  // (The network verifies certificates before the engine; a forged future commit would
  // take the engine's one slot for its height, see the report.)
  const forged = structuredClone(one.message) as {
    certificate: { precommits: { signature: Uint8Array }[] };
  };
  forged.certificate.precommits.forEach((p) => (p.signature = new Uint8Array(32)));
  assert(c.receive(forged));
  assert(c.receive(two.message));
  assert(c.receive(one.message));
  const first = await c.tick(10, null);
  const second = await c.tick(20, null);
  assertEquals([first?.block.height, second?.block.height], [1, 2]);
  assertEquals(second?.blockId, two.id);
  assertEquals(await c.tick(30, null), null);
});

Deno.test("onBroadcast gets a local validator's message only after its signer state is durable", async () => {
  const events: string[] = [];
  const inner = new MemorySignerStateStore();
  const sent: BftMessage[] = [];
  const c = await LocalConsensus.open({
    worldId: W,
    validators: IDS.map((id) => ({ id, stake: 1 })),
    localValidators: ["a"],
    height: 1,
    lastBlockId: "genesis",
    store: () => ({
      load: () => inner.load(),
      save: async (s: SignerState) => {
        await inner.save(s);
        events.push(`saved ${s.step}`);
      },
    }),
    keys: localModeKeys(W),
    onBroadcast: (m) => {
      sent.push(m);
      events.push(`sent ${m.kind}`);
    },
  }, 0);
  // Validator a proposes at height 1 round 0 (round-robin by id), then times out to prevotes.
  await c.tick(0, () => makePayload(1, 0, 0, []));
  await c.tick(60_000, () => makePayload(1, 0, 0, []));
  assert(sent.length >= 1, JSON.stringify(events));
  for (const [i, e] of events.entries()) {
    if (e.startsWith("sent")) {
      assert(events.slice(0, i).some((x) => x.startsWith("saved")), events.join(","));
    }
  }
  assert(sent.every((m) => m.kind === "proposal" || m.kind === "vote"));
});
