import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { checkCertificate } from "../../src/consensus/bft/checks.ts";
import { BftEngine, type BftEngineConfig } from "../../src/consensus/bft/engine.ts";
import { BftError } from "../../src/consensus/bft/errors.ts";
import { parseGenesis, parseGenesisBytes } from "../../src/consensus/bft/genesis.ts";
import { timeoutMs } from "../../src/consensus/bft/options.ts";
import {
  decodeSignerState,
  encodeSignerState,
  guardedSign,
  initialSignerState,
} from "../../src/consensus/bft/signer_state.ts";
import {
  blockId,
  encodeFlatArray,
  proposalSignBytes,
  simPublicKey,
  simSigner,
  simVerifier,
  voteSignBytes,
} from "../../src/consensus/bft/signing.ts";
import type {
  BftBlock,
  BftMessage,
  EngineOutput,
  SignerState,
  VoteType,
} from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import {
  EvidencePool,
  HeightVotes,
  MAX_BLOCKS_PER_VALIDATOR,
} from "../../src/consensus/bft/votes.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { encodeCanonical } from "../../src/storage/cbor.ts";

const W = "bft-test";
const IDS = ["a", "b", "c", "d"];
const SET = new BftValidatorSet(
  IDS.map((id) => ({ id, publicKey: simPublicKey(W, id), stake: 1 })),
);
const VERIFIER = simVerifier(W);

function proposerOf(h: number, r: number): string {
  return SET.proposer(h, r);
}
// A validator that proposes none of rounds 0-2 at height 1, so it only reacts.
const SELF = IDS.find((id) => ![0, 1, 2].some((r) => proposerOf(1, r) === id)) as string;
const OTHERS = IDS.filter((id) => id !== SELF);

function block(h: number, payload: string, parent = "genesis"): BftBlock {
  return { height: h, parent, proposer: OTHERS[0], payload, evidence: [] };
}
function vote(type: VoteType, h: number, r: number, b: BftBlock | null, by: string): BftMessage {
  const v = { type, height: h, round: r, block: b ? blockId(b) : null, validator: by };
  return { kind: "vote", vote: v, signature: simSigner(W, by).sign(voteSignBytes(W, v)) };
}
function proposal(h: number, r: number, b: BftBlock, vr: number): BftMessage {
  const p = { height: h, round: r, block: b, validRound: vr, proposer: proposerOf(h, r) };
  return {
    kind: "proposal",
    proposal: p,
    signature: simSigner(W, p.proposer).sign(proposalSignBytes(W, p)),
  };
}
function engine(extra: Partial<BftEngineConfig> = {}, self = SELF): BftEngine {
  return new BftEngine({
    worldId: W,
    validators: SET,
    verifier: VERIFIER,
    self,
    signer: simSigner(W, self),
    height: 1,
    lastBlockId: "genesis",
    ...extra,
  });
}
function feed(e: BftEngine, ...ms: BftMessage[]): EngineOutput[] {
  return ms.flatMap((message) => e.step({ kind: "message", message }));
}
/** Votes this engine broadcast, as "type/round/block-or-nil". */
function sent(outs: EngineOutput[]): string[] {
  return outs.flatMap((o) =>
    o.kind === "broadcast" && o.message.kind === "vote"
      ? [`${o.message.vote.type}/${o.message.vote.round}/${o.message.vote.block ?? "nil"}`]
      : []
  );
}
function toRound(e: BftEngine, h: number, r: number): EngineOutput[] {
  // 2f+1 precommits (nil) at r-1 from the others, then the precommit timeout: StartRound(r).
  const outs = feed(e, ...OTHERS.map((id) => vote("precommit", h, r - 1, null, id)));
  outs.push(
    ...e.step({ kind: "timeout", timeout: { step: "precommit", height: h, round: r - 1 } }),
  );
  return outs;
}
/** Locks SELF on `v` at round 0 (line 36) and returns the outputs. */
function lockOn(e: BftEngine, v: BftBlock): EngineOutput[] {
  e.step({ kind: "start" });
  const outs = feed(e, proposal(1, 0, v, -1));
  outs.push(...feed(e, vote("prevote", 1, 0, v, OTHERS[0]), vote("prevote", 1, 0, v, OTHERS[1])));
  return outs;
}

