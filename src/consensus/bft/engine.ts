/**
 * The Tendermint consensus algorithm (Buchman, Kwon, Milosevic, "The latest gossip on
 * BFT consensus", arXiv 1807.04938, Algorithm 1) as a pure state machine:
 * `step(input) → outputs`. No I/O, no clock, no randomness: the host delivers
 * messages, fires the timeouts the engine scheduled, answers value requests, and
 * performs the outputs in order (a "persist" before the "broadcast" that follows it).
 *
 * "2f+1" and "f+1" are stake thresholds: > 2/3 and > 1/3 of the total stake.
 * @module
 */
import { BftError } from "./errors.ts";
import { EngineBase, type StoredProposal } from "./_engine_base.ts";
import { blockId } from "./signing.ts";
import type {
  BftBlock,
  CommitCertificate,
  EngineInput,
  EngineOutput,
  TimeoutEvent,
} from "./types.ts";
import { HeightVotes } from "./votes.ts";

export type { BftEngineConfig, BftEngineStatus } from "./_engine_base.ts";

/**
 * One validator's consensus state machine.
 *
 * @example
 * ```ts
 * import { BftEngine } from "./engine.ts";
 * import { BftValidatorSet } from "./validators.ts";
 * import { simSigner, simVerifier } from "./signing.ts";
 * const set = new BftValidatorSet([{ id: "a", publicKey: "", stake: 1 }]);
 * const e = new BftEngine({ worldId: "w", validators: set, verifier: simVerifier("w"),
 *   self: "a", signer: simSigner("w", "a"), height: 1, lastBlockId: "genesis" });
 * e.step({ kind: "start" }); // [{ kind: "request-value", height: 1, round: 0, ... }, ...]
 * ```
 */
export class BftEngine extends EngineBase {
  #voting = true;

  /**
   * Stops (false) or resumes signing prevotes and precommits. A validator that stopped
   * voting still follows: it takes proposals and votes, and decides on > 2/3 of the
   * others' precommits. The host stops it when its execution diverged. A resumed
   * engine votes from its next step on (a step passed while muted is not voted again).
   */
  setVoting(on: boolean): void {
    this.#voting = on;
  }

  /** Whether the engine signs prevotes and precommits. */
  get voting(): boolean {
    return this.#voting;
  }

  protected override _vote(type: "prevote" | "precommit", block: string | null): void {
    if (this.#voting) super._vote(type, block);
  }

  /** Feeds one input; returns what the host must do, in order. */
  step(input: EngineInput): EngineOutput[] {
    this._out = [];
    switch (input.kind) {
      case "start":
        this._startRound(this._startRound0); // line 10: upon start do StartRound(0)
        break;
      case "message":
        this._onMessage(input.message);
        break;
      case "timeout":
        this._onTimeout(input.timeout);
        break;
      case "gossip":
        this._onGossip();
        break;
      case "value":
        this._onValue(input.height, input.round, input.payload);
        break;
    }
    this._evaluate();
    return this._out;
  }

  // ---- Algorithm 1 -------------------------------------------------------------------

  // Lines 11-21: Function StartRound(round).
  protected _startRound(round: number): void {
    this._round = round;
    this._step = "propose";
    this._awaitingValue = false;
    if (this._c.self !== null && this._c.validators.proposer(this._h, round) === this._c.self) {
      if (this._validValue !== null) this._propose(this._validValue, this._validRound); // 14-15
      else {
        // 16-17: proposal ← getValue(), answered by a "value" input.
        this._awaitingValue = true;
        this._out.push({
          kind: "request-value",
          height: this._h,
          round,
          evidence: this._pool.take(this._o.maxEvidencePerBlock),
        });
      }
    }
    // Line 21 schedules this only for non-proposers; the proposer schedules it too so a
    // proposal that cannot be made (value never comes, signing refused) still times out.
    this._schedule("propose", round);
  }

  protected _evaluate(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      if (this._rule49() || this._rule55()) continue;
      if (this._rule22() || this._rule28() || this._rule34()) continue;
      if (this._rule36() || this._rule44() || this._rule47() || this._ruleLatePolka()) continue;
      return;
    }
    throw new BftError("ENGINE_LOOP", "the upon-rules did not reach a fixpoint", {});
  }

  protected _lockAllows(p: StoredProposal, vr: number): boolean {
    if (this._c.unsafeDisableLocking) return true;
    return this._lockedRound <= vr ||
      (this._lockedValue !== null && blockId(this._lockedValue) === p.id);
  }

  // Line 22: upon ⟨PROPOSAL, h_p, round_p, v, −1⟩ from proposer(h_p, round_p) while step_p = propose.
  protected _rule22(): boolean {
    const p = this._proposals.get(this._round);
    if (this._step !== "propose" || !p || p.validRound !== -1) return false;
    // 23-24: prevote id(v) if valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v), else nil.
    this._vote("prevote", p.valid && this._lockAllows(p, -1) ? p.id : null);
    this._step = "prevote"; // 27
    return true;
  }

  // Line 28: upon ⟨PROPOSAL, h_p, round_p, v, vr⟩ ∧ 2f+1 ⟨PREVOTE, h_p, vr, id(v)⟩
  // while step_p = propose ∧ (vr ≥ 0 ∧ vr < round_p).
  protected _rule28(): boolean {
    const p = this._proposals.get(this._round);
    if (this._step !== "propose" || !p || p.validRound < 0 || p.validRound >= this._round) {
      return false;
    }
    if (!this._quorum(this._votes.stakeFor(p.validRound, "prevote", p.id))) return false;
    // 29-30: prevote id(v) if valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v), else nil.
    this._vote("prevote", p.valid && this._lockAllows(p, p.validRound) ? p.id : null);
    this._step = "prevote"; // 33
    return true;
  }

