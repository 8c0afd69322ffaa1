/**
 * Execution agreement: every proposal carries its proposer's latest (execution height,
 * state root) — its *claim* (`bft_block.ts`) — and each node compares the claims it
 * sees with its own root once it has executed that height. CometBFT checks the app
 * hash of the next header before voting; here execution runs behind consensus
 * (DESIGN invariant 6), so a claim for a height not executed yet waits (bounded) and
 * is checked when the node gets there.
 *
 * A claim that differs from this node's root at that height means its claimant
 * *disagrees* with this node. Who diverged:
 * - the claimant is one of this node's own validators (its own earlier claim, e.g.
 *   before a restart with a changed driver): this node;
 * - validators holding more than 1/3 of the stake disagree with this node: this node
 *   (BFT assumes less than 1/3 faulty, so an honest node never sees that);
 * - otherwise the claimant, which the node lists in its peer view.
 * A divergence is kept (in memory) until the process restarts. Pure: no I/O; the
 * caller passes the time.
 * @module
 */
import type { Validator } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import type { ExecutionClaim } from "./bft_block.ts";

/** Default of {@link AgreementOptions.maxPendingClaims}. */
export const DEFAULT_MAX_PENDING_CLAIMS = 256;
/** Default of {@link AgreementOptions.maxOwnRoots}. */
export const DEFAULT_MAX_OWN_ROOTS = 256;

/** What {@link ExecutionAgreement} is built from. */
export interface AgreementOptions {
  /** The validator set (claims of unknown or zero-stake ids are ignored). */
  readonly validators: readonly Validator[];
  /** Validators this node signs for: their claims are this node's own. */
  readonly localValidators: readonly string[];
  /**
   * Claims for heights not executed yet that wait; when full, a claim for a lower
   * height replaces the highest one, others are dropped.
   */
  readonly maxPendingClaims?: number;
  /** This node's most recent state roots kept to check claims against (by height). */
  readonly maxOwnRoots?: number;
}

/** This node's divergence: its own root differs from the network's. */
export interface Divergence {
  readonly height: number;
  readonly ownRoot: string;
  readonly networkRoot: string;
  /** The validator whose claim showed it (one of this node's own for its earlier claim). */
  readonly claimant: string;
  readonly sinceUnixMs: number;
}

/** A validator whose claim differs from this node's root. */
export interface ValidatorDivergence {
  readonly validator: string;
  readonly height: number;
  readonly ownRoot: string;
  readonly theirRoot: string;
  readonly sinceUnixMs: number;
}

/** Counters and findings of the agreement check. */
export interface AgreementSnapshot {
  /** Null while this node agrees with the network. */
  readonly divergence: Divergence | null;
  /** Validators that diverged from this node (empty while this node itself diverged). */
  readonly divergedValidators: readonly ValidatorDivergence[];
  /** Claims compared with this node's own root. */
  readonly checkedClaims: number;
  /** Claims waiting for this node to execute their height. */
  readonly pendingClaims: number;
  /** Claims dropped unchecked (pending bound reached, or older than the roots kept). */
  readonly droppedClaims: number;
}

interface Pending {
  readonly validator: string;
  readonly height: number;
  readonly root: string;
}

/**
 * The node's execution agreement check.
 *
 * @example
 * ```ts
 * import { ExecutionAgreement } from "./agreement.ts";
 * const a = new ExecutionAgreement({
 *   validators: [{ id: "a", stake: 1 }, { id: "b", stake: 1 }, { id: "c", stake: 1 }],
 *   localValidators: ["a"],
 * });
 * a.claim("b", { height: 1, stateRoot: "r1" }, 0); // waits: height 1 not executed here
 * a.executed(1, "r1", 0); // null: agrees
 * ```
 */
export class ExecutionAgreement {
  readonly #stake = new Map<string, number>();
  readonly #totalStake: number;
  readonly #local: ReadonlySet<string>;
  readonly #maxPending: number;
  readonly #maxRoots: number;
  /** Own roots by height, ascending (oldest evicted first). */
  readonly #ownRoots = new Map<number, string>();
  #executed = 0;
  readonly #pending = new Map<string, Pending>();
  readonly #disagree = new Map<string, ValidatorDivergence>();
  #divergence: Divergence | null = null;
  #checked = 0;
  #dropped = 0;

