/**
 * `NodeRuntime`: the node's main loop. Each tick advances the slot, commits a block
 * through the consensus engine, persists it (block file, then state file), and hands
 * the committed height to the execution hook — without waiting for it, so a slow
 * driver delays execution, never ticks (DESIGN invariant 6).
 * @module
 */
import { ConsensusEngine } from "../consensus/engine.ts";
import type { BlockAction, CommittedBlock } from "../consensus/types.ts";
import { AwrError, errorMessage } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { ensureDirDurable, removeStaleTemps } from "../storage/atomic.ts";
import { join } from "@std/path";
import { clearImmediate, setImmediate } from "node:timers";
import { BlockStore } from "./block_store.ts";
import { type NodeConfig, type NodeConfigInput, resolveNodeConfig } from "./config.ts";
import {
  commitContext,
  type NodeExecutionCommitContext,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
} from "./execution_hook.ts";
import { ExecutionFeed } from "./execution_feed.ts";
import { adoptIdentity, checkLastBlock, reconcileExecution } from "./handshake.ts";
import { NodeEvents } from "./events.ts";
import type { NodeSnapshot } from "./snapshot.ts";
import {
  freshNodeState,
  nodeDir,
  nodeStatePath,
  type PosNodeState,
  readNodeState,
  writeNodeState,
} from "./state_file.ts";

/** What the runtime is given besides its options. */
export interface NodeRuntimeDeps {
  /** Execution injected into the loop (seed PRG-B1); none = consensus only. */
  executionHook?: NodeExecutionHook;
  logger?: Logger;
  /** Wall clock (unix ms); tests may inject one. */
  clock?: () => number;
}

const RECENT_BLOCKS = 1024;

/**
 * A proof-of-stake node with node-internal execution.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "./runtime.ts";
 * const node = new NodeRuntime({ nodeId: "node-1", worldId: "world-1", dataDir: "./data" });
 * await node.start();
 * console.log(node.snapshot().consensus.committedHeight);
 * await node.stop();
 * ```
 */
export class NodeRuntime {
  /** Commit, execution, tick and error notifications. */
  readonly events: NodeEvents = new NodeEvents();
  readonly #config: NodeConfig;
  readonly #hook: NodeExecutionHook | null;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #blocks: BlockStore;
  readonly #statePath: string;
  #state!: PosNodeState;
  #unknown: Record<string, unknown> = {};
  #engine!: ConsensusEngine;
  #feed: ExecutionFeed | null = null;
  #recent = new Map<number, CommittedBlock>();
  #mempool: BlockAction[] = [];
  #running = false;
  #halted = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #immediate: ReturnType<typeof setImmediate> | null = null;
  #tickPromise: Promise<void> | null = null;
  #nextTickAt = 0;
  #tickCount = 0;
  #lastTickUnixMs: number | null = null;
  #lastError: string | null = null;
  #stateDirty = false;
  #persistedHeight = 0;
  #localValidators: string[] = [];

