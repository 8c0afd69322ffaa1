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
  for (let i = 0; i < world.chunkCount; i++) {
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

Deno.test("step reports only the chunks it touched", () => {
  const world = new World({ chunkSize: 4 });
  const regs = Array.from(
    { length: 12 },
    (_, i) => ({ kind: "register", agent: `a${i}`, x: 0, y: 0 }),
  );
  assertEquals(
    world.step({ height: 1, nodeBlockHash: HASH, actions: regs }).changedChunks,
    [0, 1, 2],
  );
  const r = world.step({
    height: 2,
    nodeBlockHash: HASH,
    actions: [
      { kind: "grant", agent: "a9", resource: "gold", amount: 3 },
      { kind: "transfer", from: "a9", to: "a1", resource: "gold", amount: 1 },
      { kind: "rest", agent: "a5" }, // full energy: no change, chunk not touched
    ],
  });
  assertEquals(r.changedChunks, [0, 2]);
  assertEquals(r.firstEventIndex, 12);
  assertThrows(
    () => world.step({ height: 5, nodeBlockHash: HASH, actions: [] }),
    WorldError,
    "cannot apply height 5",
  );
});

Deno.test("World.restore rebuilds the same world from its chunks", () => {
  const world = new World({ chunkSize: 3 });
  const rand = prng(9);
  let agents = 0;
  for (let h = 1; h <= 30; h++) {
    const gen = randomActions(rand, agents, 10);
    agents = gen.agents;
    world.step({ height: h, nodeBlockHash: HASH, actions: gen.actions });
  }
  const restored = World.restore(
    { clock: world.clock, journalLen: world.journalLen, chunkSize: 3 },
    Array.from({ length: world.agentCount }, (_, i) => world.agent(`agent-${i}`)!),
  );
  assertEquals(worldSummary(restored), worldSummary(world));
  for (let i = 0; i < world.chunkCount; i++) assertEquals(restored.chunk(i), world.chunk(i));
});
