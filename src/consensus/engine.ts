/**
 * The pure consensus engine: proposals, attestations and commits for one chain.
 * No I/O, no clock, no randomness: slot and time come in as arguments, and the
 * caller persists what a commit returns.
 * @module
 */
import { isUint } from "./_uint.ts";
import { copyBlock, makeBlock } from "./block.ts";
import { type ChainView, checkAttestation, checkProposal } from "./checks.ts";
import { ConsensusError, type ConsensusRejection, rejection } from "./errors.ts";
import {
  type ConsensusEngineOptions,
  type ConsensusOptions,
  type ConsensusResumeState,
  resolveConsensusOptions,
  resolveResumeState,
} from "./options.ts";
import { epochOf, ProposerSchedule } from "./proposer.ts";
import type { Attestation, Block, BlockAction, BlockStatus, Validator } from "./types.ts";
import type {
  AttestationResult,
  ConsensusCommit,
  PendingProposal,
  ProposalResult,
} from "./engine_results.ts";

// The engine's public surface includes its options; re-exported so callers need one import.
export {
  type ConsensusEngineOptions,
  type ConsensusOptions,
  type ConsensusResumeState,
  defaultConsensusOptions,
} from "./options.ts";
export type {
  AttestationResult,
  ConsensusCommit,
  PendingProposal,
  ProposalResult,
} from "./engine_results.ts";

interface PendingState {
  readonly block: Block;
  readonly attestations: Attestation[];
  readonly voters: Set<string>;
  attestedStake: number;
}

interface LocalPlan {
  readonly key: readonly string[];
  /** Local validators in schedule (id) order, so attestation lists are deterministic. */
  readonly ids: readonly string[];
  readonly set: ReadonlySet<string>;
  readonly stake: number;
}

function requireUint(name: string, v: number): void {
  if (!isUint(v)) {
    throw new ConsensusError(
      "INVALID_ARGUMENT",
      `${name} must be a non-negative safe integer, got ${v}`,
      { [name]: v },
    );
  }
}

/**
 * Proposes, attests and commits blocks of one chain. Never commits two blocks at one
 * height and never goes backwards: only the pending proposal can commit, and it was
 * checked against the last committed block when it was accepted.
 *
 * `status` and `lastRejection` describe the latest proposal handled (null until then).
 *
 * @example
 * ```ts
 * import { ConsensusEngine } from "./engine.ts";
 * const engine = new ConsensusEngine({ validators: [{ id: "v1", stake: 1 }] });
 * const commit = engine.commitLocally(1, 1_700_000_000_000, [], ["v1"]);
 * commit?.block.header.height; // 1
 * engine.committedHeight; // 1
 * ```
 */
export class ConsensusEngine {
  /** Resolved options (defaults filled in). */
  readonly options: Readonly<ConsensusOptions>;
  /** Proposer schedule of the validator set. */
  readonly schedule: ProposerSchedule;
  /** Smallest attested stake that commits: ceil(totalStake * numerator / denominator). */
  readonly requiredStake: number;
  #committedHeight: number;
  #lastBlockHash: string;
  #lastSlot: number;
  #pending: PendingState | null = null;
  #status: BlockStatus | null = null;
  #lastRejection: ConsensusRejection | null = null;
  #localPlan: LocalPlan | null = null;

  /**
   * @param options validators and consensus parameters (validated; throws `INVALID_*`)
   * @param resume persisted state to continue from (defaults: height 0, genesis, slot 0)
   */
  constructor(options: ConsensusEngineOptions, resume: Partial<ConsensusResumeState> = {}) {
    this.options = Object.freeze(resolveConsensusOptions(options));
    this.schedule = new ProposerSchedule(this.options.validators);
    const total = BigInt(this.schedule.totalStake);
    const num = BigInt(this.options.supermajorityNumerator);
    const den = BigInt(this.options.supermajorityDenominator);
    // Integer ceiling, so `attested >= requiredStake` ⇔ `attested * den >= total * num`.
    this.requiredStake = Number((total * num + den - 1n) / den);
    const state = resolveResumeState(resume);
    this.#committedHeight = state.committedHeight;
    this.#lastBlockHash = state.lastBlockHash;
    this.#lastSlot = state.lastSlot;
  }