Deno.test("line 22: a valid proposal is prevoted; line 36: a polka locks and precommits", () => {
  const e = engine();
  const v = block(1, "v");
  const outs = lockOn(e, v);
  assertEquals(sent(outs), [`prevote/0/${blockId(v)}`, `precommit/0/${blockId(v)}`]);
  assertEquals(e.status.lockedRound, 0);
  assertEquals(e.status.lockedBlock, blockId(v));
  // The signer state is persisted before each vote leaves, and carries the lock.
  const kinds = outs.filter((o) => o.kind === "persist" || o.kind === "broadcast").map((o) =>
    o.kind
  );
  assertEquals(kinds, ["persist", "broadcast", "persist", "broadcast"]);
});

Deno.test("lock: a locked validator prevotes nil for another value without a newer polka", () => {
  const v = block(1, "v");
  const w = block(1, "w");
  const e = engine();
  lockOn(e, v);
  toRound(e, 1, 1);
  assertEquals(e.status.round, 1);
  assertEquals(sent(feed(e, proposal(1, 1, w, -1))), ["prevote/1/nil"]);
  // The test-only switch turns the locking rule off: the same input prevotes w.
  const u = engine({ unsafeDisableLocking: true });
  lockOn(u, v);
  toRound(u, 1, 1);
  assertEquals(sent(feed(u, proposal(1, 1, w, -1))), [`prevote/1/${blockId(w)}`]);
});

Deno.test("line 28: a higher polka (vr ≥ lockedRound) unlocks; then line 36 re-locks", () => {
  const v = block(1, "v");
  const w = block(1, "w");
  const e = engine();
  lockOn(e, v);
  toRound(e, 1, 1);
  feed(e, proposal(1, 1, w, -1)); // prevote nil (locked on v)
  toRound(e, 1, 2);
  // Polka for w at round 1 arrives late.
  feed(e, ...OTHERS.map((id) => vote("prevote", 1, 1, w, id)));
  assertEquals(e.status.lockedRound, 0);
  const outs = feed(e, proposal(1, 2, w, 1));
  assertEquals(sent(outs), [`prevote/2/${blockId(w)}`]);
  feed(e, vote("prevote", 1, 2, w, OTHERS[0]), vote("prevote", 1, 2, w, OTHERS[1]));
  assertEquals(e.status.lockedRound, 2);
  assertEquals(e.status.lockedBlock, blockId(w));
  // A proposal claiming a polka that never happened (vr=1 for v) is not prevoted: it waits.
  const f = engine();
  lockOn(f, w);
  toRound(f, 1, 1);
  toRound(f, 1, 2);
  assertEquals(sent(feed(f, proposal(1, 2, v, 1))), []);
});

Deno.test("line 49: > 2/3 precommits commit the block with a verifying certificate", () => {
  const v = block(1, "v");
  const e = engine();
  lockOn(e, v);
  const outs = feed(e, vote("precommit", 1, 0, v, OTHERS[0]));
  assertEquals(outs.filter((o) => o.kind === "commit").length, 0); // 2 of 4 is not > 2/3
  const done = feed(e, vote("precommit", 1, 0, v, OTHERS[1]));
  const commit = done.find((o) => o.kind === "commit");
  assert(commit && commit.kind === "commit");
  assertEquals(commit.commit.blockId, blockId(v));
  assertEquals(commit.commit.certificate.precommits.length, 3);
  assertEquals(checkCertificate(W, SET, VERIFIER, 1, blockId(v), commit.commit.certificate), null);
  // A certificate short of 2/3 fails the same check.
  const short = {
    ...commit.commit.certificate,
    precommits: commit.commit.certificate.precommits.slice(1),
  };
  assert(checkCertificate(W, SET, VERIFIER, 1, blockId(v), short)?.includes("not > 2/3"));
  assertEquals(e.status.height, 2);
  assertEquals(e.status.round, 0);
  assertEquals(e.status.lockedRound, -1);
});

