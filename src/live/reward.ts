/**
 * The reward runtime loop. Every interval it reads the node's snapshot; in node
 * mode it only reads the node's execution result log, in bridge mode it first lets the
 * legacy bridge execute. Per epoch it settles points to proposers, attesters and
 * the executor into the ledger and writes the epoch report; `latest.json` follows
 * every run.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import { AwrError, errorMessage } from "../errors.ts";
import { readRecord } from "../execution/records.ts";
import type { ExecutionMode } from "../execution/state_file.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { CommittedBlockReader } from "../node/block_store.ts";
import type { ExecutionPosition } from "../node/execution_hook.ts";
import type { NodeSnapshot } from "../node/snapshot.ts";
import type { LegacyBridge } from "./bridge.ts";
import { ledgerPath, readLedger, type RewardLedger, writeLedger } from "./ledger.ts";
import {
  type EpochReport,
  type LatestReport,
  REPORT_SCHEMA,
  type Settlement,
  writeEpochReport,
  writeLatestReport,
} from "./reports.ts";

/** Points per committed and executed block. */
export const REWARD_POINTS = { proposer: 10, attester: 1, executor: 1 } as const;

/** What the reward runtime reads from the node. */
export interface RewardSource {
  snapshot(): NodeSnapshot;
  /** Highest committed height whose state is on disk. */
  readonly durableCommittedHeight: number;
  readonly blocks: CommittedBlockReader;
  /** The node's logged result of `height` (any driver); absent in bridge mode. */
  executionResult?(
    height: number,
  ): Promise<{ executionBlockHash: string; executionStateRoot: string } | null>;
}

/** Options of {@link RewardRuntime}. */
export interface RewardRuntimeOptions {
  dataDir: string;
  nodeId: string;
  worldId: string;
  mode: ExecutionMode;
  /** Milliseconds between runs (default 500). */
  intervalMs?: number;
  logger?: Logger;
}

type ResolvedRewardOptions = Required<RewardRuntimeOptions>;

interface OpenEpoch {
  epoch: number;
  firstHeight: number;
  lastHeight: number;
  blocks: number;
  actions: number;
  lastBlockHash: string;
  lastExecutionBlockHash: string | null;
  lastExecutionStateRoot: string | null;
  settlement: Settlement;
}

function add(map: Record<string, number>, key: string, n: number): void {
  map[key] = (map[key] ?? 0) + n;
}

