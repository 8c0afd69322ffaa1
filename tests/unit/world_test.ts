import { assert, assertEquals, assertGreater, assertThrows } from "@std/assert";
import type { BlockAction } from "../../src/consensus/types.ts";
import { ActionError, parseAction } from "../../src/world/actions.ts";
import type { WorldEvent } from "../../src/world/events.ts";
import { worldSummary } from "../../src/world/summary.ts";
import { World, WorldError } from "../../src/world/world.ts";
import { WORLD_RULES } from "../../src/world/rules.ts";
import { prng, randomActions } from "../support/chain_fixture.ts";

const HASH = "ab".repeat(32);

function stepOne(world: World, actions: unknown[]): readonly WorldEvent[] {
  return world.step({ height: world.clock + 1, nodeBlockHash: HASH, actions }).events;
}

Deno.test("parseAction normalises valid actions and keeps only their fields", () => {
  const action: BlockAction = parseAction({ kind: "register", agent: "ada" });
  assertEquals(action, { kind: "register", agent: "ada" });
  assertEquals(parseAction({ dy: -2, kind: "move", agent: "a-1", dx: 3 }), {
    kind: "move",
    agent: "a-1",
    dx: 3,
    dy: -2,
  });
  assertEquals(
    parseAction({ kind: "transfer", from: "a", to: "b", resource: "gold", amount: 5 }),
    { kind: "transfer", from: "a", to: "b", resource: "gold", amount: 5 },
  );
});

Deno.test("parseAction refuses malformed actions with a code and a message naming the field", () => {
  const cases: [unknown, string, string][] = [
    [null, "ACTION_NOT_OBJECT", "JSON object"],
    [[1], "ACTION_NOT_OBJECT", "array"],
    [{ agent: "a" }, "ACTION_MISSING_FIELD", `"kind"`],
    [{ kind: "fly", agent: "a" }, "ACTION_UNKNOWN_KIND", `"fly"`],
    [{ kind: "move", agent: "a", dx: 1 }, "ACTION_MISSING_FIELD", `"dy"`],
    [
      { kind: "move", agent: "a", dx: 1.5, dy: 0 },
      "ACTION_FIELD_TYPE",
      `"dx" must be an integer, got 1.5`,
    ],
    [{ kind: "move", agent: "a", dx: "1", dy: 0 }, "ACTION_FIELD_TYPE", `"dx"`],
    [{ kind: "grant", agent: "a", resource: "gold", amount: 0 }, "ACTION_FIELD_RANGE", `"amount"`],
    [
      { kind: "grant", agent: "a", resource: "Gold", amount: 1 },
      "ACTION_FIELD_RANGE",
      `"resource"`,
    ],
    [{ kind: "register", agent: "" }, "ACTION_FIELD_RANGE", `"agent"`],
    [{ kind: "register", agent: "a", x: 3 }, "ACTION_MISSING_FIELD", `"y"`],
    [{ kind: "register", agent: "a", x: WORLD_RULES.size, y: 0 }, "ACTION_FIELD_RANGE", `"x"`],
    [{ kind: "rest", agent: "a", extra: 1 }, "ACTION_UNKNOWN_FIELD", `"extra"`],
  ];
  for (const [input, code, text] of cases) {
    const err = assertThrows(() => parseAction(input), ActionError, text);
    assertEquals(err.code, code, JSON.stringify(input));
  }
});

Deno.test("invalid actions become rejected events and change nothing", () => {
  const world = new World();
  stepOne(world, [
    { kind: "register", agent: "ada", x: 0, y: 0 },
    { kind: "register", agent: "bob", x: 5, y: 5 },
    { kind: "grant", agent: "ada", resource: "gold", amount: 10 },
  ]);
  const before = worldSummary(world);
  const events = stepOne(world, [
    { kind: "register", agent: "ada" },
    { kind: "move", agent: "zed", dx: 1, dy: 0 },
    { kind: "move", agent: "ada", dx: -1, dy: 0 },
    { kind: "move", agent: "ada", dx: 200, dy: 0 },
    { kind: "transfer", from: "ada", to: "bob", resource: "gold", amount: 11 },
    { kind: "transfer", from: "ada", to: "ada", resource: "gold", amount: 1 },
    { kind: "teleport", agent: "ada" },
    { kind: "grant", agent: "ada", resource: "gold", amount: 2.5 },
    "not an action",
  ]);
  assertEquals(
    events.map((e) => e.kind === "rejected" ? e.reason : e.kind),
    [
      "duplicate_agent",
      "unknown_agent",
      "out_of_bounds",
      "insufficient_energy",
      "insufficient_funds",
      "self_transfer",
      "malformed",
      "malformed",
      "malformed",
    ],
  );
  assertEquals(events[6], {
    kind: "rejected",
    action_index: 6,
    action_kind: "teleport",
    reason: "malformed",
    error: "ACTION_UNKNOWN_KIND",
    field: "kind",
  });
  assertEquals(events[7].kind === "rejected" ? events[7].field : null, "amount");
  const after = worldSummary(world);
  assertEquals({ ...after, clock: 0, journalLen: 0 }, { ...before, clock: 0, journalLen: 0 });
  assertEquals(after.clock, 2);
  assertEquals(after.journalLen, 3 + 9);
  assertEquals(world.agent("ada")?.resources.get("gold"), 10);
});