Deno.test("timeouts grow per round: propose, prevote, precommit = base + delta × round", () => {
  const t = { proposeMs: 1000, prevoteMs: 500, precommitMs: 400, deltaMs: 250 };
  assertEquals([0, 1, 4].map((r) => timeoutMs(t, "propose", r)), [1000, 1250, 2000]);
  assertEquals(timeoutMs(t, "precommit", 2), 900);
  const e = engine({ options: { timeouts: t } });
  const delays = (outs: EngineOutput[]) =>
    outs.flatMap((
      o,
    ) => (o.kind === "schedule" ? [`${o.timeout.step}/${o.timeout.round}/${o.delayMs}`] : []));
  assertEquals(delays(e.step({ kind: "start" })), ["propose/0/1000"]);
  // Timeout propose → prevote nil; 2f+1 prevotes → prevote timeout (line 34).
  assertEquals(
    sent(e.step({ kind: "timeout", timeout: { step: "propose", height: 1, round: 0 } })),
    ["prevote/0/nil"],
  );
  const v = block(1, "v");
  assertEquals(
    delays(feed(e, vote("prevote", 1, 0, v, OTHERS[0]), vote("prevote", 1, 0, v, OTHERS[1]))),
    [
      "prevote/0/500",
    ],
  );
  const outs = toRound(e, 1, 1);
  assert(delays(outs).includes("precommit/0/400"));
  assert(delays(outs).includes("propose/1/1250"));
  assert(delays(toRound(e, 1, 2)).includes("propose/2/1500"));
});

Deno.test("line 55: f+1 messages of a higher round skip to it; beyond maxRoundsAhead they are ignored", () => {
  const e = engine({ options: { maxRoundsAhead: 8 } });
  e.step({ kind: "start" });
  feed(e, vote("prevote", 1, 20, null, OTHERS[0]), vote("prevote", 1, 20, null, OTHERS[1]));
  assertEquals(e.status.round, 0);
  feed(e, vote("prevote", 1, 5, null, OTHERS[0]));
  assertEquals(e.status.round, 0); // one of four is not > 1/3
  feed(e, vote("prevote", 1, 5, null, OTHERS[1]));
  assertEquals(e.status.round, 5);
});

Deno.test("proposer rotation is stake-weighted and deterministic", () => {
  const set = new BftValidatorSet(
    [1, 2, 3, 4].map((s) => ({ id: `s${s}`, publicKey: "00", stake: s })),
  );
  const count = new Map<string, number>();
  const N = 20_000;
  for (let h = 1; h <= N / 4; h++) {
    for (let r = 0; r < 4; r++) {
      count.set(set.proposer(h, r), (count.get(set.proposer(h, r)) ?? 0) + 1);
    }
  }
  for (const s of [1, 2, 3, 4]) {
    const share = (count.get(`s${s}`) ?? 0) / N;
    assert(Math.abs(share - s / 10) < 0.02, `s${s} proposed ${share}, expected ${s / 10}`);
  }
  // Same inputs, same proposer; a fresh set agrees.
  const again = new BftValidatorSet(
    [4, 3, 2, 1].map((s) => ({ id: `s${s}`, publicKey: "00", stake: s })),
  );
  for (let h = 1; h < 50; h++) assertEquals(again.proposer(h, 3), set.proposer(h, 3));
});

Deno.test("double-sign guard: conflicting or earlier signing is refused, identical re-sign allowed", () => {
  const signer = simSigner(W, "a");
  const lock = { lockedRound: -1, lockProof: null };
  const one = new Uint8Array([1]);
  const r1 = guardedSign(signer, initialSignerState(), 3, 1, 2, one, lock);
  assert(r1.ok);
  const same = guardedSign(signer, r1.state, 3, 1, 2, one, lock);
  assert(same.ok && same.state === r1.state);
  const other = guardedSign(signer, r1.state, 3, 1, 2, new Uint8Array([2]), lock);
  assert(!other.ok && other.reason.includes("different bytes"));
  const earlier = guardedSign(signer, r1.state, 3, 0, 3, one, lock);
  assert(!earlier.ok && earlier.reason.includes("before"));
  assert(guardedSign(signer, r1.state, 3, 1, 3, one, lock).ok);
});

Deno.test("restart: an engine resumed from its signer state keeps its lock and never re-signs the round", () => {
  const v = block(1, "v");
  const e = engine();
  const outs = lockOn(e, v);
  const persisted = outs.filter((o) => o.kind === "persist").at(-1) as { state: SignerState };
  const state = decodeSignerState(encodeSignerState(persisted.state)); // through the file format
  const again = engine({ signerState: state });
  again.step({ kind: "start" });
  assertEquals(again.status.round, 1);
  assertEquals(again.status.lockedRound, 0);
  assertEquals(again.status.lockedBlock, blockId(v));
  // Locked: a new value in round 1 is prevoted nil.
  assertEquals(sent(feed(again, proposal(1, 1, block(1, "w"), -1))), ["prevote/1/nil"]);
});

