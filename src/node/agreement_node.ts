/**
 * The node's side of execution agreement ({@link ExecutionAgreement}): it feeds the
 * claims of incoming proposals, of peers' authenticated status, and the node's own
 * execution results, to the check; on this node's divergence it logs one ERROR, emits
 * an `error` event (code `EXECUTION_DIVERGED`) and calls the node back, which stops
 * its engines from voting. Records are left as they are, for inspection.
 *
 * Only claims their validator signed count. A committed block's header names a
 * proposer, but nothing makes a fresh value name its real builder (the engine checks
 * only that it is a validator), so a Byzantine proposer could put a false claim in
 * another validator's name into a block; a fresh proposal (valid round −1) whose block
 * names its signer as builder cannot be forged that way.
 * @module
 */
import { parseMessage } from "../consensus/bft/checks.ts";
import { proposalSignBytes, type Verifier } from "../consensus/bft/signing.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import type { Logger } from "../logger.ts";
import { type AgreementSnapshot, type Divergence, ExecutionAgreement } from "./agreement.ts";
import {
  type ExecutionClaim,
  MAX_CLAIM_ROOT_CHARS,
  parsePayload,
  payloadClaim,
} from "./bft_block.ts";
import type { NodeConfig } from "./config.ts";
import type { NodeEvents } from "./events.ts";

/** The claim a node proposes: its latest executed height and root, or null before any. */
export function ownClaim(
  s: { lastExecutionHeight: number; lastExecutionStateRoot: string | null },
): ExecutionClaim | null {
  if (s.lastExecutionHeight < 1 || s.lastExecutionStateRoot === null) return null;
  return { height: s.lastExecutionHeight, stateRoot: s.lastExecutionStateRoot };
}

/**
 * The claim of a message when it is a proposal its proposer signed of a block that
 * proposer built (valid round -1, block proposer = signer, the round's proposer), with
 * a claim; else null. Anything else (votes, relayed re-proposals, forgeries) is left
 * to the engine.
 */
export function claimOfMessage(
  message: unknown,
  worldId: string,
  set: BftValidatorSet,
  verifier: Verifier,
): { validator: string; claim: ExecutionClaim } | null {
  if (message === null || typeof message !== "object") return null;
  if ((message as { kind?: unknown }).kind !== "proposal") return null;
  const m = parseMessage(message);
  if (typeof m === "string" || m.kind !== "proposal") return null;
  const p = m.proposal;
  if (p.validRound !== -1 || p.block.proposer !== p.proposer) return null;
  if (set.stakeOf(p.proposer) === 0 || set.proposer(p.height, p.round) !== p.proposer) return null;
  const payload = parsePayload(p.block.payload);
  const claim = payload ? payloadClaim(payload) : null;
  if (!claim) return null;
  if (!verifier.verify(p.proposer, proposalSignBytes(worldId, p), m.signature)) return null;
  return { validator: p.proposer, claim };
}

/** What {@link NodeAgreement} needs. */
export interface NodeAgreementDeps {
  readonly verifier: Verifier;
  readonly log: Logger;
  readonly events: NodeEvents;
  readonly clock: () => number;
  /** Called once, when this node's divergence is found (with the one-line message). */
  readonly onDiverged: (d: Divergence, message: string) => void;
  /** Bounds (defaults in `agreement.ts`). */
  readonly maxPendingClaims?: number;
  readonly maxOwnRoots?: number;
}

/**
 * Execution agreement wired to the node.
 *
 * @example
 * ```ts ignore
 * const agreement = new NodeAgreement(config, { verifier, log, events, clock, onDiverged });
 * agreement.observeMessage(message); // each consensus message from outside
 * agreement.executed(height, stateRoot); // each execution result
 * ```
 */
export class NodeAgreement {
  readonly #check: ExecutionAgreement;
  readonly #deps: NodeAgreementDeps;
  readonly #worldId: string;
  readonly #set: BftValidatorSet;

  /** @param config the node's options (validators, local validators, world id) */
  constructor(config: NodeConfig, deps: NodeAgreementDeps) {
    this.#deps = deps;
    this.#worldId = config.worldId;
    this.#set = new BftValidatorSet(
      config.validators.map((v) => ({ id: v.id, publicKey: "", stake: v.stake })),
    );
    this.#check = new ExecutionAgreement({
      validators: config.validators,
      localValidators: config.localValidators ?? config.validators.map((v) => v.id),
      maxPendingClaims: deps.maxPendingClaims,
      maxOwnRoots: deps.maxOwnRoots,
    });
  }

  /** Whether this node diverged (then its engines must not vote). */
  get diverged(): boolean {
    return this.#check.divergence !== null;
  }

  /** Findings and counters. */
  snapshot(): AgreementSnapshot {
    return this.#check.snapshot();
  }

  /** A consensus message from outside: the claim of a signed proposal. */
  observeMessage(message: unknown): void {
    const c = claimOfMessage(message, this.#worldId, this.#set, this.#deps.verifier);
    if (c) this.#found(this.#check.claim(c.validator, c.claim, this.#deps.clock()));
  }

  /** A claim learnt another way (a peer's authenticated status). */
  observeClaim(validator: string, claim: ExecutionClaim): void {
    if (!Number.isSafeInteger(claim.height) || claim.height < 1) return;
    const root = claim.stateRoot;
    if (typeof root !== "string" || root.length === 0 || root.length > MAX_CLAIM_ROOT_CHARS) return;
    this.#found(this.#check.claim(validator, claim, this.#deps.clock()));
  }

  /** This node executed `height` with `root` (null roots are not compared). */
  executed(height: number, root: string | null): void {
    if (height < 1 || root === null) return;
    this.#found(this.#check.executed(height, root, this.#deps.clock()));
  }

  #found(d: Divergence | null): void {
    if (!d) return;
    const message = `execution diverged at height ${d.height}: own state root ${d.ownRoot}, ` +
      `network root ${d.networkRoot} (claimed by ${d.claimant}); this node stops voting`;
    this.#deps.log.error("execution diverged; this node stops voting (records kept)", {
      height: d.height,
      own_root: d.ownRoot,
      network_root: d.networkRoot,
      claimant: d.claimant,
    });
    this.#deps.events.emit("error", {
      source: "execution",
      height: d.height,
      message,
      code: "EXECUTION_DIVERGED",
    });
    this.#deps.onDiverged(d, message);
  }
}
