/**
 * The invariants every simulated step is checked against: agreement, validity
 * (certificate of > 2/3 stake whose signatures verify), no honest double sign.
 * Liveness is checked on the simulator's clock ({@link livenessViolation}).
 * @module
 */
import { checkCertificate } from "../consensus/bft/checks.ts";
import { blockId, type Verifier } from "../consensus/bft/signing.ts";
import type { BftCommit, BftMessage } from "../consensus/bft/types.ts";
import type { BftValidatorSet } from "../consensus/bft/validators.ts";
import type { SimNode } from "./cast.ts";
import type { SimOptions } from "./options.ts";

/**
 * Collects what honest nodes commit and sign; each method returns a violation
 * message or null.
 *
 * @example
 * ```ts
 * // const checker = new InvariantChecker(worldId, set, verifier);
 * // checker.onCommit("v01", 1, commit) === null
 * ```
 */
export class InvariantChecker {
  /** Height → decided block id (first honest commit). */
  readonly decided = new Map<number, string>();
  readonly #signed = new Map<string, string>();
  /** Evidence entries in committed blocks (first commit of each height). */
  evidenceCommitted = 0;

  /**
   * @param worldId world id of the run
   * @param set validator set
   * @param verifier signature verifier
   */
  constructor(
    readonly worldId: string,
    readonly set: BftValidatorSet,
    readonly verifier: Verifier,
  ) {}

  /** An honest node committed `commit` as its `expectedHeight`-th block. */
  onCommit(node: string, expectedHeight: number, commit: BftCommit): string | null {
    const h = commit.block.height;
    if (h !== expectedHeight) {
      return `validity: ${node} committed height ${h}, expected ${expectedHeight}`;
    }
    const id = blockId(commit.block);
    if (id !== commit.blockId) return `validity: ${node} commit id is not the block's id at ${h}`;
    const why = checkCertificate(this.worldId, this.set, this.verifier, h, id, commit.certificate);
    if (why !== null) return `validity: ${node} height ${h}: ${why}`;
    const first = this.decided.get(h);
    if (first === undefined) {
      this.decided.set(h, id);
      this.evidenceCommitted += commit.block.evidence.length;
    } else if (first !== id) {
      return `agreement: ${node} committed ${id.slice(0, 12)} at height ${h}, ` +
        `another honest node committed ${first.slice(0, 12)}`;
    }
    return null;
  }

  /** An honest node is about to send `message` it signed. */
  onSigned(node: string, message: BftMessage): string | null {
    let key: string;
    let what: string;
    if (message.kind === "vote") {
      const v = message.vote;
      key = `${v.validator}/${v.height}/${v.round}/${v.type}`;
      what = v.block ?? "nil";
    } else if (message.kind === "proposal") {
      const p = message.proposal;
      key = `${p.proposer}/${p.height}/${p.round}/propose`;
      what = `${blockId(p.block)}/${p.validRound}`;
    } else return null;
    const before = this.#signed.get(key);
    if (before === undefined) this.#signed.set(key, what);
    else if (before !== what) {
      return `double sign: honest ${node} signed ${key} for ${what.slice(0, 12)} after ${
        before.slice(0, 12)
      }`;
    }
    return null;
  }
}

/**
 * Liveness after stabilisation: the first honest node below the target height that
 * has committed nothing for longer than `livenessBoundMs`, as a violation message,
 * or null.
 */
export function livenessViolation(
  nodes: readonly SimNode[],
  now: number,
  gst: number,
  o: Pick<SimOptions, "heights" | "livenessBoundMs">,
): string | null {
  for (const m of nodes) {
    if (m.byzantine !== null || m.blocks.length >= o.heights) continue;
    const since = Math.max(gst, m.lastCommitAt);
    if (now - since > o.livenessBoundMs) {
      return `liveness: ${m.id} committed nothing for ${now - since} ms after ` +
        `stabilisation (height ${m.blocks.length + 1}, round ${m.engine?.status.round ?? "down"})`;
    }
  }
  return null;
}