Deno.test("moves cost energy, rest restores it, transfers conserve totals", () => {
  const world = new World();
  stepOne(world, [
    { kind: "register", agent: "a", x: 10, y: 10 },
    { kind: "register", agent: "b", x: 0, y: 0 },
    { kind: "grant", agent: "a", resource: "gold", amount: 100 },
    { kind: "move", agent: "a", dx: 3, dy: -4 },
    { kind: "rest", agent: "a" },
  ]);
  const a = world.agent("a")!;
  assertEquals([a.x, a.y, a.energy], [13, 6, 100 - 7 + 7]);
  stepOne(world, [
    { kind: "transfer", from: "a", to: "b", resource: "gold", amount: 40 },
    { kind: "transfer", from: "b", to: "a", resource: "gold", amount: 40 },
    { kind: "transfer", from: "a", to: "b", resource: "gold", amount: 100 },
  ]);
  assertEquals(world.agent("a")!.resources.has("gold"), false, "zero balances are dropped");
  assertEquals(world.agent("b")!.resources.get("gold"), 100);
  assertEquals(world.resourceTotals(), { gold: 100 });

  // A long random run: only grants bring resources in, transfers move them, and
  // the totals kept incrementally equal the sums over all agents.
  const rand = prng(5);
  let agents = 2;
  const granted: Record<string, number> = { gold: 100 };
  let transfers = 0;
  for (let h = 0; h < 200; h++) {
    const gen = randomActions(rand, agents, 20);
    agents = gen.agents;
    for (const e of stepOne(world, gen.actions)) {
      if (e.kind === "granted") granted[e.resource] = (granted[e.resource] ?? 0) + e.amount;
      if (e.kind === "transferred") transfers++;
    }
  }
  assertGreater(transfers, 100);
  const sums: Record<string, number> = {};
  let energy = 0;
  for (let i = 0; i < world.bucketCount; i++) {
    for (const ag of world.chunk(i).agents) {
      energy += ag.energy;
      for (const [r, v] of Object.entries(ag.resources)) sums[r] = (sums[r] ?? 0) + v;
    }
  }
  assertEquals(sums, granted);
  assertEquals(world.resourceTotals(), Object.fromEntries(Object.entries(granted).sort()));
  assertEquals(world.energyTotal, energy);
});

Deno.test("register without coordinates places the agent from the block hash", () => {
  const place = (hash: string) => {
    const w = new World();
    const ev = w.step({
      height: 1,
      nodeBlockHash: hash,
      actions: [{ kind: "register", agent: "x" }],
    });
    const e = ev.events[0];
    return e.kind === "registered" ? [e.x, e.y] : null;
  };
  assertEquals(place(HASH), place(HASH));
  assert(JSON.stringify(place(HASH)) !== JSON.stringify(place("cd".repeat(32))));
});

Deno.test("step reports only the buckets it touched", () => {
  const world = new World({ minBuckets: 8 });
  const regs = Array.from(
    { length: 12 },
    (_, i) => ({ kind: "register", agent: `a${i}`, x: 0, y: 0 }),
  );
  const bucketsOf = (ids: string[]) => [...new Set(ids.map((id) => world.bucketOf(id)))];
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  assertEquals(
    world.step({ height: 1, nodeBlockHash: HASH, actions: regs }).changedChunks,
    sorted(bucketsOf(regs.map((r) => r.agent))),
  );
  const r = world.step({
    height: 2,
    nodeBlockHash: HASH,
    actions: [
      { kind: "grant", agent: "a9", resource: "gold", amount: 3 },
      { kind: "transfer", from: "a9", to: "a1", resource: "gold", amount: 1 },
      { kind: "rest", agent: "a5" }, // full energy: no change, bucket not touched
    ],
  });
  assertEquals(r.changedChunks, sorted(bucketsOf(["a9", "a1"])));
  assertEquals(r.firstEventIndex, 12);
  assertThrows(
    () => world.step({ height: 5, nodeBlockHash: HASH, actions: [] }),
    WorldError,
    "cannot apply height 5",
  );
});

