/**
 * A stand-in for the live node behind the HTTP server: real consensus blocks (a
 * one-validator {@link ConsensusEngine}), a real {@link World} stepping the
 * committed actions, record JSON shaped like the real record files, a real
 * {@link NodeEvents} (counting its listeners) and real {@link LiveMetrics}.
 * Heights advance only when a test calls {@link FakeLiveApi.advance}.
 * @module
 */
import { ConsensusEngine } from "../../src/consensus/engine.ts";
import { committedBlockToWire } from "../../src/consensus/block.ts";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import { executionBlockHash, GENESIS_EXECUTION_PARENT } from "../../src/execution/records.ts";
import type { LiveApi } from "../../src/live/http.ts";
import { LiveMetrics } from "../../src/live/metrics.ts";
import type { NodeEventMap } from "../../src/node/events.ts";
import { CountingEvents } from "./counting_events.ts";
import { snapshotToJson } from "../../src/node/snapshot.ts";
import { HASH_NAME, hashCanonical } from "../../src/storage/hash.ts";
import { AwrError } from "../../src/errors.ts";
import { actionId, type SubmitResult } from "../../src/node/mempool.ts";
import type { ActionReport } from "../../src/live/action_outcome.ts";
import type { WorldAction } from "../../src/world/actions.ts";
import { World } from "../../src/world/world.ts";
import type { WorldEvent } from "../../src/world/events.ts";
import { WORLD_RULES } from "../../src/world/rules.ts";
import { worldSummary } from "../../src/world/summary.ts";

export { CountingEvents };

/** Options of {@link FakeLiveApi}. */
export interface FakeLiveApiOptions {
  nodeId?: string;
  worldId?: string;
  token?: string;
  /** Refuse actions beyond this many waiting (answered 503). */
  mempoolLimit?: number;
  /** Driver name in `/v1/status` and in "not provided" answers (default `fake-driver`). */
  driver?: string;
  /**
   * Whether the fake driver has the world capability (`/v1/world` with agents,
   * `/v1/journal`, `/v1/agents/:id`); without it, those views throw
   * `NOT_PROVIDED_BY_DRIVER`, as a third-party driver's node answers. Default true.
   */
  worldCapability?: boolean;
}

/** Agents listed at most in {@link FakeLiveApi.world}'s `agents` sample. */
export const FAKE_WORLD_AGENT_SAMPLE = 500;
/** Events answered at most per {@link FakeLiveApi.journal} call. */
export const FAKE_JOURNAL_PAGE_MAX = 500;

/** An agent as `/v1/world`'s `agents` and `/v1/agents/:id` carry it (proposed shape). */
export type FakeAgentJson = {
  id: string;
  x: number;
  y: number;
  energy: number;
  resources: Record<string, number>;
};

/**
 * `/v1/journal?from=&limit=` answer (proposed shape): events `from` on, each a
 * world journal event plus its journal `index` and block `height`; `next` is the
 * index to ask for next.
 */
export type FakeJournalJson = {
  from: number;
  next: number;
  journal_len: number;
  events: (WorldEvent & { index: number; height: number })[];
};

/** Record JSON as the live node serves it (snake_case of the record file). */
export interface FakeRecordJson {
  schema: number;
  world_id: string;
  height: number;
  node_block_hash: string;
  execution_block_hash: string;
  prev_execution_block_hash: string;
  execution_state_root: string;
  journal_len: number;
  manifest_ref: string;
  journal_ref: string;
  timestamp_ms: number;
  hash: string;
}

const GENESIS_MS = 1_700_000_000_000;
const TICK_MS = 200;

