import { assert, assertEquals, assertLess, assertThrows } from "@std/assert";
import { blake3 } from "@noble/hashes/blake3.js";
import { headerToWire, makeBlock } from "../../src/consensus/block.ts";
import { type ConsensusCommit, ConsensusEngine } from "../../src/consensus/engine.ts";
import { ConsensusError, type ConsensusErrorCode } from "../../src/consensus/errors.ts";
import { defaultConsensusOptions } from "../../src/consensus/options.ts";
import {
  epochOf,
  proposerForSlot,
  ProposerSchedule,
  validateValidators,
} from "../../src/consensus/proposer.ts";
import {
  type Block,
  type BlockAction,
  type BlockHeader,
  GENESIS_PARENT,
  type Validator,
} from "../../src/consensus/types.ts";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { hashCanonical, toHex } from "../../src/storage/hash.ts";

const THREE: Validator[] = [{ id: "v1", stake: 1 }, { id: "v2", stake: 1 }, { id: "v3", stake: 1 }];
const ALL3 = ["v1", "v2", "v3"];

function actionsFor(slot: number): BlockAction[] {
  return [{ kind: "move", agent: `a${slot % 3}`, dx: slot % 5 }];
}

/** The next block `engine` would accept at `slot`, with fields overridable for tampering. */
function nextBlock(
  engine: ConsensusEngine,
  slot: number,
  overrides: Partial<Omit<BlockHeader, "actionsRoot">> = {},
  actions: BlockAction[] = actionsFor(slot),
): Block {
  return makeBlock({
    height: engine.committedHeight + 1,
    slot,
    epoch: engine.epochOf(slot),
    parentHash: engine.lastBlockHash,
    proposer: engine.proposerFor(slot),
    timestampMs: 1_000 * slot,
    ...overrides,
  }, actions);
}

function codeOf(fn: () => unknown): string {
  return assertThrows(fn, ConsensusError).code;
}

Deno.test("canonical header bytes are pinned and hash with plain BLAKE3", () => {
  const h: BlockHeader = {
    height: 24,
    slot: 500,
    epoch: 15,
    parentHash: "genesis",
    proposer: "v1",
    actionsRoot: "ab",
    timestampMs: 1_700_000_000_000,
  };
  // RFC 8949 §4.2.1: map(7), keys ordered by encoded bytes (shorter first, then bytewise).
  const expected = [
    "a7", // map, 7 pairs
    "64736c6f74", // "slot"
    "1901f4", // 500: uint, 2-byte argument
    "6565706f6368", // "epoch"
    "0f", // 15: uint in the head
    "66686569676874", // "height"
    "1818", // 24: uint, 1-byte argument (first value that needs one)
    "6870726f706f736572", // "proposer"
    "627631", // "v1"
    "6b706172656e745f68617368", // "parent_hash"
    "6767656e65736973", // "genesis"
    "6c616374696f6e735f726f6f74", // "actions_root" ('a' < 't')
    "626162", // "ab"
    "6c74696d657374616d705f6d73", // "timestamp_ms"
    "1b0000018bcfe56800", // 1_700_000_000_000: uint, 8-byte argument
  ].join("");
  assertEquals(toHex(encodeCanonical(headerToWire(h))), expected);
  const block = makeBlock({ ...h }, []);
  const viaNoble = toHex(blake3(encodeCanonical(headerToWire(block.header))));
  assertEquals(block.hash, viaNoble);
  // Same bytes hashed by the b3sum command-line tool, as an independent check.
  assertEquals(
    toHex(blake3(Uint8Array.from(expected.match(/../g)!.map((b) => parseInt(b, 16))))),
    "ab455708af64dd76877376ddcd8766b2436138fb9bb02dc398fffa3990c62203",
  );
});

