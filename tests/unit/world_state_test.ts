import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { ManifestError } from "../../src/state/manifest.ts";
import type { BlobReader } from "../../src/state/state_tree.ts";
import { type HeightProducts, WorldState } from "../../src/state/world_state.ts";
import { encodeCanonical } from "../../src/storage/cbor.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { ChunkError, chunkFromWire } from "../../src/world/agent.ts";
import { World } from "../../src/world/world.ts";
import { agentName, randomChain } from "../support/chain_fixture.ts";

const HASH = "ab".repeat(32);

/** A CAS in memory. */
class MemoryCas implements BlobReader {
  readonly blobs = new Map<string, Uint8Array>();
  put(out: HeightProducts): void {
    for (const b of out.blobs) this.blobs.set(b.hash, b.bytes);
  }
  get(hash: string): Promise<Uint8Array> {
    const b = this.blobs.get(hash);
    return b ? Promise.resolve(b) : Promise.reject(new Error(`blob ${hash} is missing`));
  }
}

const register = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind: "register", agent: agentName(from + i) }));

Deno.test("a height writes its changed buckets and their path, whatever the world size", () => {
  for (const agents of [100, 3000]) {
    const state = WorldState.genesis("w");
    const first = state.apply({ height: 1, nodeBlockHash: HASH, actions: register(0, agents) });
    // Genesis adds the one empty-chunk blob and the one node over 16 empty chunks.
    assert(first.blobs.length <= 4096 + 256 + 16 + 1 + 2);
    assertEquals([first.manifest.bucketCount, first.manifest.fanout], [4096, 16]);
    assertEquals(first.manifest.depth, 3);
    const out = state.apply({
      height: 2,
      nodeBlockHash: HASH,
      actions: [{ kind: "grant", agent: agentName(7), resource: "gold", amount: 1 }],
    });
    // One chunk, its level-1 and level-2 nodes, the root, the journal segment, the manifest.
    assertEquals(out.blobs.length, 6);
    assertEquals(out.step.changedChunks, [state.world.bucketOf(agentName(7))]);
  }
});

Deno.test("growth rebuilds every chunk and the tree once; a loaded world steps on to the same roots", async () => {
  const cas = new MemoryCas();
  const shape = { minBuckets: 4, fanout: 4 };
  const live = WorldState.genesis("w", shape);
  const manifests: string[] = [];
  const sizes: [number, number][] = [];
  let agents = 0;
  for (let h = 1; h <= 12; h++) {
    const n = h % 3 === 0 ? 130 : 3;
    const actions = [
      ...register(agents, n),
      { kind: "grant", agent: agentName(h), resource: "gold", amount: h },
    ];
    agents += n;
    const out = live.apply({ height: h, nodeBlockHash: HASH, actions });
    cas.put(out);
    manifests.push(out.stateRoot);
    sizes.push([out.manifest.bucketCount, out.manifest.depth]);
    assert(out.manifest.agentCount <= out.manifest.bucketCount * 32);
  }
  // 4 buckets (depth 1) → 8 (2) → 16 (2) → 32 (3) as agents pass 128, 256, 512.
  assertEquals(sizes.map(([b]) => b), [4, 4, 8, 8, 8, 16, 16, 16, 16, 16, 16, 32]);
  assertEquals(sizes.map(([, d]) => d), [1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3]);

  // From any height's manifest, a loaded world continues to the same roots.
  for (const at of [2, 3, 6, 11]) {
    const loaded = await WorldState.load(cas, "w", manifests[at - 1]);
    assertEquals(loaded.world.bucketCount, sizes[at - 1][0]);
    let a = 0;
    for (let h = 1; h <= 12; h++) {
      const n = h % 3 === 0 ? 130 : 3;
      const actions = [
        ...register(a, n),
        { kind: "grant", agent: agentName(h), resource: "gold", amount: h },
      ];
      a += n;
      if (h <= at) continue;
      assertEquals(
        loaded.apply({ height: h, nodeBlockHash: HASH, actions }).stateRoot,
        manifests[h - 1],
      );
    }
  }
});

Deno.test("same chain, same roots; another genesis bucket count gives other roots", () => {
  const blocks = randomChain(60, 5, 12);
  const roots = (minBuckets: number) => {
    const s = WorldState.genesis("w", { minBuckets });
    return blocks.map((b) =>
      s.apply({ height: b.header.height, nodeBlockHash: b.hash, actions: b.actions }).stateRoot
    );
  };
  assertEquals(roots(4096), roots(4096));
  assert(roots(4096)[59] !== roots(8)[59]);
});

Deno.test("schema-1 states are refused with a typed error naming the blob", async () => {
  const cas = new MemoryCas();
  const old = encodeCanonical({
    schema: 1,
    kind: "state_manifest",
    world_id: "w",
    height: 1,
    clock: 1,
    agent_count: 0,
    chunk_size: 8,
    fanout: 32,
    depth: 1,
    tree_root: "00".repeat(32),
    journal_len: 0,
    energy_total: 0,
    resource_totals: {},
  });
  const ref = hashHex(old);
  cas.blobs.set(ref, old);
  const err = await assertRejects(() => WorldState.load(cas, "w", ref), ManifestError);
  assertEquals(err.code, "BLOB_SCHEMA");
  assert(err.message.includes(ref) && err.message.includes("schema 1"), err.message);

  const chunk = { schema: 1, kind: "agents", index: 0, agents: [] };
  const cerr = assertThrows(() => chunkFromWire(chunk, 0, 4096, "chunk abc"), ChunkError);
  assertEquals(cerr.code, "CHUNK_SCHEMA");
  assert(cerr.message.includes("chunk abc") && cerr.message.includes("schema 1"));
});

Deno.test("a chunk read back at another bucket, or out of id order, is refused", () => {
  const world = new World({ minBuckets: 4 });
  world.step({ height: 1, nodeBlockHash: HASH, actions: register(0, 40) });
  const b = world.bucketOf(agentName(0));
  const wire = world.chunk(b);
  assertEquals(chunkFromWire(wire, b, 4, "c").length, wire.agents.length);
  assertThrows(() => chunkFromWire(wire, (b + 1) % 4, 4, "c"), ChunkError, "belongs in bucket");
  const reversed = { ...wire, agents: [...wire.agents].reverse() };
  assertThrows(() => chunkFromWire(reversed, b, 4, "c"), ChunkError, "not ordered");
});
