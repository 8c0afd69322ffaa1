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
import type { CborValue } from "../../storage/cbor.ts";
import { checkCertificate, checkEvidence, MAX_EVIDENCE_PER_BLOCK, parseMessage } from "./checks.ts";
import { BftError } from "./errors.ts";
import { type BftOptions, defaultBftOptions, timeoutMs } from "./options.ts";
import { guardedSign, initialSignerState } from "./signer_state.ts";
import {
  blockId,
  proposalSignBytes,
  type Signer,
  type Verifier,
  voteSignBytes,
} from "./signing.ts";
import {
  type BftBlock,
  type BftMessage,
  type CommitCertificate,
  type EngineInput,
  type EngineOutput,
  type LockProof,
  type RoundStep,
  type SignerState,
  STEP_ORDER,
  type TimeoutEvent,
  type Vote,
  type VoteType,
} from "./types.ts";
import type { BftValidatorSet } from "./validators.ts";
import { EvidencePool, HeightVotes } from "./votes.ts";

/** What the engine is built from. */
export interface BftEngineConfig {
  /** Chain/world id: part of every signed byte string. */
  readonly worldId: string;
  readonly validators: BftValidatorSet;
  readonly verifier: Verifier;
  /** This validator's id, or null for an observer that never signs. */
  readonly self: string | null;
  readonly signer: Signer | null;
  /** Height to decide next (last committed + 1). */
  readonly height: number;
  /** Id of the last committed block (parent of `height`). */
  readonly lastBlockId: string;
  /** The persisted signer state to resume from (null: nothing signed yet). */
  readonly signerState?: SignerState | null;
  readonly options?: Partial<BftOptions>;
  /** Extra validity of a payload (valid(v) of the paper); default accepts any. */
  readonly validPayload?: (payload: CborValue, height: number) => boolean;
  /** TEST ONLY: ignore lockedValue/lockedRound when prevoting (breaks safety on purpose). */
  readonly unsafeDisableLocking?: boolean;
}

interface StoredProposal {
  readonly block: BftBlock;
  readonly id: string;
  readonly validRound: number;
  /** valid(v) of the paper. */
  readonly valid: boolean;
  /** The signed message (relayed by gossip). */
  readonly message: BftMessage;
}

/** A read-only view of the engine's state (status, tests). */
export interface BftEngineStatus {
  readonly height: number;
  readonly round: number;
  readonly step: RoundStep;
  readonly lockedRound: number;
  readonly lockedBlock: string | null;
  readonly validRound: number;
  readonly pendingEvidence: number;
}

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
export class BftEngine {
  readonly #c: BftEngineConfig;
  readonly #o: BftOptions;
  // Algorithm 1, lines 1-9: h_p, round_p, step_p, lockedValue_p, lockedRound_p,
  // validValue_p, validRound_p.
  #h: number;
  #round = 0;
  #step: RoundStep = "propose";
  #lockedValue: BftBlock | null = null;
  #lockedRound = -1;
  #validValue: BftBlock | null = null;
  #validRound = -1;
  #lastBlockId: string;
  #proposals = new Map<number, StoredProposal>();
  #votes = new HeightVotes();
  #fired = new Set<string>();
  #future: BftMessage[] = [];
  #futureCommits = new Map<number, BftMessage>();
  #awaitingValue = false;
  #gossipKey = "";
  #signerState: SignerState;
  #startRound0 = 0;
  readonly #pool: EvidencePool;
  #out: EngineOutput[] = [];