  // Line 34: upon 2f+1 ⟨PREVOTE, h_p, round_p, ∗⟩ while step_p = prevote for the first time.
  protected _rule34(): boolean {
    if (this._step !== "prevote" || !this._once(34)) return false;
    if (!this._quorum(this._votes.stakeAny(this._round, "prevote"))) return false;
    this._fired.add(`34/${this._round}`);
    this._schedule("prevote", this._round); // 35
    return true;
  }

  // Line 36: upon ⟨PROPOSAL, h_p, round_p, v, ∗⟩ ∧ 2f+1 ⟨PREVOTE, h_p, round_p, id(v)⟩
  // while valid(v) ∧ step_p ≥ prevote for the first time.
  protected _rule36(): boolean {
    const p = this._proposals.get(this._round);
    if (!p || !p.valid || this._step === "propose" || !this._once(36)) return false;
    if (!this._quorum(this._votes.stakeFor(this._round, "prevote", p.id))) return false;
    this._fired.add(`36/${this._round}`);
    if (this._step === "prevote") {
      this._lockedValue = p.block; // 38
      this._lockedRound = this._round; // 39
      this._vote("precommit", p.id); // 40
      this._step = "precommit"; // 41
    }
    this._validValue = p.block; // 42
    this._validRound = this._round; // 43
    return true;
  }

  // Not in Algorithm 1: a polka of an earlier round r (validRound_p < r < round_p) that
  // arrives late (gossip) updates validValue_p/validRound_p as line 42-43 would have.
  // It never touches the lock, so safety is unchanged; it lets every correct proposer
  // re-propose the most recent polka value, which a process locked on it will accept.
  protected _ruleLatePolka(): boolean {
    for (const [r, p] of this._proposals) {
      if (r <= this._validRound || r >= this._round || !p.valid) continue;
      if (!this._quorum(this._votes.stakeFor(r, "prevote", p.id))) continue;
      this._validValue = p.block;
      this._validRound = r;
      return true;
    }
    return false;
  }

  // Line 44: upon 2f+1 ⟨PREVOTE, h_p, round_p, nil⟩ while step_p = prevote.
  protected _rule44(): boolean {
    if (this._step !== "prevote") return false;
    if (!this._quorum(this._votes.stakeFor(this._round, "prevote", null))) return false;
    this._vote("precommit", null); // 45
    this._step = "precommit"; // 46
    return true;
  }

  // Line 47: upon 2f+1 ⟨PRECOMMIT, h_p, round_p, ∗⟩ for the first time.
  protected _rule47(): boolean {
    if (!this._once(47) || !this._quorum(this._votes.stakeAny(this._round, "precommit"))) {
      return false;
    }
    this._fired.add(`47/${this._round}`);
    this._schedule("precommit", this._round); // 48
    return true;
  }

  // Line 49: upon ⟨PROPOSAL, h_p, r, v, ∗⟩ ∧ 2f+1 ⟨PRECOMMIT, h_p, r, id(v)⟩ while decision_p[h_p] = nil.
  protected _rule49(): boolean {
    for (const [r, p] of this._proposals) {
      if (!p.valid || !this._quorum(this._votes.stakeFor(r, "precommit", p.id))) continue;
      const certificate: CommitCertificate = {
        height: this._h,
        round: r,
        block: p.id,
        precommits: this._votes.precommitsFor(r, p.id),
      };
      this._decide(p.block, p.id, certificate);
      return true;
    }
    return false;
  }

  // Line 55: upon f+1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p do StartRound(round).
  protected _rule55(): boolean {
    let best = -1;
    for (const r of this._votes.rounds()) {
      if (
        r > this._round && r > best && this._c.validators.isOneThird(this._votes.sendersStake(r))
      ) {
        best = r;
      }
    }
    if (best < 0) return false;
    this._startRound(best);
    return true;
  }

  // Lines 57-66: OnTimeoutPropose / OnTimeoutPrevote / OnTimeoutPrecommit.
  protected _onTimeout(t: TimeoutEvent): void {
    if (t.height !== this._h || t.round !== this._round) return;
    if (t.step === "propose" && this._step === "propose") {
      this._vote("prevote", null); // 59
      this._step = "prevote"; // 60
    } else if (t.step === "prevote" && this._step === "prevote") {
      this._vote("precommit", null); // 63
      this._step = "precommit"; // 64
    } else if (t.step === "precommit") {
      this._startRound(this._round + 1); // 67
    }
  }

  // Lines 50-54: decision_p[h_p] = v; h_p ← h_p + 1; reset; StartRound(0).
  protected override _decide(block: BftBlock, id: string, certificate: CommitCertificate): void {
    this._out.push({ kind: "commit", commit: { block, blockId: id, certificate } });
    this._pool.markCommitted(block.evidence);
    this._lastBlockId = id;
    this._h++;
    this._lockedValue = null;
    this._lockedRound = -1;
    this._validValue = null;
    this._validRound = -1;
    this._proposals = new Map();
    this._votes = new HeightVotes();
    this._fired = new Set();
    this._startRound(0);
    const future = this._future;
    this._future = [];
    for (const m of future) this._onParsed(m);
    for (const k of [...this._futureCommits.keys()]) if (k < this._h) this._futureCommits.delete(k);
    const next = this._futureCommits.get(this._h);
    if (next) {
      this._futureCommits.delete(this._h);
      this._onParsed(next);
    }
  }
}
