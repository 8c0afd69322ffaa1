import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { blockId } from "../../src/consensus/bft/signing.ts";
import type { BftCommit } from "../../src/consensus/bft/types.ts";
import { hashHeader, makeBlock } from "../../src/consensus/block.ts";
import { ExecutionAgreement } from "../../src/node/agreement.ts";
import { LocalConsensus, localModeKeys } from "../../src/node/local_consensus.ts";
import { MemorySignerStateStore } from "../../src/consensus/bft/signer_state.ts";
import {
  bftBlockOf,
  blockClaim,
  committedFromBft,
  makePayload,
  MAX_CLAIM_ROOT_CHARS,
  parsePayload,
  payloadClaim,
} from "../../src/node/bft_block.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { rootOf, runAgreementNet } from "../support/agreement_net.ts";

const ROOT = "ab".repeat(32);

function commitOf(payload: ReturnType<typeof makePayload>): BftCommit {
  const block = { height: 1, parent: "genesis", proposer: "v1", payload, evidence: [] };
  const id = blockId(block);
  return { block, blockId: id, certificate: { height: 1, round: 0, block: id, precommits: [] } };
}

Deno.test("payload: an old payload without a claim parses as 'no claim' and hashes as before", () => {
  const old = { slot: 3, epoch: 0, timestamp_ms: 7, actions: [{ kind: "noop" }] };
  const p = parsePayload(old);
  assert(p !== null);
  assertEquals(payloadClaim(p), null);
  const block = committedFromBft(commitOf(old), null, 9);
  assertEquals(blockClaim(block), null);
  assertEquals("executionHeight" in block.header, false);
  // The header hash is exactly the pre-agreement one.
  const before = makeBlock({
    height: 1,
    slot: 3,
    epoch: 0,
    parentHash: "genesis",
    proposer: "v1",
    timestampMs: 7,
  }, [{ kind: "noop" }]);
  assertEquals(block.hash, before.hash);
  // And the BFT block rebuilt from the stored block has the original id.
  assertEquals(blockId(bftBlockOf(block, "genesis")), commitOf(old).blockId);
});

