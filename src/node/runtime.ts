/**
 * `NodeRuntime`: the node's main loop. Each tick advances the slot, runs the BFT
 * engines of the local validators (`local_consensus.ts`) — answering a proposer's
 * value request with the mempool's next actions, firing due timeouts — persists a
 * decided block with its certificate (block file, then state file), and hands
 * the committed height to the execution hook — without waiting for it, so a slow
 * driver delays execution, never ticks (DESIGN invariant 6). A failed write halts
 * commits and is retried until it succeeds (`halted` in the snapshot); consensus
 * stops proposing while execution trails by `maxExecutionLag` heights.
 * @module
 */
import { epochOf } from "../consensus/proposer.ts";
import type { BlockAction, CommittedBlock } from "../consensus/types.ts";
import type { BftOptions } from "../consensus/bft/options.ts";
import type { BftMessage } from "../consensus/bft/types.ts";
import { AwrError, errorChain } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { ensureDirDurable, removeStaleTemps } from "../storage/atomic.ts";
import { makePayload } from "./bft_block.ts";
import { decidedAbove, openLocalConsensus, tickLocal } from "./local_start.ts";
import { BlockStore } from "./block_store.ts";
import { CommitWriter, type NodeWriters, nodeWriters } from "./commit_writer.ts";
import { type NodeConfig, type NodeConfigInput, resolveNodeConfig } from "./config.ts";
import {
  commitContext,
  type NodeExecutionCommitContext,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
} from "./execution_hook.ts";
import { ExecutionFeed } from "./execution_feed.ts";
import { NodeAgreement, ownClaim } from "./agreement_node.ts";
import { adoptIdentity, checkLastBlock, reconcileExecution } from "./handshake.ts";
import { NodeEvents } from "./events.ts";
import { type HaltInfo, realRetryTimer, type RetryTimer, WriteRetry } from "./halt.ts";
import { LagLimit } from "./lag_limit.ts";
import { type ExecutionResultEntry, ExecutionResultLog, type ResultHashes } from "./result_log.ts";
import {
  type CrashPoint,
  LocalConsensus,
  type LocalKeys,
  localModeKeys,
} from "./local_consensus.ts";
import type { ActionStatus, Mempool, SubmitActionsOptions, SubmitResult } from "./mempool.ts";
import { openNodeMempool } from "./mempool.ts";
import { consensusFromState, type NodeSnapshot } from "./snapshot.ts";
import { TickLoop } from "./tick_loop.ts";
import {
  freshNodeState,
  nodeDir,
  nodeStatePath,
  type PosNodeState,
  readNodeState,
} from "./state_file.ts";
import { blocksDir } from "../storage/data_dir.ts";

/** What the runtime is given besides its options. */
export interface NodeRuntimeDeps {
  /** Execution injected into the loop (seed PRG-B1); none = consensus only. */
  executionHook?: NodeExecutionHook;
  logger?: Logger;
  /** Wall clock (unix ms); tests may inject one. */
  clock?: () => number;
  /** Timer of the halted node's write retries; tests inject one to drive them. */
  retryTimer?: RetryTimer;
  /** Wraps the node's two writes (tests inject failures: ENOSPC, EROFS…). */
  writers?: (real: NodeWriters) => NodeWriters;
  /**
   * Executed height when execution runs outside the node (bridge mode), for the lag
   * bound; null = unknown (no bound). Ignored when there is an execution hook.
   */
  executedHeight?: () => number | null;
  /** Keys of the local validators (default {@link localModeKeys}). */
  keys?: LocalKeys;
  /** BFT engine options (timeouts, bounds); default `defaultBftOptions`. */
  bft?: Partial<BftOptions>;
  /**
   * TEST ONLY: called at each crash point of the signer-state persist (the CLI's hidden
   * `--crash-at` kills the process there).
   */
  crashPoint?: (point: CrashPoint) => void;
  /**
   * Called with each consensus message a local validator sends (after its signer state
   * is durable): the network layer gossips it to the remote validators.
   */
  onBroadcast?: (message: BftMessage) => void;
  /**
   * The node is part of a network (validator or follower): blocks may carry actions
   * other nodes queued, matched by content in the mempool (see `Mempool.committedBlock`).
   */
  networked?: boolean;
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
  #consensus: LocalConsensus | null = null;
  readonly #keys: LocalKeys;
  readonly #crashPoint: ((point: CrashPoint) => void) | undefined;
  readonly #bft: Partial<BftOptions> | undefined;
  readonly #onBroadcast: ((message: BftMessage) => void) | undefined;
  readonly #networked: boolean;
  #feed: ExecutionFeed | null = null;
  #recent = new Map<number, CommittedBlock>();
  #mempool: Mempool | null = null;
  readonly #loop: TickLoop;
  #stopping = false;
  readonly #writer: CommitWriter;
  readonly #retry: WriteRetry;
  readonly #lagLimit: LagLimit;
  readonly #executedHeight: (() => number | null) | null;
  #tickCount = 0;
  #lastTickUnixMs: number | null = null;
  #lastError: string | null = null;
  #results: ExecutionResultLog | null = null;
  readonly #agreement: NodeAgreement;

