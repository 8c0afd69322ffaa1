/**
 * The deterministic agent world (pure: no I/O, no clock, no Math.random). One
 * `step` per committed height applies the block's actions in order; a bad action
 * becomes a `rejected` event, never an exception. The work of a step follows its
 * actions: there is no per-agent loop, totals are kept incrementally, and the step
 * reports which state chunks (buckets) it touched so only those are re-encoded. The
 * one exception is growth: when the average bucket load passes
 * {@link BUCKET_GROWTH_LOAD} the bucket count doubles and every bucket changes, a
 * one-off O(world) step amortised like a hash table's.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { encodeCanonical } from "../storage/cbor.ts";
import { hashBytes } from "../storage/hash.ts";
import { ActionError, parseAction, type WorldAction } from "./actions.ts";
import { type Agent, bucketKeyOf, chunkToWire, type ChunkWire, isPowerOfTwo } from "./agent.ts";
import { ChunkEncoder } from "./chunk_bytes.ts";
import type { RejectReason, WorldEvent } from "./events.ts";
import { BUCKET_GROWTH_LOAD, DEFAULT_MIN_BUCKETS, WORLD_RULES } from "./rules.ts";

/** Error for misuse of the world API (a height out of order, a bad restore). */
export class WorldError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** What one height hands the world. */
export interface StepInput {
  /** Must be the world clock + 1. */
  readonly height: number;
  /** Seed of any randomness at this height. */
  readonly nodeBlockHash: string;
  /** The block's actions in order; anything malformed is rejected, not thrown. */
  readonly actions: readonly unknown[];
}

/** What one height did. */
export interface StepResult {
  readonly height: number;
  /** Journal index of the first event of this height (the journal length before it). */
  readonly firstEventIndex: number;
  readonly events: readonly WorldEvent[];
  /** Buckets (chunks) whose agents changed, ascending; all of them after a growth. */
  readonly changedChunks: readonly number[];
}

/** Saved world position, the parts not held in chunks. */
export interface WorldCounters {
  readonly clock: number;
  readonly journalLen: number;
  readonly bucketCount: number;
}

/**
 * The world state machine.
 *
 * @example
 * ```ts
 * import { World } from "./world.ts";
 * const world = new World();
 * const r = world.step({ height: 1, nodeBlockHash: "ab", actions: [{ kind: "register", agent: "ada" }] });
 * r.events[0].kind; // "registered"
 * ```
 */
export class World {
  #clock = 0;
  #journalLen = 0;
  // Bucket b holds the agents whose bucket key mod the bucket count is b, by id.
  #buckets: Agent[][];
  readonly #byId = new Map<string, Agent>();
  #energyTotal = 0;
  readonly #resourceTotals = new Map<string, number>();
  #touched = new Set<number>();
  #chunkEncoder = new ChunkEncoder();

  /**
   * @param options `minBuckets`: bucket count of the new world, a power of two
   * (default {@link DEFAULT_MIN_BUCKETS}; small values are for tests)
   */
  constructor(options: { minBuckets?: number } = {}) {
    const n = options.minBuckets ?? DEFAULT_MIN_BUCKETS;
    if (!isPowerOfTwo(n)) {
      throw new WorldError("WORLD_BUCKETS", `bucket count must be a power of two, got ${n}`, {
        bucketCount: n,
      });
    }
    this.#buckets = Array.from({ length: n }, () => []);
  }

  /**
   * Rebuilds a world from its counters and its agents in any order (as read back
   * from the state chunks, whose reader computed each `bucketKey`). O(world), done
   * once at start-up.
   */
  static restore(counters: WorldCounters, agents: readonly Agent[]): World {
    const world = new World({ minBuckets: counters.bucketCount });
    world.#clock = counters.clock;
    world.#journalLen = counters.journalLen;
    for (const a of agents) {
      if (world.#byId.has(a.id)) {
        throw new WorldError(
          "WORLD_RESTORE",
          `cannot restore agent "${a.id}": duplicate id`,
          { agent: a.id },
        );
      }
      world.#buckets[a.bucketKey % counters.bucketCount].push(a);
      world.#byId.set(a.id, a);
      world.#energyTotal += a.energy;
      for (const [r, v] of a.resources) world.#addTotal(r, v);
    }
    if (world.agentCount > counters.bucketCount * BUCKET_GROWTH_LOAD) {
      throw new WorldError(
        "WORLD_RESTORE",
        `${world.agentCount} agents in ${counters.bucketCount} buckets: the world would have grown`,
        { agents: world.agentCount, bucketCount: counters.bucketCount },
      );
    }
    for (const b of world.#buckets) b.sort(byId);
    return world;
  }

  /** Height of the last applied step (0 before the first). */
  get clock(): number {
    return this.#clock;
  }
  /** Number of journal events so far. */
  get journalLen(): number {
    return this.#journalLen;
  }
  /** Number of registered agents. */
  get agentCount(): number {
    return this.#byId.size;
  }
  /** Number of buckets (a power of two); each is one state chunk. */
  get bucketCount(): number {
    return this.#buckets.length;
  }
  /** The bucket an agent id lives in (or would, once registered). */
  bucketOf(id: string): number {
    return bucketKeyOf(id) % this.#buckets.length;
  }
  /** Sum of all agents' energy. */
  get energyTotal(): number {
    return this.#energyTotal;
  }
  /** Resource → total held by all agents, sorted by name. */
  resourceTotals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.#resourceTotals.keys()].sort()) out[k] = this.#resourceTotals.get(k)!;
    return out;
  }