Deno.test("50 local commits chain by parent hash; hash = hashCanonical(headerToWire)", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  const commits: ConsensusCommit[] = [];
  for (let slot = 1; slot <= 50; slot++) {
    const c = engine.commitLocally(slot, 1_000 * slot, actionsFor(slot), ALL3);
    assert(c, `slot ${slot} should commit`);
    commits.push(c);
  }
  let parent = GENESIS_PARENT;
  commits.forEach(({ block, attestations }, i) => {
    const h = block.header;
    assertEquals([h.height, h.slot, h.epoch, h.parentHash], [i + 1, i + 1, (i + 1) >> 5, parent]);
    assertEquals(block.hash, hashCanonical(headerToWire(h)));
    assertEquals(h.actionsRoot, hashCanonical(actionsFor(i + 1)));
    assertEquals(h.proposer, proposerForSlot(THREE, h.slot));
    assertEquals(attestations.map((a) => [a.validator, a.blockHash, a.height]), [
      ["v1", block.hash, i + 1],
      ["v2", block.hash, i + 1],
      ["v3", block.hash, i + 1],
    ]);
    parent = block.hash;
  });
  assertEquals(new Set(commits.map((c) => c.block.hash)).size, 50);
  assertEquals([engine.committedHeight, engine.lastBlockHash, engine.lastSlot], [50, parent, 50]);
  assertEquals(engine.status, "Committed");
  assertEquals(engine.pending, null);
});

Deno.test("two engines fed identical inputs produce identical block hashes", () => {
  const run = (validators: Validator[]): string[] => {
    const engine = new ConsensusEngine({ validators });
    const hashes: string[] = [];
    for (let slot = 3; slot <= 120; slot += 3) {
      hashes.push(engine.commitLocally(slot, 7 * slot, actionsFor(slot), ALL3)!.block.hash);
    }
    return hashes;
  };
  const a = run(THREE);
  assertEquals(a.length, 40);
  assertEquals(run([...THREE].reverse()), a);
});

Deno.test("proposer schedule ignores input order and follows stake over 20,000 slots", () => {
  const uneven: Validator[] = [{ id: "c", stake: 7 }, { id: "a", stake: 1 }, { id: "b", stake: 2 }];
  const s1 = new ProposerSchedule(uneven);
  const s2 = new ProposerSchedule([uneven[1], uneven[2], uneven[0]]);
  assertEquals(s1.validators.map((v) => v.id), ["a", "b", "c"]);
  assertEquals(s1.totalStake, 10);
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  const slots = 20_000;
  for (let slot = 0; slot < slots; slot++) {
    const p = s1.proposerFor(slot);
    if (slot < 500) assertEquals(s2.proposerFor(slot), p, `slot ${slot}`);
    counts[p]++;
  }
  for (const v of uneven) {
    const share = counts[v.id] / slots;
    assertLess(Math.abs(share - v.stake / 10), 0.01, `${v.id}: share ${share}`);
  }
  // Pinned: changing the seed or the walk would fork every chain, so it must show here.
  assertEquals(counts, { a: 1989, b: 4001, c: 14010 });
  // Vectors computed outside this code: CBOR of ["proposer", slot] built by hand in
  // Python, hashed with the b3sum tool, first 8 bytes big-endian mod 10, walked a|bb|c*7.
  const first30 = Array.from({ length: 30 }, (_, slot) => s1.proposerFor(slot)).join("");
  assertEquals(first30, "cccccaccccccccccbbccccbbaaccbc");
  const far = [70_000, 70_002, 2 ** 32 + 3, 2 ** 32 + 4].map((slot) => s1.proposerFor(slot));
  assertEquals(far, ["c", "a", "a", "b"]);
  assertEquals(proposerForSlot(uneven, 12_345), s1.proposerFor(12_345));
});

