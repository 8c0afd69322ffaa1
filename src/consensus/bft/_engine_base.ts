/**
 * The engine's state and plumbing, under the rules in `engine.ts`: Algorithm 1's
 * variables, message intake (shape, height routing, signatures, evidence), signing
 * through the double-sign guard, proposing, gossip relays. Pure.
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
  type EngineOutput,
  type LockProof,
  type RoundStep,
  type SignerState,
  STEP_ORDER,
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
  /** valid(v) of the paper (default: any); `decided` for a commit's block (certified). */
  readonly validPayload?: (payload: CborValue, height: number, decided: boolean) => boolean;
  /** TEST ONLY: ignore lockedValue/lockedRound when prevoting (breaks safety on purpose). */
  readonly unsafeDisableLocking?: boolean;
}

/** A proposal kept for its round, with its id and valid(v) computed once. */
export interface StoredProposal {
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
 * Base of `BftEngine` (engine.ts): state and helpers; the upon-rules live in the subclass.
 */
export abstract class EngineBase {
  protected readonly _c: BftEngineConfig;
  protected readonly _o: BftOptions;
  // Algorithm 1, lines 1-9: h_p, round_p, step_p, lockedValue_p, lockedRound_p,
  // validValue_p, validRound_p.
  protected _h: number;
  protected _round = 0;
  protected _step: RoundStep = "propose";
  protected _lockedValue: BftBlock | null = null;
  protected _lockedRound = -1;
  protected _validValue: BftBlock | null = null;
  protected _validRound = -1;
  protected _lastBlockId: string;
  protected _proposals = new Map<number, StoredProposal>();
  protected _votes = new HeightVotes();
  protected _fired = new Set<string>();
  protected _future: BftMessage[] = [];
  protected _futureCommits = new Map<number, BftMessage>();
  protected _awaitingValue = false;
  protected _gossipKey = "";
  protected _signerState: SignerState;
  protected _startRound0 = 0;
  protected readonly _pool: EvidencePool;
  protected _out: EngineOutput[] = [];

  /** @param config validator set, keys, resume point (see {@link BftEngineConfig}) */
  constructor(config: BftEngineConfig) {
    this._c = config;
    this._o = { ...defaultBftOptions, ...config.options };
    if (!Number.isSafeInteger(config.height) || config.height < 1) {
      throw new BftError("INVALID_ARGUMENT", `height must be >= 1, got ${config.height}`, {});
    }
    if (this._o.maxEvidencePerBlock > MAX_EVIDENCE_PER_BLOCK) {
      throw new BftError("INVALID_OPTIONS", "maxEvidencePerBlock is above the block limit", {});
    }
    this._h = config.height;
    this._lastBlockId = config.lastBlockId;
    this._pool = new EvidencePool(this._o.evidencePoolSize);
    const st = config.signerState ?? initialSignerState();
    this._signerState = st;
    if (st.height === this._h) {
      // Resume inside the height: keep the persisted lock (a restart must not unlock)
      // and skip the round already signed in, whose messages cannot be re-signed.
      const proof = st.lockProof;
      if (proof !== null && st.lockedRound >= 0) {
        const block = proof.proposal.proposal.block;
        this._lockedRound = this._validRound = st.lockedRound;
        this._lockedValue = this._validValue = block;
        // The proof comes back too, so gossip can show others the polka for the lock.
        this._storeProposal(
          st.lockedRound,
          block,
          proof.proposal.proposal.validRound,
          proof.proposal,
        );
        for (const sv of proof.prevotes) {
          this._votes.add(sv, this._c.validators.stakeOf(sv.vote.validator));
        }
      }
      this._startRound0 = st.step > 0 ? st.round + 1 : st.round;
    }
  }

  /** Current (height, round, step), lock and evidence count. */
  get status(): BftEngineStatus {
    return {
      height: this._h,
      round: this._round,
      step: this._step,
      lockedRound: this._lockedRound,
      lockedBlock: this._lockedValue ? blockId(this._lockedValue) : null,
      validRound: this._validRound,
      pendingEvidence: this._pool.size,
    };
  }

  protected _quorum(stake: number): boolean {
    return this._c.validators.isQuorum(stake);
  }

  protected _once(rule: number): boolean {
    return !this._fired.has(`${rule}/${this._round}`);
  }

