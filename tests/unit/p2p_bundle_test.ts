import { assert, assertEquals } from "@std/assert";
import { checkConsensusBody, consensusFrames, MAX_CONSENSUS_BUNDLE } from "../../src/net/bodies.ts";
import { MAX_FRAME_BYTES } from "../../src/net/envelope.ts";
import { ed25519Verifier } from "../../src/net/keys.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";
import { makeSet, signedProposal, signedVote, type TestSet } from "../support/p2p_fixture.ts";
import type { BftBlock } from "../../src/consensus/bft/types.ts";

function check(set: TestSet, body: unknown) {
  return checkConsensusBody(
    body,
    set.world,
    new BftValidatorSet(set.validators),
    ed25519Verifier(set.validators),
  );
}

/** For cases where every message seals. */
const fail = (err: unknown) => {
  throw err;
};

const votes = (set: TestSet, n: number) =>
  Array.from(
    { length: n },
    (_, i) => signedVote(set, i % 3, { type: "prevote", height: i + 1, round: 0, block: null }),
  );

Deno.test("consensus bundle: one message or an array of 1 to 16 passes in order; 0 or 17 is BAD_BODY", async () => {
  const set = await makeSet(3);
  const [one] = votes(set, 1);
  assertEquals(check(set, one), [one]);
  const max = votes(set, MAX_CONSENSUS_BUNDLE);
  assertEquals(check(set, max), max);
  assertEquals(check(set, [one]), [one]);
  assertEquals(check(set, []), "BAD_BODY");
  assertEquals(check(set, votes(set, MAX_CONSENSUS_BUNDLE + 1)), "BAD_BODY");
});

Deno.test("consensus bundle: one bad message drops the whole frame, naming why", async () => {
  const set = await makeSet(3);
  const good = votes(set, 3);
  const forged = { ...good[1], signature: new Uint8Array(64) };
  assertEquals(check(set, [good[0], forged, good[2]]), "BAD_SIGNATURE");
  const stranger = await makeSet(1, set.world);
  const unknown = signedVote(
    { ...stranger, validators: [{ ...stranger.validators[0], id: "v9" }] },
    0,
    {
      type: "prevote",
      height: 1,
      round: 0,
      block: null,
    },
  );
  assertEquals(check(set, [good[0], unknown]), "UNKNOWN_VALIDATOR");
  assertEquals(check(set, [good[0], { kind: "commit" }]), "BAD_BODY");
  assertEquals(check(set, [good[0], "x"]), "BAD_BODY");
  // Nested arrays are not messages.
  assertEquals(check(set, [good]), "BAD_BODY");
});

Deno.test("consensus frames: 16 messages per frame in order; a lone message is its own body", async () => {
  const set = await makeSet(3);
  const seal = (body: unknown) => encodeCanonical(body);
  const all = votes(set, 2 * MAX_CONSENSUS_BUNDLE + 1);
  const frames = consensusFrames(all, seal, fail).map((f) => decodeCbor(f));
  assertEquals(frames.length, 3);
  assertEquals(frames[0], all.slice(0, MAX_CONSENSUS_BUNDLE));
  assertEquals(frames[1], all.slice(MAX_CONSENSUS_BUNDLE, 2 * MAX_CONSENSUS_BUNDLE));
  assertEquals(frames[2], all[2 * MAX_CONSENSUS_BUNDLE]); // alone: not wrapped in an array
  assertEquals(consensusFrames([], seal, fail), []);
});

Deno.test("consensus frames: a message that cannot be sealed is reported and left out; the others still go", async () => {
  const set = await makeSet(3);
  const seal = (body: unknown) => encodeCanonical(body);
  const [a, b] = votes(set, 2);
  const bad = { kind: "vote", x: 1.5 }; // not canonical CBOR: the seal throws
  const errors: unknown[] = [];
  const frames = consensusFrames([a, bad, b], seal, (_err, m) => errors.push(m));
  assertEquals(frames.map((f) => decodeCbor(f)), [a, b]);
  assertEquals(errors, [bad]);
  // Alone, too.
  assertEquals(consensusFrames([bad], seal, (_e, m) => errors.push(m)), []);
  assertEquals(errors, [bad, bad]);
});

Deno.test("consensus frames: a bundle over the frame bound goes one frame per message", async () => {
  const set = await makeSet(3);
  // A proposal of about 0.6 of the frame bound: two of them together pass the bound.
  const block = (height: number): BftBlock => ({
    height,
    parent: "genesis",
    proposer: "v1",
    payload: new Uint8Array(Math.floor(MAX_FRAME_BYTES * 0.6)),
    evidence: [],
  });
  const big = [signedProposal(set, 0, block(1)), signedProposal(set, 0, block(2))];
  const seal = (body: unknown) => encodeCanonical(body);
  const frames = consensusFrames(big, seal, fail);
  assertEquals(frames.length, 2);
  assert(frames.every((f) => f.length <= MAX_FRAME_BYTES));
  assertEquals(frames.map((f) => decodeCbor(f)), big);
  // Just under the bound together: one frame.
  const small = [
    signedProposal(set, 0, { ...block(1), payload: new Uint8Array(1000) }),
    ...votes(set, 1),
  ];
  assertEquals(consensusFrames(small, seal, fail).map((f) => decodeCbor(f)), [small]);
});