Deno.test("bad validator sets and options are refused with codes naming the culprit", () => {
  const bad: [Validator[], string][] = [
    [[], "empty"],
    [[{ id: "", stake: 1 }], "#0"],
    [[{ id: "x", stake: 1 }, { id: "x", stake: 2 }], `"x" appears twice`],
    [[{ id: "z", stake: 0 }], `"z" has stake 0`],
    [[{ id: "f", stake: 1.5 }], `"f" has stake 1.5`],
  ];
  for (const [validators, text] of bad) {
    const err = assertThrows(() => validateValidators(validators), ConsensusError, text);
    assertEquals(err.code, "INVALID_VALIDATORS");
  }
  const v = [{ id: "v", stake: 1 }];
  assertEquals(defaultConsensusOptions, {
    supermajorityNumerator: 2,
    supermajorityDenominator: 3,
    epochLengthSlots: 32,
  });
  for (
    const o of [
      { supermajorityNumerator: 4, supermajorityDenominator: 3 },
      { supermajorityNumerator: 0 },
      { supermajorityDenominator: -1 },
      { epochLengthSlots: 0 },
      { epochLengthSlots: 2.5 },
    ]
  ) {
    assertEquals(codeOf(() => new ConsensusEngine({ validators: v, ...o })), "INVALID_OPTIONS");
  }
  assertEquals([epochOf(0, 32), epochOf(31, 32), epochOf(32, 32), epochOf(65, 32)], [0, 0, 1, 2]);
  assertEquals(codeOf(() => epochOf(-1, 32)), "INVALID_ARGUMENT");
});

Deno.test("supermajority 2/3: one attestation pends, two commit; duplicates and strangers", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  assertEquals(engine.requiredStake, 2);
  assertEquals(
    engine.onAttestation({ height: 1, slot: 1, blockHash: "x", validator: "v1" })
      .status,
    "Rejected",
  );
  const block = nextBlock(engine, 1);
  assertEquals(engine.onProposal(block).status, "Pending");
  const vote = (validator: string, blockHash = block.hash) =>
    engine.onAttestation({ height: 1, slot: 1, blockHash, validator });

  const first = vote("v1");
  assertEquals(first, { status: "Pending", duplicate: false, attestedStake: 1, requiredStake: 2 });
  assertEquals(vote("v1"), {
    status: "Pending",
    duplicate: true,
    attestedStake: 1,
    requiredStake: 2,
  });
  const stranger = vote("mallory");
  assertEquals(stranger.status === "Rejected" && stranger.reason.code, "UNKNOWN_VALIDATOR");
  const other = vote("v2", "f".repeat(64));
  assertEquals(other.status === "Rejected" && other.reason.code, "WRONG_BLOCK");
  assertEquals(engine.status, "Pending");
  assertEquals(engine.pending?.attestedStake, 1);
  assertEquals(engine.committedHeight, 0);

  const second = vote("v2");
  assert(second.status === "Committed");
  assertEquals(second.block.hash, block.hash);
  assertEquals(second.attestations.map((a) => a.validator), ["v1", "v2"]);
  assertEquals([engine.status, engine.committedHeight, engine.lastBlockHash], [
    "Committed",
    1,
    block.hash,
  ]);
  const late = vote("v3");
  assertEquals(late.status === "Rejected" && late.reason.code, "NOT_PENDING");
  assertEquals(engine.committedHeight, 1);
});

Deno.test("supermajority 3/4 needs 3 of 4 equal validators", () => {
  const four = ["a", "b", "c", "d"].map((id) => ({ id, stake: 5 }));
  const engine = new ConsensusEngine({
    validators: four,
    supermajorityNumerator: 3,
    supermajorityDenominator: 4,
  });
  assertEquals(engine.requiredStake, 15);
  const block = nextBlock(engine, 9);
  engine.onProposal(block);
  const statuses = ["d", "b", "a"].map((validator) =>
    engine.onAttestation({ height: 1, slot: 9, blockHash: block.hash, validator }).status
  );
  assertEquals(statuses, ["Pending", "Pending", "Committed"]);
  // Local mode with 2 of 4 cannot commit: null and nothing changes.
  const before = [engine.committedHeight, engine.lastBlockHash, engine.lastSlot];
  assertEquals(engine.commitLocally(10, 10_000, [], ["a", "b"]), null);
  assertEquals([engine.committedHeight, engine.lastBlockHash, engine.lastSlot], before);
  assertEquals(engine.pending, null);
});