  /** Height of the last committed block (0 when none). */
  get committedHeight(): number {
    return this.#committedHeight;
  }

  /** Hash of the last committed block, or {@link GENESIS_PARENT}. */
  get lastBlockHash(): string {
    return this.#lastBlockHash;
  }

  /** Slot of the last committed block (0 when none). */
  get lastSlot(): number {
    return this.#lastSlot;
  }

  /** Status of the latest proposal handled; null before the first one. */
  get status(): BlockStatus | null {
    return this.#status;
  }

  /** Why the latest refused proposal was refused (or superseded); null when none. */
  get lastRejection(): ConsensusRejection | null {
    return this.#lastRejection;
  }

  /** The proposal waiting for attestations, or null. */
  get pending(): PendingProposal | null {
    const p = this.#pending;
    if (!p) return null;
    return { block: p.block, attestations: [...p.attestations], attestedStake: p.attestedStake };
  }

  /** Sum of all validators' stakes. */
  get totalStake(): number {
    return this.schedule.totalStake;
  }

  /** Validators sorted by id. */
  get validators(): readonly Validator[] {
    return this.schedule.validators;
  }

  /** Epoch of `slot` under this engine's epoch length. */
  epochOf(slot: number): number {
    return epochOf(slot, this.options.epochLengthSlots);
  }

  /** Validator scheduled to propose at `slot`. */
  proposerFor(slot: number): string {
    return this.schedule.proposerFor(slot);
  }

