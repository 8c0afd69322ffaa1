/**
 * The consensus side of one node step, apart from `NodeRuntime`'s bookkeeping: a
 * tick advances the slot and runs the local engines (proposing the mempool's next
 * actions when allowed); an early step (networked nodes, between ticks) only hands
 * the inbox to the engines. Both store a decided block through the commit writer
 * under the same durability rules (see `local_start.ts`).
 * @module
 */
import { epochOf } from "../consensus/proposer.ts";
import { ownClaim } from "./agreement_node.ts";
import { makePayload } from "./bft_block.ts";
import type { CommitWriter } from "./commit_writer.ts";
import type { NodeConfig } from "./config.ts";
import type { LagLimit } from "./lag_limit.ts";
import type { LocalConsensus } from "./local_consensus.ts";
import { tickLocal } from "./local_start.ts";
import type { Mempool } from "./mempool.ts";
import type { PosNodeState } from "./state_file.ts";

/** What a step works on (the runtime's current parts). */
export interface StepParts {
  readonly config: NodeConfig;
  readonly state: PosNodeState;
  readonly consensus: LocalConsensus | null;
  readonly writer: CommitWriter;
  readonly mempool: Mempool | null;
  /** The execution lag bound (it logs and emits each change). */
  readonly lagLimit: LagLimit;
  /** The executed height the bound is measured against; null/undefined: not known. */
  executed(): number | null | undefined;
}

/**
 * One tick at clock `now`: the slot and epoch advance (never behind the clock), the
 * engines run, a sequencer proposes when the lag bound allows. True when a block was
 * decided and stored.
 */
export async function tickStep(p: StepParts, now: number): Promise<boolean> {
  const s = p.state;
  const clockSlot = Math.floor((now - s.genesisUnixMs) / p.config.tickIntervalMs) + 1;
  const slot = Math.max(s.slot + 1, clockSlot);
  s.slot = slot;
  s.epoch = epochOf(slot, p.config.epochLengthSlots);
  if (!p.consensus) return false;
  const executed = p.executed();
  const lagOk = executed === null || executed === undefined ||
    p.lagLimit.allows(s.committedHeight, executed);
  const proposing = p.config.role === "sequencer" && lagOk;
  const max = p.config.maxActionsPerBlock;
  const consensus = p.consensus;
  const committed = await tickLocal(consensus, p.writer, {
    now,
    parentHash: s.lastBlockHash,
    // Above the slot of the block it extends (a peer's proposal may have run ahead of
    // this node's ticks): validators refuse a slot that does not grow.
    value: proposing
      ? () => {
        const at = Math.max(slot, consensus.lastSlot + 1);
        s.slot = Math.max(s.slot, at);
        s.epoch = epochOf(s.slot, p.config.epochLengthSlots);
        const epoch = epochOf(at, p.config.epochLengthSlots);
        return makePayload(at, epoch, now, p.mempool?.peek(max) ?? [], ownClaim(s));
      }
      : null,
  });
  if (proposing || committed) s.lastStatus = committed ? "Committed" : "Pending";
  return committed;
}

/**
 * An early step at clock `now` (between ticks): the engines handle the inbox and
 * perform their outputs; nothing is proposed and no timeout fires. True when a block
 * was decided and stored.
 */
export async function earlyStep(p: StepParts, now: number): Promise<boolean> {
  if (!p.consensus) return false;
  const committed = await tickLocal(p.consensus, p.writer, {
    now,
    parentHash: p.state.lastBlockHash,
    value: null,
  });
  if (committed) p.state.lastStatus = "Committed";
  return committed;
}

/**
 * Least time between two state file writes of a networked node (ms), for changes of
 * execution and, since a commit is on disk with its block file (`commit_writer.ts`), of
 * commits: each write holds the loop, and the votes waiting in its inbox, for two fsyncs.
 */
export const DIRTY_STATE_GAP_MS = 100;

/**
 * Whether tick `tick` writes a state changed since the last write (which was at tick
 * `lastTick`). A local node writes at once. A networked node writes at most every
 * {@link DIRTY_STATE_GAP_MS} worth of ticks; the file may then name a lower committed
 * height than its block files (the restart adopts those blocks) and a lower execution
 * height than the hook has (the start-up handshake asks a hook ahead for it again).
 */
export function dirtyWriteDue(
  tick: number,
  lastTick: number,
  tickIntervalMs: number,
  o: { readonly networked?: boolean },
): boolean {
  if (!o.networked) return true;
  return tick - lastTick >= Math.ceil(DIRTY_STATE_GAP_MS / tickIntervalMs);
}

/**
 * Which ticks persist: one that committed (a networked node's commit writes its block
 * only, see `commit_writer.ts`), one with a state changed since the last write when
 * {@link dirtyWriteDue}, and every 64th.
 *
 * @example
 * ```ts
 * import { StateWritePacer } from "./runtime_step.ts";
 * const pacer = new StateWritePacer(5, true);
 * pacer.due(1, false, true); // false: a networked node waits 100 ms worth of ticks
 * ```
 */
export class StateWritePacer {
  #lastDirtyTick = 0;

  /**
   * @param tickIntervalMs the node's tick
   * @param networked whether the node runs in a network (see {@link dirtyWriteDue})
   */
  constructor(readonly tickIntervalMs: number, readonly networked: boolean) {}

  /** Whether tick `tick` persists (`dirty`: the state changed since the last state write). */
  due(tick: number, committed: boolean, dirty: boolean): boolean {
    const dirtyDue = dirty &&
      dirtyWriteDue(tick, this.#lastDirtyTick, this.tickIntervalMs, { networked: this.networked });
    if (dirtyDue) this.#lastDirtyTick = tick;
    return committed || dirtyDue || tick % 64 === 0;
  }
}