Deno.test("file signer state: atomic file at <data>/node/<id>/signer_state.cbor, bad field named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-bft-" });
  try {
    const store = new FileSignerStateStore(dir, "a", false);
    assertEquals(store.path, join(dir, "node", "a", "signer_state.cbor"));
    assertEquals(await store.load(), null);
    const r = guardedSign(simSigner(W, "a"), initialSignerState(), 2, 0, 1, new Uint8Array([9]), {
      lockedRound: -1,
      lockProof: null,
    });
    assert(r.ok);
    await store.save(r.state);
    assertEquals(await store.load(), r.state);
    await Deno.writeFile(store.path, encodeCanonical({ version: 1, height: "x" }));
    const err = await store.load().catch((e) => e);
    assert(
      err instanceof BftError && err.code === "SIGNER_STATE_FIELD" &&
        err.message.includes('"height"'),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evidence: two signed conflicting votes are kept and offered in the next proposal", () => {
  // A height where SELF proposes round 1 but not round 0.
  let h = 2;
  while (!(proposerOf(h, 1) === SELF && proposerOf(h, 0) !== SELF)) h++;
  const parent = "ab".repeat(32);
  const e = engine({ height: h, lastBlockId: parent });
  e.step({ kind: "start" });
  const x = block(h, "x", parent);
  const outs = feed(e, vote("prevote", h, 0, x, OTHERS[0]), vote("prevote", h, 0, null, OTHERS[0]));
  const ev = outs.find((o) => o.kind === "evidence");
  assert(ev && ev.kind === "evidence");
  assertEquals(ev.evidence.a.vote.validator, OTHERS[0]);
  assertEquals(e.status.pendingEvidence, 1);
  // A repeat of the same equivocation is not evidence twice.
  assertEquals(
    feed(e, vote("prevote", h, 0, null, OTHERS[0])).filter((o) => o.kind === "evidence").length,
    0,
  );
  const toR1 = [vote("precommit", h, 0, null, OTHERS[1]), vote("precommit", h, 0, null, OTHERS[2])];
  feed(e, ...toR1);
  const req = e.step({ kind: "timeout", timeout: { step: "precommit", height: h, round: 0 } });
  const ask = req.find((o) => o.kind === "request-value");
  assert(ask && ask.kind === "request-value");
  assertEquals(ask.evidence.length, 1);
  const prop = e.step({ kind: "value", height: h, round: 1, payload: "p" })
    .find((o) => o.kind === "broadcast" && o.message.kind === "proposal");
  assert(prop && prop.kind === "broadcast" && prop.message.kind === "proposal");
  assertEquals(prop.message.proposal.block.evidence.length, 1);
});

Deno.test("evidence pool is bounded: beyond the limit new evidence is dropped", () => {
  const pool = new EvidencePool(2);
  const mk = (r: number) => {
    const a = vote("prevote", 1, r, null, "b") as Extract<BftMessage, { kind: "vote" }>;
    const b = vote("prevote", 1, r, block(1, "z"), "b") as Extract<BftMessage, { kind: "vote" }>;
    return { kind: "duplicate-vote" as const, a, b };
  };
  assert(pool.add(mk(0)));
  assert(pool.add(mk(1)));
  assert(!pool.add(mk(2)));
  assertEquals(pool.size, 2);
});

Deno.test("malformed, forged and unknown messages are rejected, never thrown", () => {
  const e = engine();
  e.step({ kind: "start" });
  const v = vote("prevote", 1, 0, null, OTHERS[0]) as {
    kind: "vote";
    vote: object;
    signature: Uint8Array;
  };
  const bad: unknown[] = [
    null,
    "x",
    { kind: "vote", vote: { type: "prevote", height: -1 }, signature: 1 },
    { ...v, signature: new Uint8Array(32) },
    { ...v, vote: { ...v.vote, validator: "zz" } },
    { kind: "proposal", proposal: null },
  ];
  const codes = bad.flatMap((m) => e.step({ kind: "message", message: m }))
    .flatMap((o) => (o.kind === "rejected" ? [o.code] : []));
  assertEquals(codes, [
    "MALFORMED",
    "MALFORMED",
    "MALFORMED",
    "BAD_SIGNATURE",
    "UNKNOWN_VALIDATOR",
    "MALFORMED",
  ]);
  assertEquals(e.status.round, 0);
});