  /**
   * Builds the next block as `proposerId` for `slot` and makes it the pending proposal.
   * Throws a {@link ConsensusError} when `proposerId` may not propose there:
   * `UNKNOWN_VALIDATOR`, `WRONG_PROPOSER`, `STALE_SLOT`, `INVALID_ARGUMENT`, `BAD_ACTIONS`.
   */
  propose(
    slot: number,
    timestampMs: number,
    proposerId: string,
    actions: readonly BlockAction[],
  ): Block {
    requireUint("slot", slot);
    requireUint("timestampMs", timestampMs);
    if (!this.schedule.has(proposerId)) {
      throw new ConsensusError("UNKNOWN_VALIDATOR", `proposer "${proposerId}" is not a validator`, {
        proposer: proposerId,
      });
    }
    const floor = Math.max(this.#lastSlot, this.#pending?.block.header.slot ?? 0);
    if (slot <= floor) {
      throw new ConsensusError(
        "STALE_SLOT",
        `slot ${slot} is not after slot ${floor} (last committed or pending)`,
        { slot, lastSlot: this.#lastSlot, pendingSlot: this.#pending?.block.header.slot ?? null },
      );
    }
    const scheduled = this.schedule.proposerFor(slot);
    if (scheduled !== proposerId) {
      throw new ConsensusError(
        "WRONG_PROPOSER",
        `"${proposerId}" may not propose at slot ${slot}; "${scheduled}" is scheduled`,
        { slot, proposer: proposerId, scheduled },
      );
    }
    let block: Block;
    try {
      block = makeBlock({
        height: this.#committedHeight + 1,
        slot,
        epoch: this.epochOf(slot),
        parentHash: this.#lastBlockHash,
        proposer: proposerId,
        timestampMs,
      }, [...actions]);
    } catch (err) {
      throw new ConsensusError(
        "BAD_ACTIONS",
        `actions for slot ${slot} cannot be encoded: ${err instanceof Error ? err.message : err}`,
        { slot },
        { cause: err },
      );
    }
    this.#makePending(block);
    return block;
  }

  /**
   * Takes a proposal from outside. A valid one becomes the pending proposal (status
   * Pending; a later slot replaces an older pending proposal); an invalid one sets
   * status Rejected and is returned with its reason. Never throws for bad input.
   */
  onProposal(block: Block): ProposalResult {
    const reason = checkProposal(block, this.#view());
    if (reason) {
      this.#status = "Rejected";
      this.#lastRejection = reason;
      return { status: "Rejected", reason };
    }
    const pending = this.#pending;
    if (pending && pending.block.hash === block.hash) {
      this.#status = "Pending";
      return { status: "Pending", block: pending.block, duplicate: true, superseded: null };
    }
    const copy = copyBlock(block);
    const superseded = this.#makePending(copy);
    return { status: "Pending", block: copy, duplicate: false, superseded };
  }

  /**
   * Counts a validator's attestation for the pending block. Reaching the
   * supermajority commits it: the result carries the block and its attestations for
   * the caller to persist. Duplicates are not counted twice; bad attestations are
   * returned as Rejected (they do not change `status`).
   */
  onAttestation(att: Attestation): AttestationResult {
    const reason = checkAttestation(att, this.#view());
    if (reason) return { status: "Rejected", reason };
    const p = this.#pending!;
    if (p.voters.has(att.validator)) {
      return {
        status: "Pending",
        duplicate: true,
        attestedStake: p.attestedStake,
        requiredStake: this.requiredStake,
      };
    }
    this.#count(p, att.validator);
    if (p.attestedStake >= this.requiredStake) return { status: "Committed", ...this.#commit() };
    return {
      status: "Pending",
      duplicate: false,
      attestedStake: p.attestedStake,
      requiredStake: this.requiredStake,
    };
  }

  /**
   * Local mode, where one process speaks for `localValidatorIds`: proposes for `slot`
   * as the scheduled proposer, attests with every local validator and commits.
   * Returns null, changing nothing, when the scheduled proposer is not local or the
   * local stake cannot reach the supermajority. Called every tick, so the local set
   * is prepared once and reused while the caller passes the same ids.
   */
  commitLocally(
    slot: number,
    timestampMs: number,
    actions: readonly BlockAction[],
    localValidatorIds: readonly string[],
  ): ConsensusCommit | null {
    const plan = this.#planFor(localValidatorIds);
    if (plan.stake < this.requiredStake) return null;
    const proposer = this.schedule.proposerFor(slot);
    if (!plan.set.has(proposer)) return null;
    this.propose(slot, timestampMs, proposer, actions);
    const p = this.#pending!;
    for (const id of plan.ids) this.#count(p, id);
    return this.#commit();
  }

  #view(): ChainView {
    return {
      committedHeight: this.#committedHeight,
      lastBlockHash: this.#lastBlockHash,
      lastSlot: this.#lastSlot,
      epochLengthSlots: this.options.epochLengthSlots,
      schedule: this.schedule,
      pendingBlock: this.#pending?.block ?? null,
    };
  }

  #makePending(block: Block): Block | null {
    const old = this.#pending;
    this.#pending = { block, attestations: [], voters: new Set(), attestedStake: 0 };
    this.#status = "Pending";
    if (!old) return null;
    this.#lastRejection = rejection(
      "SUPERSEDED",
      `proposal ${old.block.hash} at slot ${old.block.header.slot} was replaced by ` +
        `${block.hash} at slot ${block.header.slot}`,
      { hash: old.block.hash, slot: old.block.header.slot, by: block.hash },
    );
    return old.block;
  }

  #count(p: PendingState, validator: string): void {
    if (p.voters.has(validator)) return;
    const h = p.block.header;
    p.voters.add(validator);
    p.attestations.push({ height: h.height, slot: h.slot, blockHash: p.block.hash, validator });
    p.attestedStake += this.schedule.stakeOf(validator)!;
  }

  #commit(): ConsensusCommit {
    const p = this.#pending!;
    this.#committedHeight = p.block.header.height;
    this.#lastBlockHash = p.block.hash;
    this.#lastSlot = p.block.header.slot;
    this.#pending = null;
    this.#status = "Committed";
    return { block: p.block, attestations: p.attestations };
  }

  #planFor(ids: readonly string[]): LocalPlan {
    const cached = this.#localPlan;
    if (cached && cached.key.length === ids.length && cached.key.every((id, i) => id === ids[i])) {
      return cached;
    }
    for (const id of ids) {
      if (!this.schedule.has(id)) {
        const message = `local validator "${id}" is not a validator`;
        throw new ConsensusError("UNKNOWN_VALIDATOR", message, { validator: id });
      }
    }
    const set = new Set(ids);
    const ordered = this.schedule.validators.filter((v) => set.has(v.id));
    const plan: LocalPlan = {
      key: [...ids],
      ids: ordered.map((v) => v.id),
      set,
      stake: ordered.reduce((sum, v) => sum + v.stake, 0),
    };
    this.#localPlan = plan;
    return plan;
  }
}