  /** A copy of an agent's state, or null. */
  agent(id: string): Agent | null {
    const a = this.#byId.get(id);
    return a ? { ...a, resources: new Map(a.resources) } : null;
  }

  /** Chunk (bucket) `index` as a CBOR-ready value. */
  chunk(index: number): ChunkWire {
    const bucket = this.#buckets[index];
    if (!bucket) {
      throw new WorldError("WORLD_CHUNK", `no chunk ${index} in ${this.bucketCount} buckets`, {
        index,
      });
    }
    return chunkToWire(bucket);
  }

  /**
   * Canonical bytes of chunk `index`: exactly `encodeCanonical(chunk(index))`, with the
   * encodings of agents unchanged since an earlier call reused.
   */
  chunkBytes(index: number): Uint8Array {
    const bucket = this.#buckets[index];
    if (!bucket) {
      throw new WorldError("WORLD_CHUNK", `no chunk ${index} in ${this.bucketCount} buckets`, {
        index,
      });
    }
    return this.#chunkEncoder.encode(index, bucket);
  }

  /** Applies one height. Throws only when `input.height` is not clock + 1. */
  step(input: StepInput): StepResult {
    if (input.height !== this.#clock + 1) {
      throw new WorldError(
        "WORLD_HEIGHT_ORDER",
        `world is at height ${this.#clock}; cannot apply height ${input.height}`,
        { clock: this.#clock, height: input.height },
      );
    }
    const firstEventIndex = this.#journalLen;
    const events: WorldEvent[] = [];
    this.#touched = new Set();
    input.actions.forEach((raw, i) => events.push(this.#apply(raw, i, input.nodeBlockHash)));
    this.#clock = input.height;
    this.#journalLen += events.length;
    this.#growIfLoaded();
    const changedChunks = [...this.#touched].sort((a, b) => a - b);
    return { height: input.height, firstEventIndex, events, changedChunks };
  }

  #apply(raw: unknown, i: number, seed: string): WorldEvent {
    let action: WorldAction;
    try {
      action = parseAction(raw);
    } catch (err) {
      if (!(err instanceof ActionError)) throw err;
      const kind = (raw as { kind?: unknown } | null)?.kind;
      const field = err.context.field;
      return {
        kind: "rejected",
        action_index: i,
        action_kind: typeof kind === "string" ? kind.slice(0, 64) : "",
        reason: "malformed",
        error: err.code,
        field: typeof field === "string" ? field.slice(0, 64) : undefined,
      };
    }
    const out = this.#applyValid(action, i, seed);
    return typeof out === "string"
      ? { kind: "rejected", action_index: i, action_kind: action.kind, reason: out }
      : out;
  }

  // Every change to an agent goes through here: its chunk is re-hashed and its cached
  // bytes are made again.
  #touch(a: Agent): void {
    const index = a.bucketKey % this.#buckets.length;
    this.#touched.add(index);
    this.#chunkEncoder.forget(a, index);
  }

  // Doubling splits bucket b into b and b + old count; walking each old bucket in
  // order keeps every new bucket ordered by id.
  #growIfLoaded(): void {
    if (this.agentCount <= this.#buckets.length * BUCKET_GROWTH_LOAD) return;
    let n = this.#buckets.length;
    while (this.agentCount > n * BUCKET_GROWTH_LOAD) n *= 2;
    const next: Agent[][] = Array.from({ length: n }, () => []);
    for (const bucket of this.#buckets) {
      for (const a of bucket) next[a.bucketKey % n].push(a);
    }
    this.#buckets = next;
    this.#touched = new Set(next.keys());
    this.#chunkEncoder.reset();
  }

  #addTotal(resource: string, delta: number): void {
    const next = (this.#resourceTotals.get(resource) ?? 0) + delta;
    if (next === 0) this.#resourceTotals.delete(resource);
    else this.#resourceTotals.set(resource, next);
  }

  // Returns the event, or the reason the action is refused; nothing changes on refusal.
  #applyValid(a: WorldAction, i: number, seed: string): WorldEvent | RejectReason {
    const rules = WORLD_RULES;
    switch (a.kind) {
      case "register": {
        if (this.#byId.has(a.agent)) return "duplicate_agent";
        // Without coordinates the spawn point derives from the block hash: random
        // enough for a game, identical on every node.
        let { x, y } = a;
        if (x === undefined || y === undefined) {
          const h = hashBytes(encodeCanonical(["spawn", seed, a.agent]));
          x = ((h[0] << 8) | h[1]) % rules.size;
          y = ((h[2] << 8) | h[3]) % rules.size;
        }
        const agent: Agent = {
          id: a.agent,
          bucketKey: bucketKeyOf(a.agent),
          x,
          y,
          energy: rules.initialEnergy,
          resources: new Map(),
        };
        insertById(this.#buckets[agent.bucketKey % this.#buckets.length], agent);
        this.#byId.set(agent.id, agent);
        this.#energyTotal += agent.energy;
        this.#touch(agent);
        return { kind: "registered", action_index: i, agent: a.agent, x, y, energy: agent.energy };
      }
      case "move": {
        const agent = this.#byId.get(a.agent);
        if (!agent) return "unknown_agent";
        const x = agent.x + a.dx;
        const y = agent.y + a.dy;
        if (x < 0 || y < 0 || x >= rules.size || y >= rules.size) return "out_of_bounds";
        const cost = (Math.abs(a.dx) + Math.abs(a.dy)) * rules.moveCost;
        if (cost > agent.energy) return "insufficient_energy";
        agent.x = x;
        agent.y = y;
        agent.energy -= cost;
        this.#energyTotal -= cost;
        this.#touch(agent);
        return { kind: "moved", action_index: i, agent: agent.id, x, y, energy: agent.energy };
      }
      case "rest": {
        const agent = this.#byId.get(a.agent);
        if (!agent) return "unknown_agent";
        const gain = Math.min(rules.restEnergy, rules.maxEnergy - agent.energy);
        agent.energy += gain;
        this.#energyTotal += gain;
        if (gain > 0) this.#touch(agent);
        return { kind: "rested", action_index: i, agent: agent.id, energy: agent.energy };
      }
      case "grant": {
        const agent = this.#byId.get(a.agent);
        if (!agent) return "unknown_agent";
        // Bounding the world total bounds every balance, so sums stay exact integers.
        const total = this.#resourceTotals.get(a.resource) ?? 0;
        if (total + a.amount > Number.MAX_SAFE_INTEGER) return "overflow";
        agent.resources.set(a.resource, (agent.resources.get(a.resource) ?? 0) + a.amount);
        this.#addTotal(a.resource, a.amount);
        this.#touch(agent);
        return {
          kind: "granted",
          action_index: i,
          agent: agent.id,
          resource: a.resource,
          amount: a.amount,
        };
      }
      case "transfer": {
        const from = this.#byId.get(a.from);
        const to = this.#byId.get(a.to);
        if (!from || !to) return "unknown_agent";
        if (from === to) return "self_transfer";
        const have = from.resources.get(a.resource) ?? 0;
        if (have < a.amount) return "insufficient_funds";
        if (have === a.amount) from.resources.delete(a.resource);
        else from.resources.set(a.resource, have - a.amount);
        to.resources.set(a.resource, (to.resources.get(a.resource) ?? 0) + a.amount);
        this.#touch(from);
        this.#touch(to);
        return {
          kind: "transferred",
          action_index: i,
          from: from.id,
          to: to.id,
          resource: a.resource,
          amount: a.amount,
        };
      }
    }
  }
}

// Code-unit order (not locale): the same on every node.
function byId(a: Agent, b: Agent): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function insertById(bucket: Agent[], agent: Agent): void {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bucket[mid].id < agent.id) lo = mid + 1;
    else hi = mid;
  }
  bucket.splice(lo, 0, agent);
}