  protected _schedule(step: RoundStep, round: number): void {
    this._out.push({
      kind: "schedule",
      timeout: { step, height: this._h, round },
      delayMs: timeoutMs(this._o.timeouts, step, round),
    });
  }

  protected _sign(round: number, step: RoundStep, bytes: Uint8Array): Uint8Array | null {
    if (this._c.self === null || this._c.signer === null) return null;
    const r = guardedSign(
      this._c.signer,
      this._signerState,
      this._h,
      round,
      STEP_ORDER[step],
      bytes,
      {
        lockedRound: this._lockedRound,
        lockProof: this._lockProof(),
      },
    );
    if (!r.ok) {
      this._out.push({ kind: "sign-refused", detail: r.reason });
      return null;
    }
    if (r.state !== this._signerState) {
      this._signerState = r.state;
      this._out.push({ kind: "persist", state: r.state });
    }
    return r.signature;
  }

  protected _lockProof(): LockProof | null {
    const p = this._proposals.get(this._lockedRound);
    if (this._lockedRound < 0 || !p || p.message.kind !== "proposal") return null;
    return {
      proposal: p.message,
      prevotes: this._votes.votesOf(this._lockedRound, "prevote", p.id),
    };
  }

  protected _vote(type: VoteType, block: string | null): void {
    if (this._c.self === null || this._c.validators.stakeOf(this._c.self) === 0) return;
    const vote: Vote = {
      type,
      height: this._h,
      round: this._round,
      block,
      validator: this._c.self,
    };
    const signature = this._sign(this._round, type, voteSignBytes(this._c.worldId, vote));
    if (!signature) return;
    this._out.push({ kind: "broadcast", message: { kind: "vote", vote, signature } });
    this._votes.add({ vote, signature }, this._c.validators.stakeOf(vote.validator));
  }

  // Gossip (the paper assumes every message of a correct process eventually arrives):
  // when stuck in a round, relay its proposal, the polka that justifies it, and its votes.
  protected _onGossip(): void {
    const key = `${this._h}/${this._round}/${this._step}`;
    if (key !== this._gossipKey) {
      this._gossipKey = key;
      return;
    }
    const p = this._proposals.get(this._round);
    if (p) {
      this._out.push({ kind: "relay", message: p.message });
      if (p.validRound >= 0) this._relayVotes(p.validRound, "prevote", p.id);
    }
    this._relayVotes(this._round, "prevote");
    this._relayVotes(this._round, "precommit");
    const valid = this._proposals.get(this._validRound);
    if (this._validRound >= 0 && this._validRound !== this._round && valid) {
      this._out.push({ kind: "relay", message: valid.message });
      this._relayVotes(this._validRound, "prevote", valid.id);
    }
  }

  protected _relayVotes(round: number, type: VoteType, block?: string): void {
    for (const sv of this._votes.votesOf(round, type, block)) {
      this._out.push({ kind: "relay", message: { kind: "vote", ...sv } });
    }
  }

  protected _propose(block: BftBlock, validRound: number): void {
    const self = this._c.self as string;
    const proposal = { height: this._h, round: this._round, block, validRound, proposer: self };
    const signature = this._sign(
      this._round,
      "propose",
      proposalSignBytes(this._c.worldId, proposal),
    );
    if (!signature) return;
    const message: BftMessage = { kind: "proposal", proposal, signature };
    this._out.push({ kind: "broadcast", message });
    this._storeProposal(this._round, block, validRound, message);
    // Proof of lock: the prevotes that made `block` valid travel with it.
    if (validRound >= 0) this._relayVotes(validRound, "prevote", blockId(block));
  }

  protected _onValue(height: number, round: number, payload: CborValue): void {
    if (!this._awaitingValue || height !== this._h || round !== this._round) return;
    if (this._step !== "propose") return;
    this._awaitingValue = false;
    const block: BftBlock = {
      height,
      parent: this._lastBlockId,
      proposer: this._c.self as string,
      payload,
      evidence: this._pool.take(this._o.maxEvidencePerBlock),
    };
    this._propose(block, -1); // line 19: broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩
  }