Deno.test("sign bytes: the flat encoder produces exactly the canonical CBOR encoding", () => {
  const cases: (string | number | null)[][] = [
    ["awr-bft-vote", "w", "prevote", 1, 0, null, "a"],
    [
      "x".repeat(30),
      -1,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      -25,
      "é€",
    ],
    [],
  ];
  for (const c of cases) assertEquals(encodeFlatArray(c), encodeCanonical(c));
  assertNotEquals(
    voteSignBytes(W, { type: "prevote", height: 1, round: 0, block: null, validator: "a" }),
    voteSignBytes("other-world", {
      type: "prevote",
      height: 1,
      round: 0,
      block: null,
      validator: "a",
    }),
  );
});

Deno.test("genesis: JSON and CBOR parse; errors name the bad field", () => {
  const good = {
    version: 1,
    world_id: "demo",
    validators: [{ id: "v1", public_key: "ab01", stake: 10 }, {
      id: "v2",
      public_key: "cd",
      stake: 5,
    }],
  };
  const g = parseGenesis(good);
  assertEquals([g.worldId, g.validators.totalStake], ["demo", 15]);
  const viaCbor = parseGenesisBytes("g.cbor", encodeCanonical(good));
  assertEquals(viaCbor.validators.validators.map((v) => v.id), ["v1", "v2"]);
  const cases: [unknown, string][] = [
    [{ ...good, version: 2 }, '"version"'],
    [{ ...good, world_id: "" }, '"world_id"'],
    [{ ...good, validators: [] }, '"validators"'],
    [
      { ...good, validators: [good.validators[0], { id: "v2", public_key: "cd", stake: 0 }] },
      '"validators[1].stake"',
    ],
    [
      { ...good, validators: [good.validators[0], { id: "v1", public_key: "cd", stake: 1 }] },
      '"validators[1].id"',
    ],
    [
      { ...good, validators: [{ id: "v1", public_key: "XY", stake: 1 }] },
      '"validators[0].public_key"',
    ],
  ];
  for (const [raw, field] of cases) {
    const err = assertThrows(() => parseGenesis(raw), BftError);
    assert(err.message.includes(field), `${err.message} should name ${field}`);
  }
  const err = assertThrows(
    () => parseGenesisBytes("/x/genesis.json", new TextEncoder().encode("{")),
    BftError,
  );
  assert(err.message.includes("/x/genesis.json"));
});

Deno.test("bounds: next-height buffer (maxFutureMessages) and blocks counted per equivocator", () => {
  const run = (maxFutureMessages: number) => {
    const e = engine({ options: { maxFutureMessages } });
    const v = block(1, "v");
    lockOn(e, v);
    // Two validators already at height 2, round 3: f+1 of a higher round once we get there.
    feed(e, vote("prevote", 2, 3, null, OTHERS[0]), vote("prevote", 2, 3, null, OTHERS[1]));
    feed(e, vote("precommit", 1, 0, v, OTHERS[0]), vote("precommit", 1, 0, v, OTHERS[1]));
    return e.status;
  };
  assertEquals([run(2).height, run(2).round], [2, 3]);
  assertEquals([run(1).height, run(1).round], [2, 0]); // the second buffered message was dropped
  const book = new HeightVotes();
  const ids = ["1", "2", "3", "4"].map((c) => c.repeat(64));
  const results = ids.map((id) =>
    book.add({
      vote: { type: "prevote", height: 1, round: 0, block: id, validator: "b" },
      signature: new Uint8Array(),
    }, 1)
      .kind
  );
  assertEquals(results, ["added", "conflict", "conflict", "duplicate"]);
  assertEquals(MAX_BLOCKS_PER_VALIDATOR, 3);
  assertEquals(book.stakeFor(0, "prevote", ids[3]), 0);
  assertEquals(book.stakeAny(0, "prevote"), 1);
});