  /** @param o the validator set, this node's validators and the bounds */
  constructor(o: AgreementOptions) {
    let total = 0;
    for (const v of o.validators) {
      this.#stake.set(v.id, v.stake);
      total += v.stake;
    }
    this.#totalStake = total;
    this.#local = new Set(o.localValidators);
    this.#maxPending = o.maxPendingClaims ?? DEFAULT_MAX_PENDING_CLAIMS;
    this.#maxRoots = o.maxOwnRoots ?? DEFAULT_MAX_OWN_ROOTS;
    for (
      const [name, n] of [["maxPendingClaims", this.#maxPending], [
        "maxOwnRoots",
        this.#maxRoots,
      ]] as const
    ) {
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new AwrError("INVALID_OPTION", `option ${name} must be an integer >= 1, got ${n}`, {
          option: name,
        });
      }
    }
  }

  /** This node's divergence, or null. */
  get divergence(): Divergence | null {
    return this.#divergence;
  }

  /** The findings and counters. */
  snapshot(): AgreementSnapshot {
    return {
      divergence: this.#divergence,
      divergedValidators: this.#divergence
        ? []
        : [...this.#disagree.values()].sort((a, b) => a.validator < b.validator ? -1 : 1),
      checkedClaims: this.#checked,
      pendingClaims: this.#pending.size,
      droppedClaims: this.#dropped,
    };
  }

  /**
   * A claim by `validator` (from a committed block or a verified proposal). Checked
   * now when this node has executed its height, else kept until it has. Returns this
   * node's divergence when this claim revealed it (once), else null.
   */
  claim(validator: string, c: ExecutionClaim, nowUnixMs: number): Divergence | null {
    if ((this.#stake.get(validator) ?? 0) <= 0) return null;
    if (c.height > this.#executed) {
      const key = `${c.height}/${validator}`;
      if (this.#pending.has(key)) return null;
      if (this.#pending.size >= this.#maxPending && !this.#evictAbove(c.height)) {
        this.#dropped++;
        return null;
      }
      this.#pending.set(key, { validator, height: c.height, root: c.stateRoot });
      return null;
    }
    const own = this.#ownRoots.get(c.height);
    if (own === undefined) {
      this.#dropped++; // older than the roots kept
      return null;
    }
    return this.#compare(validator, c.height, c.stateRoot, own, nowUnixMs);
  }

  /**
   * This node executed `height` with state root `root` (heights ascending). Checks the
   * claims that waited for it; returns this node's divergence when revealed, else null.
   */
  executed(height: number, root: string, nowUnixMs: number): Divergence | null {
    if (height < this.#executed) return null;
    this.#executed = height;
    this.#ownRoots.delete(height);
    this.#ownRoots.set(height, root);
    while (this.#ownRoots.size > this.#maxRoots) {
      this.#ownRoots.delete(this.#ownRoots.keys().next().value!);
    }
    let found: Divergence | null = null;
    for (const [key, p] of this.#pending) {
      if (p.height > height) continue;
      this.#pending.delete(key);
      const own = this.#ownRoots.get(p.height);
      if (own === undefined) {
        this.#dropped++; // a height this node's driver reported only as part of a later one
        continue;
      }
      found ??= this.#compare(p.validator, p.height, p.root, own, nowUnixMs);
    }
    return found;
  }

  // Full: the claim for the highest height (checked last, or a far-future one a faulty
  // validator sent) makes room for a lower one. False when none is higher.
  #evictAbove(height: number): boolean {
    let top: [string, Pending] | null = null;
    for (const e of this.#pending) if (!top || e[1].height > top[1].height) top = e;
    if (!top || top[1].height <= height) return false;
    this.#pending.delete(top[0]);
    this.#dropped++;
    return true;
  }

  #compare(
    validator: string,
    height: number,
    theirs: string,
    own: string,
    now: number,
  ): Divergence | null {
    this.#checked++;
    if (theirs === own) return null;
    if (!this.#local.has(validator)) {
      if (!this.#disagree.has(validator)) {
        this.#disagree.set(validator, {
          validator,
          height,
          ownRoot: own,
          theirRoot: theirs,
          sinceUnixMs: now,
        });
      }
      let against = 0;
      for (const id of this.#disagree.keys()) against += this.#stake.get(id) ?? 0;
      if (3 * against <= this.#totalStake) return null; // the claimant diverged, not us
    }
    if (this.#divergence) return null;
    this.#divergence = {
      height,
      ownRoot: own,
      networkRoot: theirs,
      claimant: validator,
      sinceUnixMs: now,
    };
    return this.#divergence;
  }
}
