/**
 * `NodeRuntime`: the node's main loop. Each tick advances the slot, runs the BFT
 * engines of the local validators (`local_consensus.ts`) — answering a proposer's
 * value request with the mempool's next actions, firing due timeouts — persists a
 * decided block with its certificate (block file, then state file: `commit_writer.ts`),
 * and hands the height to execution (`runtime_execution.ts`) without waiting, so a slow
 * driver delays execution, never ticks (DESIGN invariant 6). A failed write halts
 * commits and is retried until it succeeds; consensus stops proposing while execution
 * trails by `maxExecutionLag` heights.
 * @module
 */
import type { BlockAction } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { lastBlockAtStart, openLocalConsensus } from "./local_start.ts";
import { BlockStore } from "./block_store.ts";
import { CommitWriter, nodeWriters } from "./commit_writer.ts";
import { type NodeConfig, type NodeConfigInput, resolveNodeConfig } from "./config.ts";
import { NodeAgreement } from "./agreement_node.ts";
import { restoreNodeState } from "./handshake.ts";
import { NodeEvents } from "./events.ts";
import { type HaltInfo, retryTiming, WriteRetry } from "./halt.ts";
import { LagLimit } from "./lag_limit.ts";
import type { ExecutionResultEntry } from "./result_log.ts";
import { RuntimeExecution } from "./runtime_execution.ts";
import { type LocalConsensus, type LocalKeys, localModeKeys } from "./local_consensus.ts";
import type { ActionStatus, Mempool, SubmitActionsOptions, SubmitResult } from "./mempool.ts";
import { openNodeMempool } from "./mempool.ts";
import type { NodeRuntimeDeps } from "./runtime_deps.ts";
export type { NodeRuntimeDeps } from "./runtime_deps.ts";
import { consensusFromState, type NodeSnapshot } from "./snapshot.ts";
import { TickLoop } from "./tick_loop.ts";
import { earlyStep, StateWritePacer, type StepParts, tickStep } from "./runtime_step.ts";
import { freshNodeState, nodeDir, nodeStatePath, type PosNodeState } from "./state_file.ts";
import { blocksDir } from "../storage/data_dir.ts";

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
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #blocks: BlockStore;
  readonly #statePath: string;
  #state!: PosNodeState;
  #unknown: Record<string, unknown> = {};
  #consensus: LocalConsensus | null = null;
  readonly #keys: LocalKeys;
  readonly #deps: NodeRuntimeDeps;
  readonly #exec: RuntimeExecution | null = null;
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
  readonly #agreement: NodeAgreement;
  readonly #pacer: StateWritePacer;

  /**
   * @param config node options (defaults fill the rest; invalid options throw naming the option)
   * @param deps the execution hook, logger and clock
   */
  constructor(config: NodeConfigInput, deps: NodeRuntimeDeps = {}) {
    this.#config = resolveNodeConfig(config);
    this.#deps = deps;
    this.#pacer = new StateWritePacer(this.#config.tickIntervalMs, deps.networked === true);
    this.#log = deps.logger ?? silentLogger;
    this.#clock = deps.clock ?? Date.now;
    this.#keys = deps.keys ?? localModeKeys(this.#config.worldId);
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
    const { dataDir, nodeId, durable } = this.#config;
    const blockingFlush = deps.networked === true; // storage/flush.ts
    this.#blocks = new BlockStore(blocksDir(dataDir, nodeId), { durable, blockingFlush });
    this.#statePath = nodeStatePath(this.#config.dataDir, this.#config.nodeId);
    const real = nodeWriters(this.#blocks, this.#statePath, this.#config.durable);
    this.#writer = new CommitWriter(deps.writers ? deps.writers(real) : real, (block) => {
      this.#exec?.remember(block);
      // Trim only once the commit is on disk (a crash before is repaired at start).
      this.#mempool?.committedBlock(block.header.height, block.actions);
      this.events.emit("commit", { block });
    }, { deferState: deps.networked === true });
    this.#retry = new WriteRetry({
      ...retryTiming(this.#config, this.#clock, deps.retryTimer),
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
      earlyStep: deps.networked ? () => this.#earlyStep() : undefined,
      maxEarlyStepsPerTick: this.#config.maxEarlyStepsPerTick,
      onTick: (latenessMs, durationMs) =>
        this.events.emit("tick", { tickCount: this.#tickCount, latenessMs, durationMs }),
      // A failed write: commit nothing on top of it; retry it until it succeeds.
      onError: (err) => this.#enterHalt(err),
    });
    this.#lagLimit = new LagLimit(this.#config.maxExecutionLag, this.#log, this.events);
    this.#executedHeight = deps.executedHeight ?? null;
    if (deps.executionHook) {
      this.#exec = new RuntimeExecution({
        hook: deps.executionHook,
        config: this.#config,
        log: this.#log,
        clock: this.#clock,
        events: this.events,
        blocks: this.#blocks,
        writer: this.#writer,
        agreement: this.#agreement,
        state: () => this.#state,
        setError: (message, clearPrefix) => {
          if (clearPrefix === undefined) this.#lastError = message;
          else if (this.#lastError?.startsWith(clearPrefix)) this.#lastError = null;
        },
      });
    }
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
    const restored = await restoreNodeState(this.#config, this.#statePath, this.#clock());
    this.#state = restored.value;
    this.#unknown = restored.unknown;
    const last = await lastBlockAtStart(this.#config, this.#state, this.#blocks, this.#statePath, {
      keys: this.#keys,
      log: this.#log,
      // Adopted as is: its height is never decided (nor signed) again.
      adopt: async (b) => {
        this.#writer.stage(b, b.header.slot);
        await this.#persist();
      },
    });
    if (last) this.#exec?.remember(last);

    const open = { ...this.#deps, keys: this.#keys, options: this.#deps.bft, now: this.#clock() };
    this.#consensus = await openLocalConsensus(this.#config, this.#state, last, open);
    if (this.#agreement.diverged) this.#consensus.setVoting(false);

    await this.#exec?.open(nodeDir(this.#config.dataDir, this.#config.nodeId), this.#statePath);
    await this.#persist();
    if (this.#exec) {
      // Replay first (CometBFT's handshake): missing heights go before any new commit.
      const caughtUp = await this.#exec.catchUp();
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
      this.#deps.networked ?? false,
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
    if (this.#exec) {
      await this.#exec.pause();
      if (!this.#retry.info) {
        await this.#exec.catchUp(performance.now() + this.#config.stopDrainTimeoutMs);
      }
    }
    await this.#retry.finalAttempt();
    await this.#mempool?.close();
    this.#mempool = null;
    await this.#exec?.close();
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
   * ids), unless known or already in a committed block. Throws like {@link submitActions}.
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
      consensus: consensusFromState(s ?? freshNodeState(this.#config.nodeId, "")),
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
    return this.#state ? await this.#exec?.result(height) ?? null : null;
  }

  /** Height of the execution call in flight (0 when none). */
  get executionInFlightHeight(): number {
    return this.#exec?.inFlightHeight ?? 0;
  }

  async #persist(): Promise<void> {
    // The result log beside the block, both before the state file (never ahead of the log).
    const sync = this.#exec ? () => this.#exec!.sync() : null;
    await this.#writer.persist(this.#state, this.#unknown, sync);
  }

  #enterHalt(err: unknown): void {
    this.#retry.halt(err);
    this.#lastError = `node halted: ${this.#retry.info!.reason}`;
    const height = this.#writer.persistedHeight;
    this.events.emit("error", { source: "consensus", height, message: this.#lastError });
  }

  #resume(): void {
    if (this.#lastError?.startsWith("node halted")) this.#lastError = null;
    this.#exec?.kick();
    if (!this.#stopping) this.#loop.start();
  }

  #stepParts(): StepParts {
    return {
      config: this.#config,
      state: this.#state,
      consensus: this.#consensus,
      writer: this.#writer,
      mempool: this.#mempool,
      lagLimit: this.#lagLimit,
      executed: () => this.#exec ? this.#state.lastExecutionHeight : this.#executedHeight?.(),
    };
  }

  async #step(): Promise<void> {
    const now = this.#clock();
    this.#tickCount++;
    this.#lastTickUnixMs = now;
    const committed = await tickStep(this.#stepParts(), now);
    if (this.#pacer.due(this.#tickCount, committed, this.#writer.dirty)) await this.#persist();
    this.#exec?.kick();
    if (committed && this.#pacer.networked) this.#loop.tickSoon(); // as an early step does
  }

  /**
   * An early step (networked nodes, between ticks, serialised with them; `runtime_step.ts`).
   * A commit brings the next tick forward (`tickSoon`): the next proposal need not wait.
   */
  async #earlyStep(): Promise<void> {
    if (!await earlyStep(this.#stepParts(), this.#clock())) return;
    await this.#persist();
    this.#exec?.kick();
    this.#loop.tickSoon();
  }
}