function sorted(map: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The reward runtime.
 *
 * @example
 * ```ts
 * import { RewardRuntime } from "./reward.ts";
 * // const reward = await RewardRuntime.open(options, node, null);
 * // reward.start(); … await reward.stop();
 * ```
 */
export class RewardRuntime {
  readonly #opts: ResolvedRewardOptions;
  readonly #source: RewardSource;
  readonly #bridge: LegacyBridge | null;
  #ledger: RewardLedger;
  #ledgerUnknown: Record<string, unknown>;
  #open: OpenEpoch | null = null;
  #nextHeight: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #lastError: string | null = null;
  #failures = 0;
  #latestError: string | null = null;

  private constructor(
    opts: ResolvedRewardOptions,
    source: RewardSource,
    bridge: LegacyBridge | null,
    ledger: { value: RewardLedger; unknown: Record<string, unknown> },
  ) {
    this.#opts = opts;
    this.#source = source;
    this.#bridge = bridge;
    this.#ledger = ledger.value;
    this.#ledgerUnknown = ledger.unknown;
    this.#nextHeight = ledger.value.settledThroughHeight + 1;
  }

  /** Opens the runtime over the persisted ledger. `bridge` only in bridge mode. */
  static async open(
    options: RewardRuntimeOptions,
    source: RewardSource,
    bridge: LegacyBridge | null,
  ): Promise<RewardRuntime> {
    if ((options.mode === "bridge") !== (bridge !== null)) {
      throw new AwrError(
        "REWARD_SETUP",
        `reward runtime: a bridge is required in bridge mode and forbidden in node mode`,
        { mode: options.mode },
      );
    }
    const ledger = await readLedger(options.dataDir);
    if (ledger.value.worldId === "") ledger.value.worldId = options.worldId;
    if (ledger.value.worldId !== options.worldId) {
      const path = ledgerPath(options.dataDir);
      throw new AwrError(
        "LEDGER_WORLD_MISMATCH",
        `${path}: field "world_id" is "${ledger.value.worldId}" but this node runs "${options.worldId}"`,
        { path, found: ledger.value.worldId, expected: options.worldId },
      );
    }
    return new RewardRuntime(
      { intervalMs: 500, logger: silentLogger, ...options } as ResolvedRewardOptions,
      source,
      bridge,
      ledger,
    );
  }

  /** Heights the legacy bridge executed (always 0 in node mode). */
  get bridgeExecutions(): number {
    return this.#bridge?.executions ?? 0;
  }

  /**
   * Why the last pass failed (an unreadable record, a failed write…), or null once a
   * pass succeeds again. Shown in `/v1/status` and `/metrics`.
   */
  get lastError(): string | null {
    return this.#lastError ?? this.#latestError;
  }

  /** Passes that failed since start (settlement or `latest.json`). */
  get failures(): number {
    return this.#failures;
  }

  /** The ledger as settled so far. */
  get ledger(): Readonly<RewardLedger> {
    return this.#ledger;
  }

  /** Where execution stands as the reward runtime sees it (bridge progress in bridge mode). */
  executionProgress(): ExecutionPosition {
    if (this.#bridge) return this.#bridge.progress;
    const c = this.#source.snapshot().consensus;
    return {
      height: c.lastExecutionHeight,
      executionBlockHash: c.lastExecutionBlockHash,
      executionStateRoot: c.lastExecutionStateRoot,
    };
  }

  /** Starts the interval loop. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops the loop after the run in progress; runs once more so reports are current. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#running) await this.#running;
    await this.runOnce();
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
        this.#schedule(this.#opts.intervalMs);
      });
    }, delay);
  }

  /** One pass: bridge (bridge mode), settlement up to the executed height, latest.json. */
  async runOnce(): Promise<void> {
    const log = this.#opts.logger;
    try {
      if (this.#bridge) await this.#bridge.catchUp(this.#source.durableCommittedHeight);
      await this.#settleThrough(this.executionProgress().height);
      if (this.#lastError !== null) log.info("reward runtime recovered", { was: this.#lastError });
      this.#lastError = null;
    } catch (err) {
      this.#failures++;
      const message = errorMessage(err);
      // Once per distinct error: the pass is retried every interval.
      if (message !== this.#lastError) log.warn("reward runtime pass failed", { error: message });
      this.#lastError = message;
    }
    try {
      await this.#writeLatest();
      if (this.#latestError !== null) log.info("reports/latest.json written again");
      this.#latestError = null;
    } catch (err) {
      this.#failures++;
      const message = `could not write reports/latest.json: ${errorMessage(err)}`;
      if (message !== this.#latestError) log.warn(message);
      this.#latestError = message;
    }
  }

  async #settleThrough(executedHeight: number): Promise<void> {
    while (this.#nextHeight <= executedHeight) {
      const h = this.#nextHeight;
      const block = await this.#source.blocks.getBlock(h);
      if (!block) {
        throw new AwrError("BLOCK_MISSING", `committed block ${h} is missing`, { height: h });
      }
      if (this.#open && block.header.epoch !== this.#open.epoch) await this.#closeEpoch();
      // The node's own result log (any driver); the bridge's records in bridge mode.
      const record = await this.#source.executionResult?.(h) ??
        await readRecord(this.#opts.dataDir, h);
      this.#account(block, record?.executionBlockHash ?? null, record?.executionStateRoot ?? null);
      this.#nextHeight = h + 1;
    }
  }

  #account(block: CommittedBlock, execHash: string | null, execRoot: string | null): void {
    const h = block.header.height;
    if (!this.#open) {
      this.#open = {
        epoch: block.header.epoch,
        firstHeight: h,
        lastHeight: h,
        blocks: 0,
        actions: 0,
        lastBlockHash: block.hash,
        lastExecutionBlockHash: null,
        lastExecutionStateRoot: null,
        settlement: { proposer: {}, attester: {}, executor: {}, total: {} },
      };
    }
    const o = this.#open;
    const s = o.settlement;
    o.lastHeight = h;
    o.blocks++;
    o.actions += block.actions.length;
    o.lastBlockHash = block.hash;
    o.lastExecutionBlockHash = execHash;
    o.lastExecutionStateRoot = execRoot;
    add(s.proposer, block.header.proposer, REWARD_POINTS.proposer);
    add(s.total, block.header.proposer, REWARD_POINTS.proposer);
    for (const a of block.attestations) {
      add(s.attester, a.validator, REWARD_POINTS.attester);
      add(s.total, a.validator, REWARD_POINTS.attester);
    }
    add(s.executor, this.#opts.nodeId, REWARD_POINTS.executor);
    add(s.total, this.#opts.nodeId, REWARD_POINTS.executor);
  }

  async #closeEpoch(): Promise<void> {
    const o = this.#open!;
    const balances = { ...this.#ledger.balances };
    for (const [k, v] of Object.entries(o.settlement.total)) add(balances, k, v);
    const report: EpochReport = {
      schema: REPORT_SCHEMA,
      kind: "awr.epoch_report",
      world_id: this.#opts.worldId,
      node_id: this.#opts.nodeId,
      execution_mode: this.#opts.mode,
      epoch: o.epoch,
      first_height: o.firstHeight,
      last_height: o.lastHeight,
      blocks: o.blocks,
      actions: o.actions,
      consensus: {
        last_block_hash: o.lastBlockHash,
        last_execution_height: o.lastHeight,
        last_execution_block_hash: o.lastExecutionBlockHash,
        last_execution_state_root: o.lastExecutionStateRoot,
      },
      settlement: {
        proposer: sorted(o.settlement.proposer),
        attester: sorted(o.settlement.attester),
        executor: sorted(o.settlement.executor),
        total: sorted(o.settlement.total),
      },
      balances_after: sorted(balances),
    };
    // Report first, then the ledger: a crash between them rewrites the same report.
    await writeEpochReport(this.#opts.dataDir, report);
    const next: RewardLedger = {
      worldId: this.#ledger.worldId,
      settledThroughHeight: o.lastHeight,
      lastSettledEpoch: o.epoch,
      balances: sorted(balances),
    };
    await writeLedger(this.#opts.dataDir, next, this.#ledgerUnknown);
    this.#ledger = next;
    this.#open = null;
  }

  async #writeLatest(): Promise<void> {
    const snap = this.#source.snapshot();
    const exec = this.executionProgress();
    const report: LatestReport = {
      schema: REPORT_SCHEMA,
      kind: "awr.latest_report",
      generated_at_unix_ms: Date.now(),
      world_id: this.#opts.worldId,
      node_id: this.#opts.nodeId,
      execution_mode: this.#opts.mode,
      consensus: {
        slot: snap.consensus.slot,
        epoch: snap.consensus.epoch,
        committed_height: snap.consensus.committedHeight,
        last_block_hash: snap.consensus.lastBlockHash,
        last_execution_height: exec.height,
        last_execution_block_hash: exec.executionBlockHash,
        last_execution_state_root: exec.executionStateRoot,
      },
      execution_lag: snap.consensus.committedHeight - exec.height,
      last_error: this.#lastError ?? snap.lastError,
      reward: {
        settled_through_height: this.#ledger.settledThroughHeight,
        last_settled_epoch: this.#ledger.lastSettledEpoch,
        balances: this.#ledger.balances,
      },
    };
    await writeLatestReport(this.#opts.dataDir, report);
  }
}