Deno.test("invalid proposals are Rejected with the right code and change nothing", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  engine.commitLocally(5, 5_000, [], ALL3);
  const slot = 6;
  const good = nextBlock(engine, slot);
  const otherProposer = ALL3.find((id) => id !== engine.proposerFor(slot))!;
  const wrongProposer = nextBlock(engine, slot, { proposer: otherProposer });
  const tamperedActions = { ...good, actions: [{ kind: "move", agent: "a0", dx: 99 }] };
  const cases: [Block, ConsensusErrorCode][] = [
    [nextBlock(engine, slot, { parentHash: "e".repeat(64) }), "WRONG_PARENT"],
    [wrongProposer, "WRONG_PROPOSER"],
    [nextBlock(engine, slot, { proposer: "mallory" }), "UNKNOWN_VALIDATOR"],
    [nextBlock(engine, 5), "STALE_SLOT"],
    [nextBlock(engine, 4), "STALE_SLOT"],
    [nextBlock(engine, slot, { height: 3 }), "WRONG_HEIGHT"],
    [nextBlock(engine, slot, { epoch: 1 }), "WRONG_EPOCH"],
    [{ ...good, hash: good.hash.replace(/^./, (c) => c === "0" ? "1" : "0") }, "BAD_HASH"],
    [{ ...good, header: { ...good.header, timestampMs: 1 } }, "BAD_HASH"],
    [tamperedActions, "BAD_ACTIONS_ROOT"],
    [{ ...good, actions: [{ nokind: 1 } as unknown as BlockAction] }, "BAD_ACTIONS"],
    [{ ...good, header: { ...good.header, slot: -1 } }, "BAD_HEADER"],
  ];
  for (const [block, code] of cases) {
    const r = engine.onProposal(block);
    assertEquals(r.status === "Rejected" && r.reason.code, code, code);
    assertEquals([engine.status, engine.lastRejection?.code], ["Rejected", code]);
    assertEquals(engine.pending, null);
  }
  assertEquals(engine.committedHeight, 1);
  const r = engine.onProposal(good);
  assertEquals(r.status === "Pending" && r.block.hash, good.hash);
});

Deno.test("a later slot supersedes the pending proposal; earlier and conflicting ones are refused", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  const b3 = nextBlock(engine, 3);
  const b7 = nextBlock(engine, 7);
  assertEquals(engine.onProposal(b3).status, "Pending");
  engine.onAttestation({ height: 1, slot: 3, blockHash: b3.hash, validator: "v1" });
  const again = engine.onProposal(b3);
  assert(again.status === "Pending" && again.duplicate);
  assertEquals(engine.pending?.attestedStake, 1);

  const replaced = engine.onProposal(b7);
  assert(replaced.status === "Pending" && !replaced.duplicate);
  assertEquals(replaced.superseded?.hash, b3.hash);
  assertEquals(engine.lastRejection?.code, "SUPERSEDED");
  assertEquals([engine.pending?.block.hash, engine.pending?.attestedStake], [b7.hash, 0]);
  const old = engine.onAttestation({ height: 1, slot: 3, blockHash: b3.hash, validator: "v2" });
  assertEquals(old.status === "Rejected" && old.reason.code, "WRONG_BLOCK");

  const r3 = engine.onProposal(b3);
  assertEquals(r3.status === "Rejected" && r3.reason.code, "STALE_SLOT");
  const twin = nextBlock(engine, 7, {}, [{ kind: "noop" }]);
  const rTwin = engine.onProposal(twin);
  assertEquals(rTwin.status === "Rejected" && rTwin.reason.code, "CONFLICTING_PROPOSAL");
  assertEquals(engine.pending?.block.hash, b7.hash);
});