/** Every agent of every chunk: in its own bucket, ordered by id (code units). */
function assertBucketed(world: World): void {
  let seen = 0;
  for (let b = 0; b < world.bucketCount; b++) {
    const ids = world.chunk(b).agents.map((a) => a.id);
    for (const id of ids) assertEquals(world.bucketOf(id), b, `agent ${id} in bucket ${b}`);
    assertEquals(ids, [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    seen += ids.length;
  }
  assertEquals(seen, world.agentCount);
}

Deno.test("buckets by id hash: ordered by id, empty buckets encode alike, bad counts refused", () => {
  const world = new World({ minBuckets: 4 });
  assertEquals(world.bucketCount, 4);
  assertEquals(world.chunk(0), world.chunk(3)); // no bucket number inside: one blob for all
  // Ids whose code-unit order differs from locale order.
  stepOne(
    world,
    ["b", "B", "a", "Z", "é", "e", "\u{1F600}", "\uFFFF"].map((agent) => ({
      kind: "register",
      agent,
    })),
  );
  assertBucketed(world);
  assertThrows(() => new World({ minBuckets: 6 }), WorldError, "power of two");
  assertThrows(() => new World({ minBuckets: 0 }), WorldError, "power of two");
});

Deno.test("growth: past 32 agents a bucket on average the bucket count doubles, all at once", () => {
  const world = new World({ minBuckets: 4 });
  const reg = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ kind: "register", agent: `agent-${from + i}` }));
  // 4 buckets hold up to 128 agents.
  let r = world.step({ height: 1, nodeBlockHash: HASH, actions: reg(0, 128) });
  assertEquals(world.bucketCount, 4);
  r = world.step({ height: 2, nodeBlockHash: HASH, actions: reg(128, 1) });
  assertEquals(world.bucketCount, 8);
  assertEquals(r.changedChunks, [0, 1, 2, 3, 4, 5, 6, 7]);
  assertBucketed(world);
  // A big height may double several times; the next height is back to O(changes).
  r = world.step({ height: 3, nodeBlockHash: HASH, actions: reg(129, 600) });
  assertEquals(world.bucketCount, 32); // 729 agents > 16 × 32
  assertEquals(r.changedChunks.length, 32);
  assertBucketed(world);
  r = world.step({
    height: 4,
    nodeBlockHash: HASH,
    actions: [{ kind: "grant", agent: "agent-7", resource: "gold", amount: 1 }],
  });
  assertEquals(r.changedChunks, [world.bucketOf("agent-7")]);
  // Restoring with the grown bucket count gives the same chunks.
  const restored = World.restore(
    { clock: world.clock, journalLen: world.journalLen, bucketCount: world.bucketCount },
    Array.from({ length: world.agentCount }, (_, i) => world.agent(`agent-${i}`)!).reverse(),
  );
  for (let i = 0; i < world.bucketCount; i++) assertEquals(restored.chunk(i), world.chunk(i));
  assertThrows(
    () =>
      World.restore(
        { clock: world.clock, journalLen: world.journalLen, bucketCount: 4 },
        Array.from({ length: world.agentCount }, (_, i) => world.agent(`agent-${i}`)!),
      ),
    WorldError,
    "would have grown",
  );
});

Deno.test("World.restore rebuilds the same world from its chunks", () => {
  const world = new World({ minBuckets: 4 });
  const rand = prng(9);
  let agents = 0;
  for (let h = 1; h <= 30; h++) {
    const gen = randomActions(rand, agents, 10);
    agents = gen.agents;
    world.step({ height: h, nodeBlockHash: HASH, actions: gen.actions });
  }
  const restored = World.restore(
    { clock: world.clock, journalLen: world.journalLen, bucketCount: world.bucketCount },
    Array.from({ length: world.agentCount }, (_, i) => world.agent(`agent-${i}`)!),
  );
  assertEquals(worldSummary(restored), worldSummary(world));
  for (let i = 0; i < world.bucketCount; i++) assertEquals(restored.chunk(i), world.chunk(i));
});