  /** @param config validator set, keys, resume point (see {@link BftEngineConfig}) */
  constructor(config: BftEngineConfig) {
    this.#c = config;
    this.#o = { ...defaultBftOptions, ...config.options };
    if (!Number.isSafeInteger(config.height) || config.height < 1) {
      throw new BftError("INVALID_ARGUMENT", `height must be >= 1, got ${config.height}`, {});
    }
    if (this.#o.maxEvidencePerBlock > MAX_EVIDENCE_PER_BLOCK) {
      throw new BftError("INVALID_OPTIONS", "maxEvidencePerBlock is above the block limit", {});
    }
    this.#h = config.height;
    this.#lastBlockId = config.lastBlockId;
    this.#pool = new EvidencePool(this.#o.evidencePoolSize);
    const st = config.signerState ?? initialSignerState();
    this.#signerState = st;
    if (st.height === this.#h) {
      // Resume inside the height: keep the persisted lock (a restart must not unlock)
      // and skip the round already signed in, whose messages cannot be re-signed.
      const proof = st.lockProof;
      if (proof !== null && st.lockedRound >= 0) {
        const block = proof.proposal.proposal.block;
        this.#lockedRound = this.#validRound = st.lockedRound;
        this.#lockedValue = this.#validValue = block;
        // The proof comes back too, so gossip can show others the polka for the lock.
        this.#storeProposal(
          st.lockedRound,
          block,
          proof.proposal.proposal.validRound,
          proof.proposal,
        );
        for (const sv of proof.prevotes) {
          this.#votes.add(sv, this.#c.validators.stakeOf(sv.vote.validator));
        }
      }
      this.#startRound0 = st.step > 0 ? st.round + 1 : st.round;
    }
  }

  /** Current (height, round, step), lock and evidence count. */
  get status(): BftEngineStatus {
    return {
      height: this.#h,
      round: this.#round,
      step: this.#step,
      lockedRound: this.#lockedRound,
      lockedBlock: this.#lockedValue ? blockId(this.#lockedValue) : null,
      validRound: this.#validRound,
      pendingEvidence: this.#pool.size,
    };
  }

  /** Feeds one input; returns what the host must do, in order. */
  step(input: EngineInput): EngineOutput[] {
    this.#out = [];
    switch (input.kind) {
      case "start":
        this.#startRound(this.#startRound0); // line 10: upon start do StartRound(0)
        break;
      case "message":
        this.#onMessage(input.message);
        break;
      case "timeout":
        this.#onTimeout(input.timeout);
        break;
      case "gossip":
        this.#onGossip();
        break;
      case "value":
        this.#onValue(input.height, input.round, input.payload);
        break;
    }
    this.#evaluate();
    return this.#out;
  }

  // ---- Algorithm 1 -------------------------------------------------------------------

  // Lines 11-21: Function StartRound(round).
  #startRound(round: number): void {
    this.#round = round;
    this.#step = "propose";
    this.#awaitingValue = false;
    if (this.#c.self !== null && this.#c.validators.proposer(this.#h, round) === this.#c.self) {
      if (this.#validValue !== null) this.#propose(this.#validValue, this.#validRound); // 14-15
      else {
        // 16-17: proposal ← getValue(), answered by a "value" input.
        this.#awaitingValue = true;
        this.#out.push({
          kind: "request-value",
          height: this.#h,
          round,
          evidence: this.#pool.take(this.#o.maxEvidencePerBlock),
        });
      }
    }
    // Line 21 schedules this only for non-proposers; the proposer schedules it too so a
    // proposal that cannot be made (value never comes, signing refused) still times out.
    this.#schedule("propose", round);
  }

  #evaluate(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.#rule49() || this.#rule55()) continue;
      if (this.#rule22() || this.#rule28() || this.#rule34()) continue;
      if (this.#rule36() || this.#rule44() || this.#rule47() || this.#ruleLatePolka()) continue;
      return;
    }
    throw new BftError("ENGINE_LOOP", "the upon-rules did not reach a fixpoint", {});
  }

  #lockAllows(p: StoredProposal, vr: number): boolean {
    if (this.#c.unsafeDisableLocking) return true;
    return this.#lockedRound <= vr ||
      (this.#lockedValue !== null && blockId(this.#lockedValue) === p.id);
  }

  // Line 22: upon ⟨PROPOSAL, h_p, round_p, v, −1⟩ from proposer(h_p, round_p) while step_p = propose.
  #rule22(): boolean {
    const p = this.#proposals.get(this.#round);
    if (this.#step !== "propose" || !p || p.validRound !== -1) return false;
    // 23-24: prevote id(v) if valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v), else nil.
    this.#vote("prevote", p.valid && this.#lockAllows(p, -1) ? p.id : null);
    this.#step = "prevote"; // 27
    return true;
  }

  // Line 28: upon ⟨PROPOSAL, h_p, round_p, v, vr⟩ ∧ 2f+1 ⟨PREVOTE, h_p, vr, id(v)⟩
  // while step_p = propose ∧ (vr ≥ 0 ∧ vr < round_p).
  #rule28(): boolean {
    const p = this.#proposals.get(this.#round);
    if (this.#step !== "propose" || !p || p.validRound < 0 || p.validRound >= this.#round) {
      return false;
    }
    if (!this.#quorum(this.#votes.stakeFor(p.validRound, "prevote", p.id))) return false;
    // 29-30: prevote id(v) if valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v), else nil.
    this.#vote("prevote", p.valid && this.#lockAllows(p, p.validRound) ? p.id : null);
    this.#step = "prevote"; // 33
    return true;
  }

  // Line 34: upon 2f+1 ⟨PREVOTE, h_p, round_p, ∗⟩ while step_p = prevote for the first time.
  #rule34(): boolean {
    if (this.#step !== "prevote" || !this.#once(34)) return false;
    if (!this.#quorum(this.#votes.stakeAny(this.#round, "prevote"))) return false;
    this.#fired.add(`34/${this.#round}`);
    this.#schedule("prevote", this.#round); // 35
    return true;
  }

  // Line 36: upon ⟨PROPOSAL, h_p, round_p, v, ∗⟩ ∧ 2f+1 ⟨PREVOTE, h_p, round_p, id(v)⟩
  // while valid(v) ∧ step_p ≥ prevote for the first time.
  #rule36(): boolean {
    const p = this.#proposals.get(this.#round);
    if (!p || !p.valid || this.#step === "propose" || !this.#once(36)) return false;
    if (!this.#quorum(this.#votes.stakeFor(this.#round, "prevote", p.id))) return false;
    this.#fired.add(`36/${this.#round}`);
    if (this.#step === "prevote") {
      this.#lockedValue = p.block; // 38
      this.#lockedRound = this.#round; // 39
      this.#vote("precommit", p.id); // 40
      this.#step = "precommit"; // 41
    }
    this.#validValue = p.block; // 42
    this.#validRound = this.#round; // 43
    return true;
  }

  // Not in Algorithm 1: a polka of an earlier round r (validRound_p < r < round_p) that
  // arrives late (gossip) updates validValue_p/validRound_p as line 42-43 would have.
  // It never touches the lock, so safety is unchanged; it lets every correct proposer
  // re-propose the most recent polka value, which a process locked on it will accept.
  #ruleLatePolka(): boolean {
    for (const [r, p] of this.#proposals) {
      if (r <= this.#validRound || r >= this.#round || !p.valid) continue;
      if (!this.#quorum(this.#votes.stakeFor(r, "prevote", p.id))) continue;
      this.#validValue = p.block;
      this.#validRound = r;
      return true;
    }
    return false;
  }

  // Line 44: upon 2f+1 ⟨PREVOTE, h_p, round_p, nil⟩ while step_p = prevote.
  #rule44(): boolean {
    if (this.#step !== "prevote") return false;
    if (!this.#quorum(this.#votes.stakeFor(this.#round, "prevote", null))) return false;
    this.#vote("precommit", null); // 45
    this.#step = "precommit"; // 46
    return true;
  }

  // Line 47: upon 2f+1 ⟨PRECOMMIT, h_p, round_p, ∗⟩ for the first time.
  #rule47(): boolean {
    if (!this.#once(47) || !this.#quorum(this.#votes.stakeAny(this.#round, "precommit"))) {
      return false;
    }
    this.#fired.add(`47/${this.#round}`);
    this.#schedule("precommit", this.#round); // 48
    return true;
  }

  // Line 49: upon ⟨PROPOSAL, h_p, r, v, ∗⟩ ∧ 2f+1 ⟨PRECOMMIT, h_p, r, id(v)⟩ while decision_p[h_p] = nil.
  #rule49(): boolean {
    for (const [r, p] of this.#proposals) {
      if (!p.valid || !this.#quorum(this.#votes.stakeFor(r, "precommit", p.id))) continue;
      const certificate: CommitCertificate = {
        height: this.#h,
        round: r,
        block: p.id,
        precommits: this.#votes.precommitsFor(r, p.id),
      };
      this.#decide(p.block, p.id, certificate);
      return true;
    }
    return false;
  }

  // Line 55: upon f+1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p do StartRound(round).
  #rule55(): boolean {
    let best = -1;
    for (const r of this.#votes.rounds()) {
      if (
        r > this.#round && r > best && this.#c.validators.isOneThird(this.#votes.sendersStake(r))
      ) {
        best = r;
      }
    }
    if (best < 0) return false;
    this.#startRound(best);
    return true;
  }

  // Lines 57-66: OnTimeoutPropose / OnTimeoutPrevote / OnTimeoutPrecommit.
  #onTimeout(t: TimeoutEvent): void {
    if (t.height !== this.#h || t.round !== this.#round) return;
    if (t.step === "propose" && this.#step === "propose") {
      this.#vote("prevote", null); // 59
      this.#step = "prevote"; // 60
    } else if (t.step === "prevote" && this.#step === "prevote") {
      this.#vote("precommit", null); // 63
      this.#step = "precommit"; // 64
    } else if (t.step === "precommit") {
      this.#startRound(this.#round + 1); // 67
    }
  }

  // Lines 50-54: decision_p[h_p] = v; h_p ← h_p + 1; reset; StartRound(0).
  #decide(block: BftBlock, id: string, certificate: CommitCertificate): void {
    this.#out.push({ kind: "commit", commit: { block, blockId: id, certificate } });
    this.#pool.markCommitted(block.evidence);
    this.#lastBlockId = id;
    this.#h++;
    this.#lockedValue = null;
    this.#lockedRound = -1;
    this.#validValue = null;
    this.#validRound = -1;
    this.#proposals = new Map();
    this.#votes = new HeightVotes();
    this.#fired = new Set();
    this.#startRound(0);
    const future = this.#future;
    this.#future = [];
    for (const m of future) this.#onParsed(m);
    for (const k of [...this.#futureCommits.keys()]) if (k < this.#h) this.#futureCommits.delete(k);
    const next = this.#futureCommits.get(this.#h);
    if (next) {
      this.#futureCommits.delete(this.#h);
      this.#onParsed(next);
    }
  }

  // ---- helpers ------------------------------------------------------------------------

  #quorum(stake: number): boolean {
    return this.#c.validators.isQuorum(stake);
  }

  #once(rule: number): boolean {
    return !this.#fired.has(`${rule}/${this.#round}`);
  }

  #schedule(step: RoundStep, round: number): void {
    this.#out.push({
      kind: "schedule",
      timeout: { step, height: this.#h, round },
      delayMs: timeoutMs(this.#o.timeouts, step, round),
    });
  }

  #sign(round: number, step: RoundStep, bytes: Uint8Array): Uint8Array | null {
    if (this.#c.self === null || this.#c.signer === null) return null;
    const r = guardedSign(
      this.#c.signer,
      this.#signerState,
      this.#h,
      round,
      STEP_ORDER[step],
      bytes,
      {
        lockedRound: this.#lockedRound,
        lockProof: this.#lockProof(),
      },
    );
    if (!r.ok) {
      this.#out.push({ kind: "sign-refused", detail: r.reason });
      return null;
    }
    if (r.state !== this.#signerState) {
      this.#signerState = r.state;
      this.#out.push({ kind: "persist", state: r.state });
    }
    return r.signature;
  }

  #lockProof(): LockProof | null {
    const p = this.#proposals.get(this.#lockedRound);
    if (this.#lockedRound < 0 || !p || p.message.kind !== "proposal") return null;
    return {
      proposal: p.message,
      prevotes: this.#votes.votesOf(this.#lockedRound, "prevote", p.id),
    };
  }

  #vote(type: VoteType, block: string | null): void {
    if (this.#c.self === null || this.#c.validators.stakeOf(this.#c.self) === 0) return;
    const vote: Vote = {
      type,
      height: this.#h,
      round: this.#round,
      block,
      validator: this.#c.self,
    };
    const signature = this.#sign(this.#round, type, voteSignBytes(this.#c.worldId, vote));
    if (!signature) return;
    this.#out.push({ kind: "broadcast", message: { kind: "vote", vote, signature } });
    this.#votes.add({ vote, signature }, this.#c.validators.stakeOf(vote.validator));
  }

  // Gossip (the paper assumes every message of a correct process eventually arrives):
  // when stuck in a round, relay its proposal, the polka that justifies it, and its votes.
  #onGossip(): void {
    const key = `${this.#h}/${this.#round}/${this.#step}`;
    if (key !== this.#gossipKey) {
      this.#gossipKey = key;
      return;
    }
    const p = this.#proposals.get(this.#round);
    if (p) {
      this.#out.push({ kind: "relay", message: p.message });
      if (p.validRound >= 0) this.#relayVotes(p.validRound, "prevote", p.id);
    }
    this.#relayVotes(this.#round, "prevote");
    this.#relayVotes(this.#round, "precommit");
    const valid = this.#proposals.get(this.#validRound);
    if (this.#validRound >= 0 && this.#validRound !== this.#round && valid) {
      this.#out.push({ kind: "relay", message: valid.message });
      this.#relayVotes(this.#validRound, "prevote", valid.id);
    }
  }

  #relayVotes(round: number, type: VoteType, block?: string): void {
    for (const sv of this.#votes.votesOf(round, type, block)) {
      this.#out.push({ kind: "relay", message: { kind: "vote", ...sv } });
    }
  }

  #propose(block: BftBlock, validRound: number): void {
    const self = this.#c.self as string;
    const proposal = { height: this.#h, round: this.#round, block, validRound, proposer: self };
    const signature = this.#sign(
      this.#round,
      "propose",
      proposalSignBytes(this.#c.worldId, proposal),
    );
    if (!signature) return;
    const message: BftMessage = { kind: "proposal", proposal, signature };
    this.#out.push({ kind: "broadcast", message });
    this.#storeProposal(this.#round, block, validRound, message);
    // Proof of lock: the prevotes that made `block` valid travel with it.
    if (validRound >= 0) this.#relayVotes(validRound, "prevote", blockId(block));
  }

  #onValue(height: number, round: number, payload: CborValue): void {
    if (!this.#awaitingValue || height !== this.#h || round !== this.#round) return;
    if (this.#step !== "propose") return;
    this.#awaitingValue = false;
    const block: BftBlock = {
      height,
      parent: this.#lastBlockId,
      proposer: this.#c.self as string,
      payload,
      evidence: this.#pool.take(this.#o.maxEvidencePerBlock),
    };
    this.#propose(block, -1); // line 19: broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩
  }

  // valid(v) of the paper.
  #valid(block: BftBlock): boolean {
    if (block.height !== this.#h || block.parent !== this.#lastBlockId) return false;
    if (this.#c.validators.stakeOf(block.proposer) === 0) return false;
    const keys = new Set<string>();
    for (const e of block.evidence) {
      if (checkEvidence(this.#c.worldId, this.#c.validators, this.#c.verifier, e) !== null) {
        return false;
      }
      const v = e.a.vote;
      const key = `${v.validator}/${v.height}/${v.round}/${v.type}`;
      if (keys.has(key) || v.height > block.height) return false;
      keys.add(key);
    }
    return this.#c.validPayload ? this.#c.validPayload(block.payload, block.height) : true;
  }

  #storeProposal(round: number, block: BftBlock, validRound: number, message: BftMessage): void {
    const id = blockId(block);
    this.#proposals.set(round, { block, id, validRound, valid: this.#valid(block), message });
    const proposer = this.#c.validators.proposer(this.#h, round);
    this.#votes.addSender(round, proposer, this.#c.validators.stakeOf(proposer));
  }

  #reject(code: string, detail: string): void {
    this.#out.push({ kind: "rejected", code, detail });
  }

  #onMessage(raw: unknown): void {
    const m = parseMessage(raw);
    if (typeof m === "string") return this.#reject("MALFORMED", m);
    const height = m.kind === "proposal"
      ? m.proposal.height
      : m.kind === "vote"
      ? m.vote.height
      : m.certificate.height;
    if (height < this.#h) {
      const peer = m.kind === "proposal"
        ? m.proposal.proposer
        : m.kind === "vote"
        ? m.vote.validator
        : null;
      if (peer !== null && peer !== this.#c.self && this.#c.validators.stakeOf(peer) > 0) {
        this.#out.push({ kind: "peer-behind", peer, height });
      }
      return;
    }
    if (m.kind === "commit" && height > this.#h && height <= this.#h + this.#o.maxCommitsAhead) {
      // Catch-up commits may arrive out of order: keep one per height until it is next.
      if (!this.#futureCommits.has(height)) this.#futureCommits.set(height, m);
      return;
    }
    if (height === this.#h + 1 && m.kind !== "commit") {
      if (this.#future.length < this.#o.maxFutureMessages) this.#future.push(m);
      return;
    }
    if (height !== this.#h) return;
    this.#onParsed(m);
  }

  // A well-formed message for the current height (signatures not yet checked).
  #onParsed(m: BftMessage): void {
    const set = this.#c.validators;
    if (m.kind === "commit") {
      const id = blockId(m.block);
      if (m.block.height !== this.#h || !this.#valid(m.block)) {
        return this.#reject("BAD_COMMIT", "block");
      }
      const why = checkCertificate(
        this.#c.worldId,
        set,
        this.#c.verifier,
        this.#h,
        id,
        m.certificate,
      );
      if (why !== null) return this.#reject("BAD_COMMIT", why);
      return this.#decide(m.block, id, m.certificate);
    }
    const round = m.kind === "vote" ? m.vote.round : m.proposal.round;
    if (round > this.#round + this.#o.maxRoundsAhead) return;
    if (m.kind === "proposal") {
      const p = m.proposal;
      if (p.height !== this.#h) return;
      if (p.proposer !== set.proposer(p.height, p.round)) {
        return this.#reject("WRONG_PROPOSER", p.proposer);
      }
      if (this.#proposals.has(p.round)) return; // first proposal of a round wins
      if (
        !this.#c.verifier.verify(p.proposer, proposalSignBytes(this.#c.worldId, p), m.signature)
      ) {
        return this.#reject("BAD_SIGNATURE", `proposal of ${p.proposer}`);
      }
      return this.#storeProposal(p.round, p.block, p.validRound, m);
    }
    const v = m.vote;
    const stake = set.stakeOf(v.validator);
    if (v.height !== this.#h) return;
    if (stake === 0) return this.#reject("UNKNOWN_VALIDATOR", v.validator);
    if (!this.#c.verifier.verify(v.validator, voteSignBytes(this.#c.worldId, v), m.signature)) {
      return this.#reject("BAD_SIGNATURE", `vote of ${v.validator}`);
    }
    const added = this.#votes.add({ vote: v, signature: m.signature }, stake);
    if (added.kind === "conflict") {
      const evidence = {
        kind: "duplicate-vote" as const,
        a: added.first,
        b: { vote: v, signature: m.signature },
      };
      if (this.#pool.add(evidence)) this.#out.push({ kind: "evidence", evidence });
    }
  }
}