/** The fake node. */
export class FakeLiveApi implements LiveApi {
  readonly events: CountingEvents = new CountingEvents();
  readonly metrics: LiveMetrics = new LiveMetrics();
  readonly token: string;
  readonly nodeId: string;
  readonly worldId: string;
  /** Name of the fake's driver. */
  readonly driver: string;
  /** See {@link FakeLiveApiOptions.worldCapability}. */
  readonly worldCapability: boolean;
  /** Set to show a halted node in `/v1/status`. */
  halted: { reason: string; code: string } | null = null;
  /** Set to show the lag bound engaged in `/v1/status`. */
  lagLimitEngaged = false;
  /** Every action accepted through `submitAction`, in order. */
  readonly submitted: WorldAction[] = [];
  readonly blocks: CommittedBlock[] = [];
  readonly records: FakeRecordJson[] = [];
  /** Every journal event so far (with its height), for `journal()`. */
  readonly journalEvents: Record<string, unknown>[] = [];
  /** Make `status()` reject (to check 500 answers). */
  failStatus = false;
  /** When false, heights advance without events (only polling sees them). */
  emitEvents = true;
  readonly #engine: ConsensusEngine;
  readonly #world = new World();
  readonly #mempoolLimit: number;
  #mempool: WorldAction[] = [];
  #mempoolIds: string[] = [];
  readonly #keys = new Map<string, string[]>();
  readonly #included = new Map<string, { height: number; index: number }>();
  #keyCounter = 0;
  readonly #rejections = new Map<string, string>();
  #slot = 0;
  #ticks = 0;
  readonly #journal: (WorldEvent & { index: number; height: number })[] = [];
  readonly #agentIds: string[] = [];
  readonly #detachMetrics: () => void;

  constructor(options: FakeLiveApiOptions = {}) {
    this.nodeId = options.nodeId ?? "node-fake";
    this.worldId = options.worldId ?? "world-fake";
    this.token = options.token ?? "fake-token-0123456789";
    this.#mempoolLimit = options.mempoolLimit ?? 10_000;
    this.driver = options.driver ?? "fake-driver";
    this.worldCapability = options.worldCapability ?? true;
    this.#engine = new ConsensusEngine({ validators: [{ id: this.nodeId, stake: 1 }] });
    this.#detachMetrics = this.metrics.attach(this.events);
    this.metrics.setGaugeSource(() => ({
      committedHeight: this.committedHeight,
      executionHeight: this.executionHeight,
      mempoolSize: this.#mempool.length,
      running: true,
    }));
  }

  /** Highest committed height. */
  get committedHeight(): number {
    return this.blocks.length;
  }

  /** Highest executed height. */
  get executionHeight(): number {
    return this.records.length;
  }

  /** Actions waiting for the next block. */
  get mempoolSize(): number {
    return this.#mempool.length;
  }

  /** Unsubscribes the metrics from the events (so listener counts reach 0). */
  close(): void {
    this.#detachMetrics();
  }