Deno.test("payload: a claim travels payload → header → block file → BFT id", async () => {
  const payload = makePayload(3, 0, 7, [], { height: 2, stateRoot: ROOT });
  assertEquals(payloadClaim(parsePayload(payload)!), { height: 2, stateRoot: ROOT });
  const commit = commitOf(payload);
  const block = committedFromBft(commit, null, 9);
  assertEquals(blockClaim(block), { height: 2, stateRoot: ROOT });
  assertEquals(block.hash, hashHeader(block.header));
  const noClaim = committedFromBft(commitOf(makePayload(3, 0, 7, [])), null, 9);
  assertNotEquals(block.hash, noClaim.hash, "the claim is covered by the header hash");
  const dir = await Deno.makeTempDir({ prefix: "awr-agree-" });
  try {
    const store = new BlockStore(dir, { durable: false });
    await store.put(block);
    const back = (await store.getBlock(1))!;
    assertEquals(blockClaim(back), { height: 2, stateRoot: ROOT });
    assertEquals(blockId(bftBlockOf(back, "genesis")), commit.blockId);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payload: malformed claims make the payload invalid", () => {
  const base = { slot: 1, epoch: 0, timestamp_ms: 0, actions: [] };
  for (
    const bad of [
      { execution_height: 1 },
      { execution_state_root: ROOT },
      { execution_height: 0, execution_state_root: ROOT },
      { execution_height: 1.5, execution_state_root: ROOT },
      { execution_height: 1, execution_state_root: "" },
      { execution_height: 1, execution_state_root: 7 },
      { execution_height: 1, execution_state_root: "a".repeat(MAX_CLAIM_ROOT_CHARS + 1) },
    ]
  ) {
    assertEquals(parsePayload({ ...base, ...bad }), null, JSON.stringify(bad));
  }
  const atBound = { execution_height: 1, execution_state_root: "a".repeat(MAX_CLAIM_ROOT_CHARS) };
  assert(parsePayload({ ...base, ...atBound }) !== null);
});

const FOUR = ["v1", "v2", "v3", "v4"].map((id) => ({ id, stake: 1 }));

Deno.test("agreement: one disagreeing validator of four is listed; two make this node diverged", () => {
  const a = new ExecutionAgreement({ validators: FOUR, localValidators: ["v1"] });
  assertEquals(a.executed(1, "r1", 10), null);
  assertEquals(a.claim("v2", { height: 1, stateRoot: "r1" }, 11), null);
  assertEquals(a.claim("v3", { height: 1, stateRoot: "x1" }, 12), null);
  let s = a.snapshot();
  assertEquals(s.divergence, null);
  assertEquals(s.divergedValidators.map((v) => [v.validator, v.height, v.theirRoot]), [[
    "v3",
    1,
    "x1",
  ]]);
  // Unknown validators' claims are ignored.
  assertEquals(a.claim("mallory", { height: 1, stateRoot: "x1" }, 13), null);
  const d = a.claim("v4", { height: 1, stateRoot: "x1" }, 14);
  assertEquals(d, { height: 1, ownRoot: "r1", networkRoot: "x1", claimant: "v4", sinceUnixMs: 14 });
  s = a.snapshot();
  assertEquals(s.divergence, d);
  assertEquals(s.divergedValidators, [], "a diverged node does not judge others");
  assertEquals(s.checkedClaims, 3);
  // Found once.
  assertEquals(a.claim("v2", { height: 1, stateRoot: "y1" }, 15), null);
});

Deno.test("agreement: this node's own earlier claim that differs is divergence", () => {
  const a = new ExecutionAgreement({ validators: FOUR, localValidators: ["v1", "v2"] });
  assertEquals(a.claim("v2", { height: 3, stateRoot: "old3" }, 1), null);
  assertEquals(a.snapshot().pendingClaims, 1);
  a.executed(2, "r2", 2);
  const d = a.executed(3, "new3", 3);
  assertEquals(d?.claimant, "v2");
  assertEquals([d?.ownRoot, d?.networkRoot], ["new3", "old3"]);
  assertEquals(a.snapshot().pendingClaims, 0);
});

Deno.test("agreement: pending claims are bounded (at the bound kept, beyond dropped)", () => {
  const a = new ExecutionAgreement({
    validators: FOUR,
    localValidators: ["v1"],
    maxPendingClaims: 4,
  });
  for (let h = 1; h <= 4; h++) a.claim("v2", { height: h, stateRoot: `r${h}` }, 0);
  a.claim("v2", { height: 2, stateRoot: "r2" }, 0); // a repeat takes no room
  assertEquals(a.snapshot().pendingClaims, 4);
  assertEquals(a.snapshot().droppedClaims, 0);
  a.claim("v3", { height: 5, stateRoot: "x5" }, 0);
  assertEquals(a.snapshot().pendingClaims, 4);
  assertEquals(a.snapshot().droppedClaims, 1);
  for (let h = 1; h <= 5; h++) a.executed(h, `r${h}`, 0);
  const s = a.snapshot();
  assertEquals([s.pendingClaims, s.checkedClaims, s.divergedValidators.length], [0, 4, 0]);
});

Deno.test("agreement: when full, a lower claim replaces the highest (far-future junk goes first)", () => {
  const a = new ExecutionAgreement({
    validators: FOUR,
    localValidators: ["v1"],
    maxPendingClaims: 4,
  });
  for (const h of [1, 2, 1_000_000, 3]) a.claim("v2", { height: h, stateRoot: `r${h}` }, 0);
  a.claim("v3", { height: 4, stateRoot: "x4" }, 0);
  assertEquals([a.snapshot().pendingClaims, a.snapshot().droppedClaims], [4, 1]);
  for (let h = 1; h <= 4; h++) a.executed(h, `r${h}`, 0);
  const s = a.snapshot();
  assertEquals([s.pendingClaims, s.checkedClaims], [0, 4]);
  assertEquals(s.divergedValidators.map((v) => [v.validator, v.height]), [["v3", 4]]);
});

Deno.test("agreement: own roots are bounded; a claim older than those kept is dropped", () => {
  const a = new ExecutionAgreement({ validators: FOUR, localValidators: ["v1"], maxOwnRoots: 3 });
  for (let h = 1; h <= 5; h++) a.executed(h, `r${h}`, 0);
  a.claim("v2", { height: 3, stateRoot: "x3" }, 0); // oldest kept: checked
  assertEquals(a.snapshot().divergedValidators.map((v) => v.validator), ["v2"]);
  a.claim("v3", { height: 2, stateRoot: "x2" }, 0); // beyond: dropped
  assertEquals(a.snapshot().droppedClaims, 1);
  assertEquals(a.snapshot().divergedValidators.length, 1);
});

Deno.test("agreement: bounds must be positive integers", () => {
  let code = "";
  try {
    new ExecutionAgreement({ validators: FOUR, localValidators: [], maxPendingClaims: 0 });
  } catch (err) {
    code = (err as { code?: string }).code ?? "";
  }
  assertEquals(code, "INVALID_OPTION");
});

// How soon is set by who proposes (a stake-weighted pick per height): v3 finds itself
// once two others' proposals claim a height >= H it executed; the others find v3 at its
// first proposal claiming such a height. With these ids and H = 6 both come within 5
// heights; a peer's status claim (observePeerClaim) makes it independent of the schedule.
for (const lag of [0, 1]) {
  Deno.test(`BFT network (lag ${lag}): a validator whose root differs from height H is found within 5 heights`, () => {
    const o = {
      ids: ["v1", "v2", "v3", "v4"],
      diverging: ["v3"],
      fromHeight: 6,
      lag,
      untilHeight: 24,
    };
    const nodes = runAgreementNet(o);
    const x = nodes.find((n) => n.id === "v3")!;
    const honest = nodes.filter((n) => n.id !== "v3");
    // The diverged validator finds itself, within 5 heights of H, and stops voting.
    const d = x.agreement.divergence;
    assert(d !== null, "v3 did not find its divergence");
    assert(d.height >= o.fromHeight);
    assertEquals(d.ownRoot, rootOf(o, "v3", d.height));
    assertEquals(d.networkRoot, rootOf(o, "v1", d.height));
    assert(x.divergedAt! <= o.fromHeight + 5, `v3 found itself at height ${x.divergedAt}`);
    assertEquals(x.votesAfterDivergence, 0);
    assertEquals(x.engine.voting, false);
    // Its precommits are absent from the certificates of later blocks; it keeps following.
    for (const c of x.commits.slice(x.divergedAt! + 1)) {
      assert(c.certificate.precommits.every((sv) => sv.vote.validator !== "v3"));
    }
    assertEquals(
      x.commits.slice(0, 24).map((c) => c.blockId),
      honest[0].commits.slice(0, 24).map((c) => c.blockId),
    );
    for (const n of honest) {
      assertEquals(n.agreement.divergence, null, `${n.id} must not think it diverged`);
      const marked = n.markedAt.get("v3");
      assert(marked !== undefined && marked <= o.fromHeight + 5, `${n.id} marked v3 at ${marked}`);
      assertEquals(n.agreement.snapshot().divergedValidators.map((v) => v.validator), ["v3"]);
      assert(n.engine.voting);
      // The others keep committing without it: identical chains.
      assertEquals(
        n.commits.slice(0, 24).map((c) => c.blockId),
        honest[0].commits.slice(0, 24).map((c) => c.blockId),
      );
    }
  });
}

Deno.test("BFT network: nobody diverges when every root agrees", () => {
  const nodes = runAgreementNet({
    ids: ["v1", "v2", "v3", "v4"],
    diverging: [],
    fromHeight: 1,
    lag: 1,
    untilHeight: 12,
  });
  for (const n of nodes) {
    const s = n.agreement.snapshot();
    assertEquals([s.divergence, s.divergedValidators.length], [null, 0]);
    assert(s.checkedClaims > 0, `${n.id} checked no claim`);
  }
});

Deno.test("LocalConsensus.setVoting: with every local engine muted nothing is decided", async () => {
  const ids = ["v1", "v2", "v3", "v4"];
  const stores = new Map(ids.map((id) => [id, new MemorySignerStateStore()]));
  const c = await LocalConsensus.open({
    worldId: "w-mute",
    validators: ids.map((id) => ({ id, stake: 1 })),
    localValidators: ids,
    height: 1,
    lastBlockId: "genesis",
    store: (id) => stores.get(id)!,
    keys: localModeKeys("w-mute"),
  }, 0);
  const run = async (from: number, ticks: number) => {
    let commits = 0;
    for (let t = from; t < from + ticks; t++) {
      const now = t * 100;
      if (await c.tick(now, () => makePayload(t + 1, 0, now, []))) commits++;
      await c.flush();
    }
    return commits;
  };
  assert(await run(0, 50) > 0, "commits while voting");
  c.setVoting(false);
  await run(50, 5); // a height already precommitted may still finish
  assertEquals(await run(55, 200), 0, "no decision without votes");
});

Deno.test("BFT network sweep: honest validators never think they diverged; every diverged one is found by all", () => {
  const cases = [];
  for (const fromHeight of [2, 9]) {
    for (const lag of [0, 2]) {
      for (const diverging of [["v1"], ["v4"]]) {
        cases.push({ ids: ["v1", "v2", "v3", "v4"], diverging, fromHeight, lag, untilHeight: 40 });
      }
    }
  }
  // Seven validators, two of them diverged (2/7 < 1/3 of the stake).
  const seven = ["v1", "v2", "v3", "v4", "v5", "v6", "v7"];
  cases.push({ ids: seven, diverging: ["v2", "v6"], fromHeight: 4, lag: 1, untilHeight: 40 });
  for (const o of cases) {
    const what = `${o.ids.length} validators, ${o.diverging} from ${o.fromHeight}, lag ${o.lag}`;
    const nodes = runAgreementNet(o);
    for (const n of nodes) {
      const bad = o.diverging.includes(n.id);
      const s = n.agreement.snapshot();
      if (bad) {
        assert(s.divergence !== null, `${what}: ${n.id} did not find itself`);
        assertEquals(n.votesAfterDivergence, 0, what);
      } else {
        assertEquals(s.divergence, null, `${what}: honest ${n.id} thinks it diverged`);
        assertEquals(s.divergedValidators.map((v) => v.validator), [...o.diverging].sort(), what);
      }
    }
  }
});
