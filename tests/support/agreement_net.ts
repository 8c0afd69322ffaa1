/**
 * A deterministic in-process network of BFT validators, each with its own execution
 * (a state root per height) and its own execution agreement check, wired as the node
 * wires them: proposals carry the proposer's latest claim, received proposals feed
 * the check, a divergence stops the engine's votes. Messages are
 * delivered FIFO to every other validator; timeouts fire on a simulated clock.
 * @module
 */
import { BftEngine } from "../../src/consensus/bft/engine.ts";
import { simSigner, simVerifier } from "../../src/consensus/bft/signing.ts";
import type { BftCommit, EngineInput, TimeoutEvent } from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { type Divergence, ExecutionAgreement } from "../../src/node/agreement.ts";
import { claimOfMessage } from "../../src/node/agreement_node.ts";
import { makePayload, parsePayload } from "../../src/node/bft_block.ts";
import { hashCanonical } from "../../src/storage/hash.ts";

/** One validator of the network. */
export interface NetNode {
  readonly id: string;
  readonly engine: BftEngine;
  readonly agreement: ExecutionAgreement;
  readonly commits: BftCommit[];
  readonly roots: Map<number, string>;
  executed: number;
  /** Committed height when this node found its own divergence. */
  divergedAt: number | null;
  /** Committed height when each other validator was first listed diverged. */
  readonly markedAt: Map<string, number>;
  /** Prevotes/precommits this node signed after it found its divergence. */
  votesAfterDivergence: number;
}

/** Options of {@link runAgreementNet}. */
export interface AgreementNetOptions {
  readonly ids: readonly string[];
  /** Validators whose execution roots differ (each its own way)... */
  readonly diverging: readonly string[];
  /** ...from this height on. */
  readonly fromHeight: number;
  /** Heights a node executes behind its committed height. */
  readonly lag: number;
  /** Run until every node committed this height. */
  readonly untilHeight: number;
}

const W = "world-agree";

/** The state root validator `id` computes at `height`. */
export function rootOf(o: AgreementNetOptions, id: string, height: number): string {
  const bad = o.diverging.includes(id) && height >= o.fromHeight;
  return hashCanonical(bad ? ["diverged-root", id, height] : ["root", height]);
}

/** Runs the network; returns its nodes. Throws when it does not get there (bounded). */
export function runAgreementNet(o: AgreementNetOptions): NetNode[] {
  const set = new BftValidatorSet(o.ids.map((id) => ({ id, publicKey: "", stake: 1 })));
  const verifier = simVerifier(W);
  const nodes: NetNode[] = o.ids.map((id) => ({
    id,
    engine: new BftEngine({
      worldId: W,
      validators: set,
      verifier,
      self: id,
      signer: simSigner(W, id),
      height: 1,
      lastBlockId: "genesis",
      validPayload: (p) => parsePayload(p) !== null,
    }),
    agreement: new ExecutionAgreement({
      validators: o.ids.map((v) => ({ id: v, stake: 1 })),
      localValidators: [id],
    }),
    commits: [],
    roots: new Map(),
    executed: 0,
    divergedAt: null,
    markedAt: new Map(),
    votesAfterDivergence: 0,
  }));
  let now = 0;
  const queue: { to: number; input: EngineInput }[] = [];
  let timers: { due: number; to: number; timeout: TimeoutEvent }[] = [];

  const found = (n: NetNode, d: Divergence | null) => {
    if (d && n.divergedAt === null) {
      n.divergedAt = n.commits.length;
      n.engine.setVoting(false);
    }
    for (const v of n.agreement.snapshot().divergedValidators) {
      if (!n.markedAt.has(v.validator)) n.markedAt.set(v.validator, n.commits.length);
    }
  };

  const step = (i: number, input: EngineInput) => {
    const n = nodes[i];
    if (input.kind === "message") {
      const c = claimOfMessage(input.message, W, set, verifier);
      if (c) found(n, n.agreement.claim(c.validator, c.claim, now));
    }
    for (const out of n.engine.step(input)) {
      switch (out.kind) {
        case "broadcast":
        case "relay":
          if (
            out.kind === "broadcast" && out.message.kind === "vote" && n.divergedAt !== null
          ) n.votesAfterDivergence++;
          for (let j = 0; j < nodes.length; j++) {
            if (j !== i) queue.push({ to: j, input: { kind: "message", message: out.message } });
          }
          break;
        case "schedule":
          timers.push({ due: now + out.delayMs, to: i, timeout: out.timeout });
          break;
        case "request-value": {
          const claim = n.executed > 0
            ? { height: n.executed, stateRoot: n.roots.get(n.executed)! }
            : null;
          const payload = makePayload(out.height, 0, now, [], claim);
          queue.push({
            to: i,
            input: { kind: "value", height: out.height, round: out.round, payload },
          });
          break;
        }
        case "commit": {
          n.commits.push(out.commit);
          while (n.executed < n.commits.length - o.lag) {
            const h = ++n.executed;
            n.roots.set(h, rootOf(o, n.id, h));
            found(n, n.agreement.executed(h, n.roots.get(h)!, now));
          }
          break;
        }
        default:
          break;
      }
    }
  };

  for (let i = 0; i < nodes.length; i++) step(i, { kind: "start" });
  for (let guard = 0; guard < 1_000_000; guard++) {
    if (nodes.every((n) => n.commits.length >= o.untilHeight)) return nodes;
    const next = queue.shift();
    if (next) {
      step(next.to, next.input);
      continue;
    }
    if (timers.length === 0) break;
    now = Math.min(...timers.map((t) => t.due));
    const due = timers.filter((t) => t.due <= now);
    timers = timers.filter((t) => t.due > now);
    for (const t of due) step(t.to, { kind: "timeout", timeout: t.timeout });
  }
  throw new Error(
    `network stopped at heights ${nodes.map((n) => n.commits.length)} (wanted ${o.untilHeight})`,
  );
}