  /**
   * @param config node options (defaults fill the rest; invalid options throw naming the option)
   * @param deps the execution hook, logger and clock
   */
  constructor(config: NodeConfigInput, deps: NodeRuntimeDeps = {}) {
    this.#config = resolveNodeConfig(config);
    this.#hook = deps.executionHook ?? null;
    this.#log = deps.logger ?? silentLogger;
    this.#clock = deps.clock ?? Date.now;
    const dir = nodeDir(this.#config.dataDir, this.#config.nodeId);
    this.#blocks = new BlockStore(join(dir, "blocks"), { durable: this.#config.durable });
    this.#statePath = nodeStatePath(this.#config.dataDir, this.#config.nodeId);
  }

  /** The resolved options. */
  get config(): NodeConfig {
    return this.#config;
  }

  /** The node's committed blocks. */
  get blocks(): BlockStore {
    return this.#blocks;
  }

  /** Path of the persisted state file. */
  get statePath(): string {
    return this.#statePath;
  }

  /**
   * Restores persisted state, reconciles with the execution hook (handshake), hands
   * over committed heights the hook is missing, then starts ticking.
   * Throws {@link HandshakeError} when the two cannot be reconciled.
   */
  async start(): Promise<void> {
    if (this.#running) throw new Error("node is already running");
    const dir = nodeDir(this.#config.dataDir, this.#config.nodeId);
    await ensureDirDurable(dir, this.#config.durable);
    await removeStaleTemps(dir);
    const loaded = await readNodeState(this.#statePath);
    this.#state = loaded?.value ?? freshNodeState(this.#config.nodeId, this.#config.worldId);
    this.#unknown = loaded?.unknown ?? {};
    adoptIdentity(this.#state, this.#config.nodeId, this.#config.worldId, this.#statePath);
    if (this.#state.genesisUnixMs === 0) this.#state.genesisUnixMs = this.#clock();
    const last = await checkLastBlock(this.#state, this.#blocks, this.#statePath);
    if (last) this.#remember(last);

    this.#engine = new ConsensusEngine({
      validators: [...this.#config.validators],
      supermajorityNumerator: this.#config.supermajorityNumerator,
      supermajorityDenominator: this.#config.supermajorityDenominator,
      epochLengthSlots: this.#config.epochLengthSlots,
    }, {
      committedHeight: this.#state.committedHeight,
      lastBlockHash: this.#state.lastBlockHash ?? undefined,
      lastSlot: Math.max(this.#state.lastCommittedSlot, this.#state.slot),
    });
    this.#localValidators = [
      ...(this.#config.localValidators ?? this.#config.validators.map((v) => v.id)),
    ];

    if (this.#hook) {
      const pos = await reconcileExecution(
        this.#state,
        this.#hook,
        this.#blocks,
        this.#statePath,
        this.#log,
      );
      this.#log.info("execution handshake", {
        committed_height: this.#state.committedHeight,
        execution_height: pos.height,
        from: pos.source,
      });
      this.#setExecution(pos.height, pos.executionBlockHash, pos.executionStateRoot);
      this.#feed = this.#makeFeed(pos);
    }
    await this.#persist();
    if (this.#feed) {
      // Replay first (CometBFT's handshake): missing heights go before any new commit.
      const caughtUp = await this.#feed.catchUp();
      if (!caughtUp) {
        this.#log.warn("execution replay incomplete; will retry", { error: this.#lastError });
      }
      if (this.#stateDirty) await this.#persist();
    }
    this.#running = true;
    this.#nextTickAt = performance.now();
    this.#schedule();
  }

  /**
   * Stops ticking, lets execution finish the call in flight (and catch up, within
   * `stopDrainTimeoutMs`), persists the state and closes the hook.
   */
  async stop(): Promise<void> {
    if (!this.#running && !this.#halted) return;
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    if (this.#tickPromise) await this.#tickPromise;
    if (this.#feed) {
      this.#feed.pause();
      await this.#feed.idle();
      if (!this.#halted) {
        await this.#feed.catchUp(performance.now() + this.#config.stopDrainTimeoutMs);
      }
    }
    if (!this.#halted) await this.#persist();
    this.#halted = false;
    await this.#hook?.close?.();
  }

  /**
   * Queues world actions for the next proposals; returns the mempool size. Throws
   * `MEMPOOL_FULL` (all or nothing) beyond `maxMempoolSize`.
   */
  submitActions(actions: readonly BlockAction[]): number {
    if (this.#mempool.length + actions.length > this.#config.maxMempoolSize) {
      throw new AwrError(
        "MEMPOOL_FULL",
        `mempool is full (${this.#mempool.length} of ${this.#config.maxMempoolSize} actions waiting); retry later`,
        { size: this.#mempool.length, limit: this.#config.maxMempoolSize },
      );
    }
    this.#mempool.push(...actions);
    return this.#mempool.length;
  }

  /** Actions waiting for a proposal. */
  get mempoolSize(): number {
    return this.#mempool.length;
  }

  /** The node's current view of itself. */
  snapshot(): NodeSnapshot {
    const s = this.#state;
    return {
      nodeId: this.#config.nodeId,
      worldId: this.#config.worldId,
      role: this.#config.role,
      running: this.#running,
      tickCount: this.#tickCount,
      lastTickUnixMs: this.#lastTickUnixMs,
      consensus: {
        mode: "local",
        slot: s?.slot ?? 0,
        epoch: s?.epoch ?? 0,
        latestHeight: s?.latestHeight ?? 0,
        committedHeight: s?.committedHeight ?? 0,
        networkCommittedHeight: s?.committedHeight ?? 0,
        knownPeerHeads: {},
        lastStatus: s?.lastStatus ?? null,
        lastBlockHash: s?.lastBlockHash ?? null,
        lastExecutionHeight: s?.lastExecutionHeight ?? 0,
        lastExecutionBlockHash: s?.lastExecutionBlockHash ?? null,
        lastExecutionStateRoot: s?.lastExecutionStateRoot ?? null,
      },
      lastError: this.#lastError,
    };
  }

  /** Highest committed height whose state file is on disk (what outside executors may use). */
  get durableCommittedHeight(): number {
    return this.#persistedHeight;
  }

  /** Height of the execution call in flight (0 when none). */
  get executionInFlightHeight(): number {
    return this.#feed?.inFlightHeight ?? 0;
  }

  #makeFeed(
    start: { height: number; executionBlockHash: string | null; executionStateRoot: string | null },
  ): ExecutionFeed {
    const hook = this.#hook!;
    return new ExecutionFeed({
      hook,
      // Only heights whose commit is on disk: the hook must never run ahead of the state file.
      committedHeight: () => this.#persistedHeight,
      contextFor: (h) => this.#contextFor(h),
      onResult: (r, ctx, ms) => this.#onExecuted(r, ctx, ms),
      onError: (height, message) => {
        this.#lastError = `execution of height ${height} failed: ${message}`;
        this.#log.warn("execution failed", { height, error: message });
        this.events.emit("error", { source: "execution", height, message });
      },
      retryBaseMs: Math.max(this.#config.tickIntervalMs, 10),
      retryMaxMs: 2_000,
      now: () => performance.now(),
    }, start);
  }

  async #contextFor(height: number): Promise<NodeExecutionCommitContext> {
    const block = this.#recent.get(height) ?? await this.#blocks.getBlock(height);
    if (!block) throw new Error(`committed block ${height} is missing from ${this.#blocks.dir}`);
    return commitContext(this.#config.worldId, this.#config.nodeId, block);
  }

  #onExecuted(r: NodeExecutionCommitResult, ctx: NodeExecutionCommitContext, ms: number): void {
    this.#setExecution(r.executionHeight, r.executionBlockHash, r.executionStateRoot);
    if (this.#lastError?.startsWith("execution of height")) this.#lastError = null;
    this.events.emit("execution", { result: r, nodeBlockHash: ctx.nodeBlockHash, durationMs: ms });
  }

  #setExecution(height: number, blockHash: string | null, stateRoot: string | null): void {
    const s = this.#state;
    if (
      s.lastExecutionHeight === height && s.lastExecutionBlockHash === blockHash &&
      s.lastExecutionStateRoot === stateRoot
    ) return;
    s.lastExecutionHeight = height;
    s.lastExecutionBlockHash = blockHash;
    s.lastExecutionStateRoot = stateRoot;
    this.#stateDirty = true;
  }

  #remember(block: CommittedBlock): void {
    this.#recent.set(block.header.height, block);
    if (this.#recent.size > RECENT_BLOCKS) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  async #persist(): Promise<void> {
    this.#stateDirty = false;
    const height = this.#state.committedHeight;
    await writeNodeState(this.#statePath, this.#state, this.#unknown, this.#config.durable);
    this.#persistedHeight = height;
  }

  #schedule(): void {
    if (!this.#running) return;
    const delay = this.#nextTickAt - performance.now();
    const run = () => {
      this.#timer = null;
      this.#immediate = null;
      this.#tickPromise = this.#tick().finally(() => {
        this.#tickPromise = null;
      });
    };
    // A due tick runs as the next macrotask: setTimeout(0) costs ~2 ms here, which
    // would cap a 1 ms tick far below what the disk allows.
    if (delay <= 0) this.#immediate = setImmediate(run);
    else this.#timer = setTimeout(run, delay);
  }

  async #tick(): Promise<void> {
    const started = performance.now();
    const latenessMs = Math.max(0, started - this.#nextTickAt);
    // Fixed cadence; if a tick ran long, the next one starts now rather than bursting to catch up.
    this.#nextTickAt = Math.max(this.#nextTickAt + this.#config.tickIntervalMs, started);
    try {
      await this.#step();
    } catch (err) {
      // A write that failed leaves memory ahead of disk: halt rather than commit on top of it.
      this.#lastError = `node halted: ${errorMessage(err)}`;
      this.#log.error("node halted", { error: errorMessage(err) });
      this.#running = false;
      this.#halted = true;
      this.events.emit("error", {
        source: "consensus",
        height: this.#state.committedHeight,
        message: this.#lastError,
      });
      return;
    }
    this.events.emit("tick", {
      tickCount: this.#tickCount,
      latenessMs,
      durationMs: performance.now() - started,
    });
    this.#schedule();
  }

  async #step(): Promise<void> {
    const now = this.#clock();
    const s = this.#state;
    this.#tickCount++;
    this.#lastTickUnixMs = now;
    const clockSlot = Math.floor((now - s.genesisUnixMs) / this.#config.tickIntervalMs) + 1;
    const slot = Math.max(s.slot + 1, clockSlot);
    s.slot = slot;
    s.epoch = this.#engine.epochOf(slot);
    let committed: CommittedBlock | null = null;
    if (this.#config.role === "sequencer") {
      const actions = this.#mempool.slice(0, this.#config.maxActionsPerBlock);
      const result = this.#engine.commitLocally(slot, now, actions, this.#localValidators);
      if (result) {
        this.#mempool.splice(0, actions.length);
        committed = { ...result.block, attestations: result.attestations, committedAtUnixMs: now };
        // Block first, then the state that declares it committed: a crash between the
        // two leaves an unreferenced block file that the next commit overwrites.
        await this.#blocks.put(committed);
        s.committedHeight = committed.header.height;
        s.latestHeight = Math.max(s.latestHeight, committed.header.height);
        s.lastCommittedSlot = slot;
        s.lastBlockHash = committed.hash;
        this.#remember(committed);
      }
      s.lastStatus = this.#engine.status;
    }
    if (committed || this.#stateDirty || this.#tickCount % 64 === 0) await this.#persist();
    if (committed) this.events.emit("commit", { block: committed });
    this.#feed?.kick();
  }
}
