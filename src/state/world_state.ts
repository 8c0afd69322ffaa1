/**
 * The world together with its chunked, content-addressed form. `apply` steps the
 * world and returns exactly the blobs that height adds (changed chunks, the nodes
 * on their paths, the manifest, the journal segment); nothing proportional to the
 * world size is encoded or hashed — except at a height where the world's bucket
 * count doubles, which re-encodes every chunk and rebuilds the tree once. No I/O
 * except `load`, which reads a world back from a manifest at start-up.
 * @module
 */
import { decodeCbor } from "../storage/cbor.ts";
import { type Agent, chunkFromWire } from "../world/agent.ts";
import { DEFAULT_MIN_BUCKETS } from "../world/rules.ts";
import { type StepInput, type StepResult, World } from "../world/world.ts";
import {
  decodeManifest,
  journalBlob,
  manifestBlob,
  ManifestError,
  type StateManifest,
} from "./manifest.ts";
import {
  type BlobReader,
  DEFAULT_FANOUT,
  getAll,
  type HashedBlob,
  hashedBlob,
  hashedBytes,
  StateTree,
} from "./state_tree.ts";

/** Everything one height produced. */
export interface HeightProducts {
  readonly step: StepResult;
  readonly manifest: StateManifest;
  /** Address of the manifest blob: the execution state root. */
  readonly stateRoot: string;
  /** Address of the journal segment blob. */
  readonly journalRef: string;
  /** New blobs of this height (chunks, nodes, journal, manifest; no address twice), to store together. */
  readonly blobs: readonly HashedBlob[];
}

/** Shape parameters of a new world. */
export interface WorldShape {
  /** Bucket count at genesis, a power of two (default 4096; small ones are for tests). */
  minBuckets?: number;
  /** Children per tree node (default 64). */
  fanout?: number;
}

/**
 * A world and its Merkle state tree.
 *
 * @example
 * ```ts
 * import { WorldState } from "./world_state.ts";
 * const state = WorldState.genesis("world-1");
 * const out = state.apply({ height: 1, nodeBlockHash: "ab", actions: [] });
 * out.stateRoot; // hash of the height-1 manifest
 * ```
 */
export class WorldState {
  readonly worldId: string;
  readonly world: World;
  #tree: StateTree;
  // Blobs a fresh tree needs (the empty root) that no height has stored yet.
  #unstored: HashedBlob[];
  #manifest: StateManifest | null = null;
  #stateRoot: string | null = null;

  private constructor(worldId: string, world: World, tree: StateTree, unstored: HashedBlob[]) {
    this.worldId = worldId;
    this.world = world;
    this.#tree = tree;
    this.#unstored = unstored;
  }

  /** An empty world at height 0. */
  static genesis(worldId: string, shape: WorldShape = {}): WorldState {
    const world = new World({ minBuckets: shape.minBuckets ?? DEFAULT_MIN_BUCKETS });
    const { tree, blobs } = buildTree(world, shape.fanout ?? DEFAULT_FANOUT);
    return new WorldState(worldId, world, tree, blobs);
  }

  /**
   * Reads the world saved under `manifestRef`, checking the manifest's world id and
   * every blob's integrity (the reader's job) and shape.
   */
  static async load(reader: BlobReader, worldId: string, manifestRef: string): Promise<WorldState> {
    const where = `state manifest ${manifestRef}`;
    const m = decodeManifest(await reader.get(manifestRef), where);
    if (m.worldId !== worldId) {
      throw new ManifestError(
        "WORLD_MISMATCH",
        `${where} belongs to world "${m.worldId}", not "${worldId}"`,
        { manifestRef, found: m.worldId, expected: worldId },
      );
    }
    const tree = await StateTree.load(reader, m.treeRoot, m.depth, m.fanout, m.bucketCount);
    const agents: Agent[] = [];
    const hashes = Array.from({ length: m.bucketCount }, (_, i) => tree.chunkHash(i));
    const blobs = await getAll(reader, hashes);
    blobs.forEach((bytes, i) => {
      const where = `chunk ${hashes[i]} (bucket ${i})`;
      agents.push(...chunkFromWire(decodeCbor(bytes), i, m.bucketCount, where));
    });
    if (agents.length !== m.agentCount) {
      throw new ManifestError(
        "STATE_INVALID",
        `${where}: chunks hold ${agents.length} agents, manifest says ${m.agentCount}`,
        { manifestRef },
      );
    }
    const world = World.restore(
      { clock: m.clock, journalLen: m.journalLen, bucketCount: m.bucketCount },
      agents,
    );
    // Every agent's canonical bytes are made now, once, so that a height re-encodes only
    // the agents its actions touched (a long-running node reaches the same state as it
    // touches its chunks; start-up pays ~2.5 µs per agent instead).
    for (let i = 0; i < m.bucketCount; i++) world.chunkBytes(i);
    const state = new WorldState(worldId, world, tree, []);
    state.#manifest = m;
    state.#stateRoot = manifestRef;
    return state;
  }

  /** Manifest of the last applied height (null at genesis). */
  get manifest(): StateManifest | null {
    return this.#manifest;
  }
  /** Execution state root of the last applied height (null at genesis). */
  get stateRoot(): string | null {
    return this.#stateRoot;
  }

  /** Steps the world one height and returns the blobs it adds. */
  apply(input: StepInput): HeightProducts {
    const step = this.world.step(input);
    const blobs: HashedBlob[] = this.#unstored;
    this.#unstored = [];
    if (this.world.bucketCount !== this.#tree.chunkCount) {
      // The world grew: every agent may have moved bucket, so the tree starts over.
      const rebuilt = buildTree(this.world, this.#tree.fanout);
      this.#tree = rebuilt.tree;
      blobs.push(...rebuilt.blobs);
    } else {
      const changed = step.changedChunks.map((index) => {
        const blob = hashedBytes(this.world.chunkBytes(index));
        blobs.push(blob);
        return { index, digest: blob.digest };
      });
      blobs.push(...this.#tree.update(changed));
    }
    const journal = journalBlob({
      worldId: this.worldId,
      height: step.height,
      firstIndex: step.firstEventIndex,
      events: step.events,
    });
    const manifest: StateManifest = {
      worldId: this.worldId,
      height: step.height,
      clock: this.world.clock,
      agentCount: this.world.agentCount,
      bucketCount: this.world.bucketCount,
      fanout: this.#tree.fanout,
      depth: this.#tree.depth,
      treeRoot: this.#tree.root,
      journalLen: this.world.journalLen,
      energyTotal: this.world.energyTotal,
      resourceTotals: this.world.resourceTotals(),
    };
    const mblob = manifestBlob(manifest);
    blobs.push(journal, mblob);
    this.#manifest = manifest;
    this.#stateRoot = mblob.hash;
    return {
      step,
      manifest,
      stateRoot: mblob.hash,
      journalRef: journal.hash,
      blobs: unique(blobs),
    };
  }
}

/** Every chunk of `world` and the whole tree over them (genesis and growth). */
function buildTree(world: World, fanout: number): { tree: StateTree; blobs: HashedBlob[] } {
  const chunks = Array.from({ length: world.bucketCount }, (_, i) => hashedBlob(world.chunk(i)));
  const { tree, blobs } = StateTree.build(chunks.map((c) => c.digest), fanout);
  return { tree, blobs: unique([...chunks, ...blobs]) };
}

// Identical blobs (empty buckets, nodes over them) are stored and counted once.
function unique(blobs: readonly HashedBlob[]): HashedBlob[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(b.hash) && seen.add(b.hash));
}