  /** Runs one tick that commits a block with the mempool's actions; returns it. */
  commitNext(): CommittedBlock {
    const slot = ++this.#slot;
    const actions = this.#mempool;
    this.#mempool = [];
    this.#mempoolIds.forEach((id, index) =>
      this.#included.set(id, { height: this.blocks.length + 1, index })
    );
    this.#mempoolIds = [];
    const c = this.#engine.commitLocally(slot, GENESIS_MS + slot * TICK_MS, actions, [this.nodeId]);
    if (!c) throw new Error(`fake node failed to commit at slot ${slot}`);
    const block: CommittedBlock = {
      ...c.block,
      attestations: c.attestations,
      committedAtUnixMs: GENESIS_MS + slot * TICK_MS + 3,
    };
    this.blocks.push(block);
    this.#emit("tick", { tickCount: ++this.#ticks, latenessMs: 0.3, durationMs: 1.7 });
    this.#emit("commit", { block });
    return block;
  }

  /** Executes the next committed height; returns its record JSON. */
  executeNext(): FakeRecordJson {
    const height = this.records.length + 1;
    const block = this.blocks[height - 1];
    if (!block) throw new Error(`fake node has no committed block at height ${height}`);
    const step = this.#world.step({ height, nodeBlockHash: block.hash, actions: block.actions });
    for (const e of step.events) {
      this.journalEvents.push({ height, ...e });
      if (e.kind === "rejected") this.#rejections.set(`${height}:${e.action_index}`, e.reason);
      if (e.kind === "registered") this.#agentIds.push(e.agent);
      this.#journal.push({ ...e, index: this.#journal.length, height });
    }
    const summary = worldSummary(this.#world);
    const root = hashCanonical(["fake-state", height, block.hash, summary.journalLen]);
    const prev = this.records.at(-1)?.execution_block_hash ?? GENESIS_EXECUTION_PARENT;
    const record: FakeRecordJson = {
      schema: 1,
      world_id: this.worldId,
      height,
      node_block_hash: block.hash,
      execution_block_hash: executionBlockHash({
        worldId: this.worldId,
        height,
        prevExecutionBlockHash: prev,
        executionStateRoot: root,
        journalLen: summary.journalLen,
        nodeBlockHash: block.hash,
      }),
      prev_execution_block_hash: prev,
      execution_state_root: root,
      journal_len: summary.journalLen,
      manifest_ref: root,
      journal_ref: hashCanonical(["fake-journal", height]),
      timestamp_ms: block.header.timestampMs,
      hash: HASH_NAME,
    };
    this.records.push(record);
    this.#emit("execution", {
      result: {
        executionHeight: height,
        executionBlockHash: record.execution_block_hash,
        executionStateRoot: root,
      },
      nodeBlockHash: block.hash,
      durationMs: 4.5,
    });
    return record;
  }

  #emit<K extends keyof NodeEventMap>(name: K, event: NodeEventMap[K]): void {
    if (this.emitEvents) this.events.emit(name, event);
  }

  /** Commits one height and executes everything committed. */
  advance(): void {
    this.commitNext();
    while (this.executionHeight < this.committedHeight) this.executeNext();
  }

  status(): Promise<Record<string, unknown>> {
    if (this.failStatus) return Promise.reject(new Error("status store unavailable"));
    const last = this.blocks.at(-1);
    const exec = this.records.at(-1);
    const json = snapshotToJson({
      nodeId: this.nodeId,
      worldId: this.worldId,
      role: "sequencer",
      running: true,
      tickCount: this.#ticks,
      lastTickUnixMs: last ? last.committedAtUnixMs : null,
      consensus: {
        mode: "local",
        slot: this.#slot,
        epoch: last?.header.epoch ?? 0,
        latestHeight: this.committedHeight,
        committedHeight: this.committedHeight,
        networkCommittedHeight: this.committedHeight,
        knownPeerHeads: {},
        lastStatus: last ? "Committed" : null,
        lastBlockHash: last?.hash ?? null,
        lastExecutionHeight: this.executionHeight,
        lastExecutionBlockHash: exec?.execution_block_hash ?? null,
        lastExecutionStateRoot: exec?.execution_state_root ?? null,
      },
      lastError: null,
    });
    const halted = this.halted ? { ...this.halted, since_unix_ms: GENESIS_MS, retries: 1 } : null;
    return Promise.resolve({
      ...json,
      halted,
      running: halted === null,
      lag_limit_engaged: this.lagLimitEngaged,
      max_execution_lag: 64,
      driver: this.driver,
      execution_mode: "node",
      execution_lag: this.committedHeight - this.executionHeight,
      mempool_size: this.#mempool.length,
    });
  }

  block(height: number): Promise<unknown | null> {
    const b = this.blocks[height - 1];
    return Promise.resolve(b ? committedBlockToWire(b) : null);
  }

  record(height: number): Promise<unknown | null> {
    return Promise.resolve(this.records[height - 1] ?? null);
  }

  /** The world summary plus `driver`, `size` and an `agents` sample of at most `agentLimit`. */
  world(agentLimit = 64): Promise<Record<string, unknown>> {
    if (!this.worldCapability) return Promise.reject(this.#notProvided("summary"));
    const s = worldSummary(this.#world);
    const agents = [...this.#agentIds].sort()
      .slice(0, Math.min(agentLimit, FAKE_WORLD_AGENT_SAMPLE))
      .map((id) => this.#agentJson(id)!);
    return Promise.resolve({
      driver: this.driver,
      size: WORLD_RULES.size,
      agents,
      agents_truncated: s.agentCount > agents.length,
      height: this.executionHeight,
      clock: s.clock,
      agent_count: s.agentCount,
      chunk_count: s.chunkCount,
      journal_len: s.journalLen,
      energy_total: s.energyTotal,
      resource_totals: s.resourceTotals,
      state_root: this.records.at(-1)?.execution_state_root ?? null,
    });
  }

  /** `/v1/journal?from=&limit=` (proposed): at most `limit` (≤ 500) events from `from`. */
  journal(from: number, limit: number): Promise<FakeJournalJson> {
    if (!this.worldCapability) return Promise.reject(this.#notProvided("journal"));
    const n = Math.max(0, Math.min(limit, FAKE_JOURNAL_PAGE_MAX));
    const events = this.#journal.slice(from, from + n);
    return Promise.resolve({
      from,
      next: from + events.length,
      journal_len: this.#journal.length,
      events,
    });
  }

  /** `/v1/agents/:id` (proposed): one agent, or null (404). */
  agent(id: string): Promise<FakeAgentJson | null> {
    if (!this.worldCapability) return Promise.reject(this.#notProvided("agent"));
    return Promise.resolve(this.#agentJson(id));
  }

  #agentJson(id: string): FakeAgentJson | null {
    const a = this.#world.agent(id);
    if (!a) return null;
    return { id, x: a.x, y: a.y, energy: a.energy, resources: Object.fromEntries(a.resources) };
  }

  #notProvided(view: string): AwrError {
    return new AwrError(
      "NOT_PROVIDED_BY_DRIVER",
      `driver ${this.driver} does not provide the ${view} view`,
      { driver: this.driver, capability: view },
    );
  }

  /** Queues one action at once (for tests that drive the fake directly). */
  submitAction(action: WorldAction): { mempoolSize: number } {
    this.#queue([action], `fake-${this.#keyCounter++}`);
    return { mempoolSize: this.#mempool.length };
  }

  submitActions(actions: WorldAction[], idempotencyKey: string | null): Promise<SubmitResult> {
    try {
      const key = idempotencyKey ?? `fake-${this.#keyCounter++}`;
      const known = this.#keys.get(key);
      if (known) {
        return Promise.resolve({ ids: known, replayed: true, mempoolSize: this.mempoolSize });
      }
      const ids = this.#queue(actions, key);
      return Promise.resolve({ ids, replayed: false, mempoolSize: this.mempoolSize });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  actionStatus(id: string): Promise<ActionReport | null> {
    if (this.#mempoolIds.includes(id)) return Promise.resolve({ state: "pending" });
    const inc = this.#included.get(id);
    if (!inc) return Promise.resolve(null);
    // The fake world's journal: was there a `rejected` event at this block index?
    const rejected = this.#rejections.get(`${inc.height}:${inc.index}`);
    return Promise.resolve(
      rejected
        ? { state: "rejected", ...inc, reason: rejected }
        : { state: "included", ...inc, executed: this.executionHeight >= inc.height },
    );
  }

  #queue(actions: WorldAction[], key: string): string[] {
    if (this.#mempool.length + actions.length > this.#mempoolLimit) {
      throw new AwrError("MEMPOOL_FULL", `mempool is full (${this.#mempoolLimit} actions)`, {
        size: this.#mempool.length,
        limit: this.#mempoolLimit,
        batch: actions.length,
      });
    }
    const ids = actions.map((a, i) => actionId(key, i, a));
    this.#keys.set(key, ids);
    this.#mempool.push(...actions);
    this.#mempoolIds.push(...ids);
    this.submitted.push(...actions);
    return ids;
  }
}