Deno.test("propose refuses the wrong proposer, unknown proposers and stale slots", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  const scheduled = engine.proposerFor(4);
  const other = ALL3.find((id) => id !== scheduled)!;
  assertEquals(codeOf(() => engine.propose(4, 0, other, [])), "WRONG_PROPOSER");
  assertEquals(codeOf(() => engine.propose(4, 0, "mallory", [])), "UNKNOWN_VALIDATOR");
  assertEquals(codeOf(() => engine.propose(4, 1.5, scheduled, [])), "INVALID_ARGUMENT");
  const block = engine.propose(4, 4_000, scheduled, []);
  assertEquals(block, nextBlock(engine, 4, {}, []));
  assertEquals(engine.pending?.block.hash, block.hash);
  assertEquals(codeOf(() => engine.propose(4, 0, scheduled, [])), "STALE_SLOT");
  assertEquals(codeOf(() => engine.propose(0, 0, engine.proposerFor(0), [])), "STALE_SLOT");
});

Deno.test("local mode returns null when the scheduled proposer is not local", () => {
  const engine = new ConsensusEngine({ validators: THREE });
  const local = ["v1", "v2"];
  // Bounded search, so a broken schedule fails the test instead of hanging it.
  const slotAfter = (from: number, wanted: (id: string) => boolean): number => {
    for (let slot = from + 1; slot <= from + 1_000; slot++) {
      if (wanted(engine.proposerFor(slot))) return slot;
    }
    throw new Error(`no wanted proposer in slots ${from + 1}..${from + 1_000}`);
  };
  let slot = slotAfter(0, (id) => id === "v3");
  assertEquals(engine.commitLocally(slot, 0, [], local), null);
  assertEquals([engine.committedHeight, engine.status, engine.pending], [0, null, null]);
  slot = slotAfter(slot, (id) => id !== "v3");
  const c = engine.commitLocally(slot, 0, [], local);
  assertEquals(c?.attestations.map((a) => a.validator), ["v1", "v2"]);
  assertEquals(codeOf(() => engine.commitLocally(slot + 1, 0, [], ["v9"])), "UNKNOWN_VALIDATOR");
});

Deno.test("an engine restored from (height, hash, slot) continues the chain", () => {
  const a = new ConsensusEngine({ validators: THREE });
  for (let slot = 2; slot <= 20; slot += 2) a.commitLocally(slot, slot, actionsFor(slot), ALL3);
  const saved = {
    committedHeight: a.committedHeight,
    lastBlockHash: a.lastBlockHash,
    lastSlot: 20,
  };
  assertEquals(saved.committedHeight, 10);
  const b = new ConsensusEngine({ validators: [...THREE].reverse() }, saved);
  const fromA = a.commitLocally(21, 21, actionsFor(21), ALL3)!;
  const fromB = b.commitLocally(21, 21, actionsFor(21), ALL3)!;
  assertEquals(fromB.block, fromA.block);
  assertEquals([fromB.block.header.height, fromB.block.header.parentHash], [
    11,
    saved.lastBlockHash,
  ]);
  assertEquals(codeOf(() => b.commitLocally(21, 21, [], ALL3)), "STALE_SLOT");

  const restoreCode = (r: object) => codeOf(() => new ConsensusEngine({ validators: THREE }, r));
  assertEquals(restoreCode({ committedHeight: 3 }), "INVALID_RESTORE");
  assertEquals(restoreCode({ lastBlockHash: "abc" }), "INVALID_RESTORE");
  assertEquals(
    restoreCode({ committedHeight: 5, lastBlockHash: "abc", lastSlot: 4 }),
    "INVALID_RESTORE",
  );
  assertEquals(restoreCode({ committedHeight: -1 }), "INVALID_RESTORE");
});