  // valid(v) of the paper.
  protected _valid(block: BftBlock, decided = false): boolean {
    if (block.height !== this._h || block.parent !== this._lastBlockId) return false;
    if (this._c.validators.stakeOf(block.proposer) === 0) return false;
    const keys = new Set<string>();
    for (const e of block.evidence) {
      if (checkEvidence(this._c.worldId, this._c.validators, this._c.verifier, e) !== null) {
        return false;
      }
      const v = e.a.vote;
      const key = `${v.validator}/${v.height}/${v.round}/${v.type}`;
      if (keys.has(key) || v.height > block.height) return false;
      keys.add(key);
    }
    return this._c.validPayload ? this._c.validPayload(block.payload, block.height, decided) : true;
  }

  protected _storeProposal(
    round: number,
    block: BftBlock,
    validRound: number,
    message: BftMessage,
  ): void {
    const id = blockId(block);
    this._proposals.set(round, { block, id, validRound, valid: this._valid(block), message });
    const proposer = this._c.validators.proposer(this._h, round);
    this._votes.addSender(round, proposer, this._c.validators.stakeOf(proposer));
  }

  protected _reject(code: string, detail: string): void {
    this._out.push({ kind: "rejected", code, detail });
  }

  protected _onMessage(raw: unknown): void {
    const m = parseMessage(raw);
    if (typeof m === "string") return this._reject("MALFORMED", m);
    const height = m.kind === "proposal"
      ? m.proposal.height
      : m.kind === "vote"
      ? m.vote.height
      : m.certificate.height;
    if (height < this._h) {
      const peer = m.kind === "proposal"
        ? m.proposal.proposer
        : m.kind === "vote"
        ? m.vote.validator
        : null;
      if (peer !== null && peer !== this._c.self && this._c.validators.stakeOf(peer) > 0) {
        this._out.push({ kind: "peer-behind", peer, height });
      }
      return;
    }
    if (m.kind === "commit" && height > this._h && height <= this._h + this._o.maxCommitsAhead) {
      // Catch-up commits may arrive out of order: keep one per height until it is next.
      if (!this._futureCommits.has(height)) this._futureCommits.set(height, m);
      return;
    }
    if (height === this._h + 1 && m.kind !== "commit") {
      if (this._future.length < this._o.maxFutureMessages) this._future.push(m);
      return;
    }
    if (height !== this._h) return;
    this._onParsed(m);
  }

  // A well-formed message for the current height (signatures not yet checked).
  protected _onParsed(m: BftMessage): void {
    const set = this._c.validators;
    if (m.kind === "commit") {
      const id = blockId(m.block);
      if (m.block.height !== this._h || !this._valid(m.block, true)) {
        return this._reject("BAD_COMMIT", "block");
      }
      const why = checkCertificate(
        this._c.worldId,
        set,
        this._c.verifier,
        this._h,
        id,
        m.certificate,
      );
      if (why !== null) return this._reject("BAD_COMMIT", why);
      return this._decide(m.block, id, m.certificate);
    }
    const round = m.kind === "vote" ? m.vote.round : m.proposal.round;
    if (round > this._round + this._o.maxRoundsAhead) return;
    if (m.kind === "proposal") {
      const p = m.proposal;
      if (p.height !== this._h) return;
      if (p.proposer !== set.proposer(p.height, p.round)) {
        return this._reject("WRONG_PROPOSER", p.proposer);
      }
      if (this._proposals.has(p.round)) return; // first proposal of a round wins
      if (
        !this._c.verifier.verify(p.proposer, proposalSignBytes(this._c.worldId, p), m.signature)
      ) {
        return this._reject("BAD_SIGNATURE", `proposal of ${p.proposer}`);
      }
      return this._storeProposal(p.round, p.block, p.validRound, m);
    }
    const v = m.vote;
    const stake = set.stakeOf(v.validator);
    if (v.height !== this._h) return;
    if (stake === 0) return this._reject("UNKNOWN_VALIDATOR", v.validator);
    if (!this._c.verifier.verify(v.validator, voteSignBytes(this._c.worldId, v), m.signature)) {
      return this._reject("BAD_SIGNATURE", `vote of ${v.validator}`);
    }
    const added = this._votes.add({ vote: v, signature: m.signature }, stake);
    if (added.kind === "conflict") {
      const evidence = {
        kind: "duplicate-vote" as const,
        a: added.first,
        b: { vote: v, signature: m.signature },
      };
      if (this._pool.add(evidence)) this._out.push({ kind: "evidence", evidence });
    }
  }

  /** Lines 50-54 of Algorithm 1 (in the subclass). */
  protected abstract _decide(block: BftBlock, id: string, certificate: CommitCertificate): void;
}
