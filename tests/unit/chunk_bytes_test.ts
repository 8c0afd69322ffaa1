/**
 * The direct encoders of the execution's hot path (chunks with cached agent bytes, tree
 * nodes) must give exactly the generic canonical encoder's bytes, or state roots would
 * change with the code path that made them.
 */
import { assertEquals } from "@std/assert";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { encodeTreeNode, NODE_SCHEMA } from "../../src/state/state_tree.ts";
import { type Agent, bucketKeyOf, chunkToWire } from "../../src/world/agent.ts";
import { ChunkEncoder } from "../../src/world/chunk_bytes.ts";
import { World } from "../../src/world/world.ts";
import { prng } from "../support/chain_fixture.ts";

function agent(rand: (n: number) => number, i: number): Agent {
  const resources = new Map<string, number>();
  if (rand(2)) resources.set("gold", rand(2 ** 40) + 1);
  if (rand(2)) resources.set("wood", rand(300) + 1);
  if (rand(4) === 0) resources.set(`r-${rand(50)}`, 7);
  const id = `agent-${i}`;
  return {
    id,
    bucketKey: bucketKeyOf(id),
    x: rand(1024),
    y: rand(1024),
    energy: rand(1000),
    resources,
  };
}

Deno.test("chunk bytes equal the canonical encoding at every array length form", () => {
  const rand = prng(7);
  const enc = new ChunkEncoder();
  for (const n of [0, 1, 5, 23, 24, 100, 255, 256, 300]) {
    const agents = Array.from({ length: n }, (_, i) => agent(rand, i));
    assertEquals(enc.encode(0, agents), encodeCanonical(chunkToWire(agents)), `${n} agents`);
    // A second call serves cached agents: still the same bytes.
    assertEquals(
      enc.encode(0, agents),
      encodeCanonical(chunkToWire(agents)),
      `${n} agents, cached`,
    );
  }
});

Deno.test("a chunk with agents added, removed and changed is encoded from its cache correctly", () => {
  const rand = prng(5);
  const enc = new ChunkEncoder();
  const all = Array.from({ length: 60 }, (_, i) => agent(rand, i)).sort((a, b) =>
    a.id < b.id ? -1 : 1
  );
  let agents = all.filter((_, i) => i % 3 !== 0);
  enc.encode(1, agents);
  for (let round = 0; round < 20; round++) {
    // Some agents join (in id order), some leave, some change and are forgotten.
    agents = all.filter(() => rand(3) !== 0);
    for (const a of agents) {
      if (rand(4) === 0) {
        a.energy += 1;
        enc.forget(a, 1);
      }
    }
    assertEquals(enc.encode(1, agents), encodeCanonical(chunkToWire(agents)), `round ${round}`);
  }
  // After a reset nothing is reused: a change not forgotten is still seen.
  agents[0].x += 1;
  enc.reset();
  assertEquals(enc.encode(1, agents), encodeCanonical(chunkToWire(agents)));
});

Deno.test("a forgotten agent is encoded again; a changed one not forgotten is not", () => {
  const rand = prng(11);
  const enc = new ChunkEncoder();
  const agents = [agent(rand, 1), agent(rand, 2)];
  const before = enc.encode(0, agents);
  agents[0].x += 1;
  // Not forgotten: the cache still answers the old bytes (the world forgets on every
  // change; this shows the test below can tell the two apart).
  assertEquals(enc.encode(0, agents), before);
  enc.forget(agents[0], 0);
  assertEquals(enc.encode(0, agents), encodeCanonical(chunkToWire(agents)));
});

Deno.test("a world's chunk bytes follow every kind of action", () => {
  const world = new World({ minBuckets: 4 });
  const actions = [
    { kind: "register", agent: "ada", x: 1, y: 2 },
    { kind: "register", agent: "bob", x: 5, y: 5 },
    { kind: "register", agent: "cyd" },
  ];
  world.step({ height: 1, nodeBlockHash: "h1", actions });
  for (let i = 0; i < world.bucketCount; i++) world.chunkBytes(i); // fill the cache
  const later = [
    [{ kind: "grant", agent: "ada", resource: "gold", amount: 10 }],
    [{ kind: "transfer", from: "ada", to: "bob", resource: "gold", amount: 4 }],
    [{ kind: "move", agent: "bob", dx: 1, dy: -1 }],
    [{ kind: "rest", agent: "bob" }],
    [{ kind: "transfer", from: "bob", to: "cyd", resource: "gold", amount: 4 }],
  ];
  later.forEach((acts, i) => {
    world.step({ height: i + 2, nodeBlockHash: `h${i + 2}`, actions: acts });
    for (let b = 0; b < world.bucketCount; b++) {
      assertEquals(world.chunkBytes(b), encodeCanonical(world.chunk(b)), `height ${i + 2}`);
    }
  });
});

Deno.test("tree node bytes equal the canonical encoding, short and long child lists", () => {
  const rand = prng(3);
  for (const level of [1, 2, 23, 24, 300]) {
    for (const n of [0, 1, 23, 24, 64, 255, 256]) {
      const children = Array.from(
        { length: n },
        () => Uint8Array.from({ length: 32 }, () => rand(256)),
      );
      assertEquals(
        encodeTreeNode(level, children),
        encodeCanonical({ schema: NODE_SCHEMA, kind: "node", level, children }),
        `level ${level}, ${n} children`,
      );
    }
  }
});