  /**
   * @param config node options (defaults fill the rest; invalid options throw naming the option)
   * @param deps the execution hook, logger and clock
   */
  constructor(config: NodeConfigInput, deps: NodeRuntimeDeps = {}) {
    this.#config = resolveNodeConfig(config);
    this.#hook = deps.executionHook ?? null;
    this.#log = deps.logger ?? silentLogger;
    this.#clock = deps.clock ?? Date.now;
    this.#keys = deps.keys ?? localModeKeys(this.#config.worldId);
    this.#crashPoint = deps.crashPoint;
    this.#bft = deps.bft;
    this.#agreement = new NodeAgreement(this.#config, {
      verifier: this.#keys.verifier,
      log: this.#log,
      events: this.events,
      clock: this.#clock,
      onDiverged: (_d, message) => {
        this.#lastError = message;
        this.#consensus?.setVoting(false); // keeps following; records stay as they are
      },
    });
    this.#onBroadcast = deps.onBroadcast;
    this.#networked = deps.networked ?? false;
    this.#blocks = new BlockStore(blocksDir(this.#config.dataDir, this.#config.nodeId), {
      durable: this.#config.durable,
    });
    this.#statePath = nodeStatePath(this.#config.dataDir, this.#config.nodeId);
    const real = nodeWriters(this.#blocks, this.#statePath, this.#config.durable);
    this.#writer = new CommitWriter(deps.writers ? deps.writers(real) : real, (block) => {
      this.#remember(block);
      // Trim only once the commit is on disk (a crash before is repaired at start).
      this.#mempool?.committedBlock(block.header.height, block.actions);
      this.events.emit("commit", { block });
    });
    this.#retry = new WriteRetry({
      baseMs: this.#config.haltRetryBaseMs,
      maxMs: this.#config.haltRetryMaxMs,
      clock: this.#clock,
      timer: deps.retryTimer ?? realRetryTimer,
      attempt: () => this.#persist(),
      onResume: () => this.#resume(),
      log: this.#log,
      events: this.events,
      heights: () => ({
        committed: this.#writer.persistedHeight,
        pending: this.#writer.pendingHeight,
      }),
    });
    this.#loop = new TickLoop({
      intervalMs: this.#config.tickIntervalMs,
      step: () => this.#step(),
      earlyStep: this.#networked ? () => this.#earlyStep() : undefined,
      maxEarlyStepsPerTick: this.#config.maxEarlyStepsPerTick,
      onTick: (latenessMs, durationMs) =>
        this.events.emit("tick", { tickCount: this.#tickCount, latenessMs, durationMs }),
      // A failed write: commit nothing on top of it; retry it until it succeeds.
      onError: (err) => this.#enterHalt(err),
    });
    this.#lagLimit = new LagLimit(this.#config.maxExecutionLag, this.#log, this.events);
    this.#executedHeight = deps.executedHeight ?? null;
  }

  /** Why the node is halted (a write failed and is being retried), or null. */
  get halted(): Readonly<HaltInfo> | null {
    return this.#retry.info;
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
    if (this.#loop.running) {
      throw new AwrError("NODE_ALREADY_RUNNING", "node is already running: stop() it first");
    }
    this.#stopping = false;
    // A commit left pending by a stop while halted is not on disk: rebuild from the files.
    this.#writer.discardPending();
    this.#retry.clear();
    const dir = nodeDir(this.#config.dataDir, this.#config.nodeId);
    await ensureDirDurable(dir, this.#config.durable);
    await removeStaleTemps(dir);
    const loaded = await readNodeState(this.#statePath);
    this.#state = loaded?.value ?? freshNodeState(this.#config.nodeId, this.#config.worldId);
    this.#unknown = loaded?.unknown ?? {};
    adoptIdentity(this.#state, this.#config.nodeId, this.#config.worldId, this.#statePath);
    if (this.#state.genesisUnixMs === 0) this.#state.genesisUnixMs = this.#clock();
    let last = await checkLastBlock(this.#state, this.#blocks, this.#statePath);
    const decided = await decidedAbove(this.#config, this.#state, this.#blocks, last, this.#keys);
    if (decided) {
      // Adopted as is: its height is never decided (nor signed) again.
      this.#log.info("adopting the decided block found above the committed height", {
        height: decided.header.height,
      });
      this.#writer.stage(decided, decided.header.slot);
      await this.#persist();
      last = decided;
    }
    if (last) this.#remember(last);

    this.#consensus = await openLocalConsensus(this.#config, this.#state, last, {
      keys: this.#keys,
      crashPoint: this.#crashPoint,
      options: this.#bft,
      onBroadcast: this.#onBroadcast,
      now: this.#clock(),
    });
    if (this.#agreement.diverged) this.#consensus.setVoting(false);

    if (this.#hook) {
      this.#results ??= await ExecutionResultLog.open(dir, this.#config.durable);
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
      this.#agreement.executed(pos.height, pos.executionStateRoot);
      // After a crash the hook's position may be ahead of the log: write that entry again.
      const atPos = pos.height > 0 ? await this.#blocks.getBlock(pos.height) : null;
      if (atPos && !await this.#results.get(pos.height)) {
        this.#logResult(pos.height, atPos.hash, pos);
      }
      this.#feed = this.#makeFeed(pos);
    }
    await this.#persist();
    if (this.#feed) {
      // Replay first (CometBFT's handshake): missing heights go before any new commit.
      const caughtUp = await this.#feed.catchUp();
      if (!caughtUp) {
        this.#log.warn("execution replay incomplete; will retry", { error: this.#lastError });
      }
      if (this.#writer.dirty) await this.#persist();
    }
    // Acknowledged actions from before a crash are proposed again, unless a block has them.
    this.#mempool = await openNodeMempool(
      this.#config,
      this.#state.committedHeight,
      this.#blocks,
      this.#log,
      this.#networked,
    );
    this.#loop.start();
  }

  /**
   * Stops ticking, lets execution finish the call in flight (and catch up, within
   * `stopDrainTimeoutMs`), persists the state and closes the hook.
   */
  async stop(): Promise<void> {
    if ((!this.#loop.running && !this.#retry.info) || this.#stopping) return;
    this.#stopping = true;
    await this.#loop.stop();
    await this.#retry.cancel();
    if (this.#feed) {
      this.#feed.pause();
      await this.#feed.idle();
      if (!this.#retry.info) {
        await this.#feed.catchUp(performance.now() + this.#config.stopDrainTimeoutMs);
      }
    }
    if (!this.#retry.info) await this.#persist();
    else {
      // One last try; a disk that is still failing keeps what was last persisted.
      try {
        await this.#persist();
        this.#retry.clear();
      } catch (err) {
        this.#log.error("stopped while halted; the state on disk stays as last persisted", {
          committed_height: this.#writer.persistedHeight,
          error: errorChain(err),
        });
      }
    }
    await this.#mempool?.close();
    this.#mempool = null;
    this.#results?.close();
    await this.#hook?.close?.();
  }

  /**
   * The one entry point for world actions: queues them for the next proposals and
   * resolves once they are fsynced in the mempool log (so an acknowledgement is
   * durable). A batch is all or nothing. Throws {@link AwrError} `MEMPOOL_FULL` when
   * it does not fit, `IDEMPOTENCY_KEY_REUSED`, `MEMPOOL_IO`, or `NODE_NOT_RUNNING`
   * before `start()` / after `stop()`.
   */
  async submitActions(
    actions: readonly BlockAction[],
    options: SubmitActionsOptions = {},
  ): Promise<SubmitResult> {
    this.#retry.refuseWrites();
    if (!this.#mempool) {
      throw new AwrError(
        "NODE_NOT_RUNNING",
        "the node is not running: start it before submitting actions",
      );
    }
    return await this.#mempool.submit(actions, options.idempotencyKey ?? null);
  }

  /**
   * Queues actions another node accepted and gossiped (same idempotency key, so the same
   * ids): a batch already known, or one a committed block already carried, is ignored.
   * Resolves once durable; throws like {@link submitActions}.
   */
  async receiveGossipedActions(key: string, actions: readonly BlockAction[]): Promise<void> {
    if (!this.#mempool || actions.some((a) => this.#mempool!.includedElsewhere(a))) return;
    await this.submitActions(actions, { idempotencyKey: key });
  }

  /** Where action `id` is (`pending` / `included`), or null when unknown or forgotten. */
  actionStatus(id: string): ActionStatus | null {
    return this.#mempool?.status(id) ?? null;
  }

  /**
   * Queues a consensus message from outside this process (a remote validator's vote or
   * proposal; tests) for the local engines' next tick. A networked node also asks for
   * an early step (coalesced, at most `maxEarlyStepsPerTick` between two ticks), so the
   * message is handled at once rather than at the next tick. False when the node is not
   * running or its inbox is full (1024 messages, `MAX_INBOX` in local_consensus.ts);
   * the message is then dropped.
   */
  receiveConsensusMessage(message: unknown): boolean {
    this.#agreement.observeMessage(message);
    const queued = this.#consensus?.receive(message) ?? false;
    if (queued) this.#loop.wake();
    return queued;
  }

  /** Early consensus steps run since start (networked nodes; see `receiveConsensusMessage`). */
  get earlySteps(): number {
    return this.#loop.earlySteps;
  }

  /**
   * An execution claim learnt outside proposals (e.g. a peer's status: its execution
   * height and state root), checked like a proposal's claim. Only for claims whose
   * sender is authenticated as `validator` (its transport key).
   */
  observePeerClaim(validator: string, height: number, stateRoot: string): void {
    this.#agreement.observeClaim(validator, { height, stateRoot });
  }

  /** Actions waiting for a proposal. */
  get mempoolSize(): number {
    return this.#mempool?.size ?? 0;
  }

  /** The node's current view of itself. */
  snapshot(): NodeSnapshot {
    const s = this.#state as PosNodeState | undefined;
    return {
      nodeId: this.#config.nodeId,
      worldId: this.#config.worldId,
      role: this.#config.role,
      running: this.#loop.running,
      tickCount: this.#tickCount,
      lastTickUnixMs: this.#lastTickUnixMs,
      consensus: consensusFromState(
        s ?? freshNodeState(this.#config.nodeId, this.#config.worldId),
      ),
      lastError: this.#lastError,
      halted: this.#retry.info ? { ...this.#retry.info } : null,
      lagLimit: this.#lagLimit.snapshot(),
      evidence: this.#consensus?.evidence ?? { total: 0, recent: [] },
      agreement: this.#agreement.snapshot(),
    };
  }

  /** Highest committed height whose state file is on disk (what outside executors may use). */
  get durableCommittedHeight(): number {
    return this.#writer.persistedHeight;
  }

  /**
   * The execution result the node logged for `height` (any driver), or null when the
   * height is not executed yet or its entry is missing (see `result_log.ts`).
   */
  async executionResult(height: number): Promise<ExecutionResultEntry | null> {
    if (!this.#results || height > (this.#state?.lastExecutionHeight ?? 0)) return null;
    return await this.#results.get(height);
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
      committedHeight: () => this.#writer.persistedHeight,
      contextFor: (h) => this.#contextFor(h),
      onResult: (r, ctx, ms) => this.#onExecuted(r, ctx, ms),
      onError: (height, message, code) => {
        // The driver's code (DRIVER_TIMEOUT, DRIVER_CRASHED, …) leads, for operators and tools.
        this.#lastError = `execution of height ${height} failed: ${
          code ? `${code}: ` : ""
        }${message}`;
        this.#log.warn("execution failed", { height, code, error: message });
        this.events.emit("error", { source: "execution", height, message, code });
      },
      retryBaseMs: Math.max(this.#config.tickIntervalMs, 10),
      retryMaxMs: 2_000,
      now: () => performance.now(),
    }, start);
  }

  async #contextFor(height: number): Promise<NodeExecutionCommitContext> {
    const block = this.#recent.get(height) ?? await this.#blocks.getBlock(height);
    if (!block) {
      throw new AwrError(
        "BLOCK_MISSING",
        `committed block ${height} is missing from ${this.#blocks.dir}`,
        { height, dir: this.#blocks.dir },
      );
    }
    return commitContext(this.#config.worldId, this.#config.nodeId, block);
  }

  #onExecuted(r: NodeExecutionCommitResult, ctx: NodeExecutionCommitContext, ms: number): void {
    this.#logResult(r.executionHeight, ctx.nodeBlockHash, r);
    this.#setExecution(r.executionHeight, r.executionBlockHash, r.executionStateRoot);
    this.#agreement.executed(r.executionHeight, r.executionStateRoot);
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
    this.#writer.dirty = true;
  }

  #remember(block: CommittedBlock): void {
    this.#recent.set(block.header.height, block);
    if (this.#recent.size > RECENT_BLOCKS) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  #logResult(height: number, nodeBlockHash: string, r: ResultHashes): void {
    const driver = this.#hook?.driverName ?? "hook";
    this.#results?.record(height, nodeBlockHash, r, driver, this.#clock(), this.#log);
  }

  async #persist(): Promise<void> {
    // The result log first: the state file must never claim a height the log lacks.
    await this.#results?.sync();
    await this.#writer.persist(this.#state, this.#unknown);
  }

  #enterHalt(err: unknown): void {
    this.#retry.halt(err);
    this.#lastError = `node halted: ${this.#retry.info!.reason}`;
    const height = this.#writer.persistedHeight;
    this.events.emit("error", { source: "consensus", height, message: this.#lastError });
  }

  #resume(): void {
    if (this.#lastError?.startsWith("node halted")) this.#lastError = null;
    this.#feed?.kick();
    if (!this.#stopping) this.#loop.start();
  }

  /** Whether the lag bound lets this tick propose (it logs and emits each change). */
  #lagAllows(): boolean {
    const executed = this.#hook ? this.#state.lastExecutionHeight : this.#executedHeight?.();
    if (executed === null || executed === undefined) return true;
    return this.#lagLimit.allows(this.#state.committedHeight, executed);
  }

  async #step(): Promise<void> {
    const now = this.#clock();
    const s = this.#state;
    this.#tickCount++;
    this.#lastTickUnixMs = now;
    const clockSlot = Math.floor((now - s.genesisUnixMs) / this.#config.tickIntervalMs) + 1;
    const slot = Math.max(s.slot + 1, clockSlot);
    s.slot = slot;
    s.epoch = epochOf(slot, this.#config.epochLengthSlots);
    let committed = false;
    if (this.#consensus) {
      const proposing = this.#config.role === "sequencer" && this.#lagAllows();
      const max = this.#config.maxActionsPerBlock;
      committed = await tickLocal(this.#consensus, this.#writer, {
        now,
        parentHash: s.lastBlockHash,
        value: proposing
          ? () => makePayload(slot, s.epoch, now, this.#mempool?.peek(max) ?? [], ownClaim(s))
          : null,
      });
      if (proposing || committed) s.lastStatus = committed ? "Committed" : "Pending";
    }
    if (committed || this.#writer.dirty || this.#tickCount % 64 === 0) await this.#persist();
    this.#feed?.kick();
  }

  /**
   * An early step (between ticks, serialised with them by the tick loop): the local
   * engines handle the inbox and perform their outputs under the same durability rules
   * as a tick (signer state durable before a message leaves; a decided block stored as a
   * tick stores it). It proposes nothing and fires no timeout: that stays with ticks.
   * A commit brings the next tick forward (`TickLoop.tickSoon`): the next proposal starts.
   */
  async #earlyStep(): Promise<void> {
    if (!this.#consensus) return;
    const s = this.#state;
    const committed = await tickLocal(this.#consensus, this.#writer, {
      now: this.#clock(),
      parentHash: s.lastBlockHash,
      value: null,
    });
    if (!committed) return;
    s.lastStatus = "Committed";
    await this.#persist();
    this.#feed?.kick();
    // The next height's proposal need not wait for the scheduled tick.
    this.#loop.tickSoon();
  }
}
