import { assert, assertEquals, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { checkCertificate } from "../../src/consensus/bft/checks.ts";
import { MemorySignerStateStore } from "../../src/consensus/bft/signer_state.ts";
import { blockId, simSigner, simVerifier, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import type { BftCommit, SignerState, Vote } from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { hashHeader } from "../../src/consensus/block.ts";
import { crashAtHook, parseCrashAt } from "../../src/live/crash_at.ts";
import { committedFromBft, makePayload } from "../../src/node/bft_block.ts";
import { BLOCK_FILE_SCHEMA, BlockStore } from "../../src/node/block_store.ts";
import {
  type CrashPoint,
  LocalConsensus,
  localModeKeys,
  MAX_INBOX,
} from "../../src/node/local_consensus.ts";
import { snapshotToJson } from "../../src/node/snapshot.ts";
import { encodeFile } from "../../src/storage/schema.ts";
import { writeFileAtomic } from "../../src/storage/atomic.ts";

const W = "world-lc";

/** Stores that record each save (what was durable when). */
function stores() {
  const saved: { id: string; state: SignerState }[] = [];
  const map = new Map<string, MemorySignerStateStore>();
  const store = (id: string) => {
    let s = map.get(id);
    if (!s) {
      s = new MemorySignerStateStore();
      map.set(id, s);
    }
    const inner = s;
    return {
      load: () => inner.load(),
      save: async (state: SignerState) => {
        await inner.save(state);
        saved.push({ id, state });
      },
    };
  };
  return { saved, store };
}

async function open(
  ids: string[],
  local: string[],
  store: (id: string) => MemorySignerStateStore | ReturnType<ReturnType<typeof stores>["store"]>,
  opts: {
    height?: number;
    lastBlockId?: string;
    lastSlot?: number;
    crashPoint?: (p: CrashPoint) => void;
  } = {},
) {
  return await LocalConsensus.open({
    worldId: W,
    validators: ids.map((id) => ({ id, stake: 1 })),
    localValidators: local,
    height: opts.height ?? 1,
    lastBlockId: opts.lastBlockId ?? "genesis",
    lastSlot: opts.lastSlot,
    store,
    keys: localModeKeys(W),
    crashPoint: opts.crashPoint,
  }, 0);
}

const value = (now: number) => () => makePayload(now + 1, 0, now, []);

/** Ticks every 100 ms of node clock until a commit (bounded). */
async function nextCommit(c: LocalConsensus, t: { now: number }): Promise<BftCommit> {
  for (let i = 0; i < 1000; i++) {
    t.now += 100;
    const commit = await c.tick(t.now, value(t.now));
    if (commit) {
      await c.flush(); // as the node does beside the block write
      return commit;
    }
  }
  throw new Error("no commit within 1000 ticks");
}

const set = (ids: string[]) =>
  new BftValidatorSet(ids.map((id) => ({ id, publicKey: "", stake: 1 })));

Deno.test("one local validator: one commit per tick, certificate verifies, one signer write per height", async () => {
  const { saved, store } = stores();
  const points: string[] = [];
  const c = await open(["v"], ["v"], store, { crashPoint: (p) => points.push(p) });
  let parent = "genesis";
  for (let h = 1; h <= 5; h++) {
    const commit = await c.tick(h * 10, value(h * 10));
    assert(commit, `tick ${h} commits`);
    assertEquals(commit.block.height, h);
    assertEquals(commit.block.parent, parent);
    parent = commit.blockId;
    assertEquals(
      checkCertificate(W, set(["v"]), simVerifier(W), h, commit.blockId, commit.certificate),
      null,
    );
    // Coalesced: one save per height, naming its precommit, made by the flush that the
    // node runs beside the block write (nothing left the process before it).
    assertEquals(saved.length, h - 1);
    await c.flush();
    assertEquals(saved.length, h);
    assertEquals([saved[h - 1].state.height, saved[h - 1].state.step], [h, 3]);
  }
  assertEquals(points.slice(0, 2), ["before-signer-persist", "after-signer-persist"]);
  assertEquals(points.length, 10);
});

Deno.test("four local validators decide the same blocks in the same order, run after run", async () => {
  const ids = ["a", "b", "c", "d"];
  const run = async () => {
    const c = await open(ids, ids, stores().store);
    const t = { now: 0 };
    const out: string[] = [];
    for (let h = 1; h <= 6; h++) {
      const commit = await nextCommit(c, t);
      assertEquals(commit.block.height, h);
      assert(commit.certificate.precommits.length >= 3);
      assertEquals(
        checkCertificate(W, set(ids), simVerifier(W), h, commit.blockId, commit.certificate),
        null,
      );
      out.push(commit.blockId);
    }
    return out;
  };
  assertEquals(await run(), await run());
});

Deno.test("local validators below 2/3 of stake never commit; they wait for the others' votes", async () => {
  const c = await open(["a", "b", "c"], ["a"], stores().store);
  for (let t = 100; t <= 20_000; t += 100) assertEquals(await c.tick(t, value(t)), null);
  // Timeout of propose → prevote nil; without 2f+1 prevotes no prevote timeout is armed.
  assertEquals(c.status, { height: 1, round: 0, step: "prevote" });
});

Deno.test("duplicate votes from a remote validator: counted once, reported, included in a later block", async () => {
  const ids = ["a", "b", "c", "d"];
  const c = await open(ids, ["a", "b", "c"], stores().store);
  const d = simSigner(W, "d");
  const vote = (block: string | null): Vote => ({
    type: "prevote",
    height: 1,
    round: 0,
    block,
    validator: "d",
  });
  for (const b of ["11".repeat(32), "22".repeat(32)]) {
    const v = vote(b);
    assert(c.receive({ kind: "vote", vote: v, signature: d.sign(voteSignBytes(W, v)) }));
  }
  const t = { now: 0 };
  let found: BftCommit | null = null;
  for (let h = 1; h <= 8 && !found; h++) {
    const commit = await nextCommit(c, t);
    if (commit.block.evidence.length > 0) found = commit;
  }
  assertEquals(c.evidence.total, 1, "three local engines saw it; counted once");
  assertEquals(c.evidence.recent[0].validator, "d");
  assertEquals(c.evidence.recent[0].blocks, ["11".repeat(32), "22".repeat(32)]);
  assert(found, "a later block carries the evidence");
  assertEquals(found.block.evidence[0].a.vote.validator, "d");
  // Status JSON shows it.
  const json = snapshotToJson({
    nodeId: "n",
    worldId: W,
    role: "sequencer",
    running: true,
    tickCount: 0,
    lastTickUnixMs: null,
    consensus: {} as never,
    lastError: null,
    evidence: c.evidence,
  } as never);
  assertEquals(json.evidence.count, 1);
  assertEquals(json.evidence.recent.length, 1);
});

Deno.test("the inbox is bounded", async () => {
  const c = await open(["v"], ["v"], stores().store);
  for (let i = 0; i < MAX_INBOX; i++) assert(c.receive({ kind: "junk" }));
  assertEquals(c.receive({ kind: "junk" }), false);
  await c.tick(1, null);
  assert(c.receive({ kind: "junk" }), "drained at the tick");
});

Deno.test("restart inside a height keeps the lock: the same block is decided in the next round", async () => {
  const ids = ["a", "b", "c", "d"];
  const { store, saved } = stores();
  const first = await open(ids, ids, store);
  const decided = await nextCommit(first, { now: 0 });
  // "Crash" before the block is stored: a new process opens from the same signer states.
  assert(saved.some((s) => s.state.height === 1 && s.state.step === 3));
  const again = await open(ids, ids, store);
  const redecided = await nextCommit(again, { now: 0 });
  assertEquals(redecided.blockId, decided.blockId);
  assert(redecided.certificate.round > decided.certificate.round);
});

Deno.test("block files keep the certificate and evidence beside the header hash; older files still load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-lc-blocks-" });
  try {
    const c = await open(["v"], ["v"], stores().store);
    const commit = (await c.tick(5, () => makePayload(3, 0, 5, [{ kind: "noop" }])))!;
    const block = committedFromBft(commit, null, 7);
    assertEquals(block.hash, hashHeader(block.header), "the hash covers the header only");
    assertEquals(block.header.slot, 3);
    assertEquals(block.attestations.map((a) => a.validator), ["v"]);
    const store = new BlockStore(join(dir, "blocks"), { durable: false });
    await store.put(block);
    const back = (await store.getBlock(1))!;
    assertEquals(back.hash, block.hash);
    assertEquals(back.certificate?.block, commit.blockId);
    assertEquals(
      back.certificate?.precommits[0].signature,
      commit.certificate.precommits[0].signature,
    );
    assertEquals(back.evidence, []);
    assertEquals(blockId(commit.block), back.certificate?.block);

    // A file written before BFT (no certificate/evidence fields) loads without them.
    const old = { ...BLOCK_FILE_SCHEMA, fields: BLOCK_FILE_SCHEMA.fields.slice(0, 6) };
    const { certificate: _c, evidence: _e, ...rest } = {
      height: 2,
      hash: "",
      header: {
        height: 2,
        slot: 4,
        epoch: 0,
        parent_hash: block.hash,
        proposer: "v",
        actions_root: block.header.actionsRoot,
        timestamp_ms: 9,
      },
      actions: [],
      attestations: [],
      committed_at_unix_ms: 9,
      certificate: {},
      evidence: [],
    };
    const header = {
      height: 2,
      slot: 4,
      epoch: 0,
      parentHash: block.hash,
      proposer: "v",
      actionsRoot: block.header.actionsRoot,
      timestampMs: 9,
    };
    rest.hash = hashHeader(header);
    await writeFileAtomic(store.pathOf(2), encodeFile(old as never, rest), { durable: false });
    const legacy = (await store.getBlock(2))!;
    assertEquals(legacy.hash, rest.hash);
    assertEquals(legacy.certificate, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--crash-at parses point:n and fires on the n-th time only", () => {
  assertEquals(parseCrashAt("after-signer-persist:3"), { point: "after-signer-persist", count: 3 });
  assertEquals(parseCrashAt("before-signer-persist").count, 1);
  for (const bad of ["nowhere:1", "after-signer-persist:0", "after-signer-persist:x"]) {
    assertThrows(() => parseCrashAt(bad), Error, "--crash-at");
  }
  let kills = 0;
  const hook = crashAtHook(parseCrashAt("after-signer-persist:2"), () => kills++);
  hook("before-signer-persist");
  hook("after-signer-persist");
  assertEquals(kills, 0);
  hook("after-signer-persist");
  hook("after-signer-persist");
  assertEquals(kills, 1);
});

Deno.test("slots grow along the chain: a proposal at or below its parent's slot is refused, above it decides", async () => {
  const { store } = stores();
  const c = await open(["v"], ["v"], store, { lastSlot: 50 });
  assertEquals(c.lastSlot, 50);
  const t = { now: 0 };
  const tickUntil = async (slot: number, ticks: number) => {
    for (let i = 0; i < ticks; i++) {
      t.now += 100;
      const commit = await c.tick(t.now, () => makePayload(slot, 0, t.now, []));
      if (commit) {
        await c.flush();
        return commit;
      }
    }
    return null;
  };
  // The parent's slot, and one below it: the only validator prevotes nil, round after round.
  assertEquals(await tickUntil(50, 40), null);
  assertEquals(await tickUntil(7, 40), null);
  assertEquals(c.status.height, 1);
  const first = await tickUntil(51, 40);
  assertEquals(first?.block.height, 1);
  assertEquals(c.lastSlot, 51);
  // The next height's parent is now slot 51.
  assertEquals(await tickUntil(51, 40), null);
  assertEquals((await tickUntil(52, 40))?.block.height, 2);
  assertEquals(c.lastSlot, 52);
});

Deno.test("a decided block (commit with its certificate) is taken whatever its slot: a chain from before the slot rule still syncs", async () => {
  const ids = ["a", "b", "c", "d"];
  const c = await open(ids, ["a"], stores().store, { lastSlot: 50 });
  const block = {
    height: 1,
    parent: "genesis",
    proposer: "b",
    payload: makePayload(3, 0, 1000, []),
    evidence: [],
  };
  const id = blockId(block);
  const precommits = ["b", "c", "d"].map((v) => {
    const vote: Vote = { type: "precommit", height: 1, round: 0, block: id, validator: v };
    return { vote, signature: simSigner(W, v).sign(voteSignBytes(W, vote)) };
  });
  assert(
    c.receive({
      kind: "commit",
      block,
      certificate: { height: 1, round: 0, block: id, precommits },
    }),
  );
  const commit = await c.tick(100, null);
  assertEquals(commit?.blockId, id);
  assertEquals(commit?.block.height, 1);
  // The chain's slot does not go back: the next proposal still needs a slot above 50.
  assertEquals(c.lastSlot, 50);
});
