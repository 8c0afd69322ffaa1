/**
 * In-process p2p fixtures: a validator set with real Ed25519 keys, signed votes and
 * commit certificates, and a fake node host that records what the network hands it.
 * @module
 */
import { blockId, proposalSignBytes, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import type { BftBlock, BftMessage, SignedVote, Vote } from "../../src/consensus/bft/types.ts";
import type { BlockAction } from "../../src/consensus/types.ts";
import { makePayload } from "../../src/node/bft_block.ts";
import { ed25519Signer, generateValidatorKey, type ValidatorKey } from "../../src/net/keys.ts";
import type { P2pHost, P2pValidator } from "../../src/net/p2p.ts";
import type { SyncCommit } from "../../src/net/sync.ts";

/** A test validator set: ids v1..vn, stake 1 each. */
export interface TestSet {
  readonly world: string;
  readonly keys: ValidatorKey[];
  readonly validators: P2pValidator[];
}

/** Makes `n` validators with fresh keys. */
export async function makeSet(n: number, world = "p2p-world"): Promise<TestSet> {
  const keys: ValidatorKey[] = [];
  for (let i = 0; i < n; i++) keys.push(await generateValidatorKey());
  const validators = keys.map((k, i) => ({ id: `v${i + 1}`, publicKey: k.publicKeyHex, stake: 1 }));
  return { world, keys, validators };
}

/** A vote of validator index `i`, signed with its key. */
export function signedVote(set: TestSet, i: number, v: Omit<Vote, "validator">): BftMessage {
  const vote: Vote = { ...v, validator: set.validators[i].id };
  return {
    kind: "vote",
    vote,
    signature: ed25519Signer(set.keys[i]).sign(voteSignBytes(set.world, vote)),
  };
}

/** A proposal of validator index `i` for `block`, signed. */
export function signedProposal(set: TestSet, i: number, block: BftBlock, round = 0): BftMessage {
  const proposal = {
    height: block.height,
    round,
    block,
    validRound: -1,
    proposer: set.validators[i].id,
  };
  return {
    kind: "proposal",
    proposal,
    signature: ed25519Signer(set.keys[i]).sign(proposalSignBytes(set.world, proposal)),
  };
}

/** A chain of `n` committed blocks, each certified by every validator of `set`. */
export function makeChain(set: TestSet, n: number): SyncCommit[] {
  const out: SyncCommit[] = [];
  let parent = "genesis";
  for (let h = 1; h <= n; h++) {
    const block: BftBlock = {
      height: h,
      parent,
      proposer: set.validators[(h - 1) % set.validators.length].id,
      payload: makePayload(h, 0, 1_000 + h, []),
      evidence: [],
    };
    const id = blockId(block);
    const precommits: SignedVote[] = set.validators.map((v, i) => {
      const vote: Vote = { type: "precommit", height: h, round: 0, block: id, validator: v.id };
      return { vote, signature: ed25519Signer(set.keys[i]).sign(voteSignBytes(set.world, vote)) };
    });
    out.push({ block, certificate: { height: h, round: 0, block: id, precommits } });
    parent = id;
  }
  return out;
}

/** A host that records what it is given; `height` is the committed head it announces. */
export class FakeHost implements P2pHost {
  readonly consensus: unknown[] = [];
  readonly actions: { key: string; actions: readonly BlockAction[] }[] = [];
  chain: SyncCommit[] = [];
  height = 0;
  /** Commits received by sync advance the head (like the node committing them). */
  followCommits = false;

  receiveConsensus(message: unknown): boolean {
    this.consensus.push(message);
    const m = message as { kind?: string; block?: { height: number } };
    if (this.followCommits && m.kind === "commit" && m.block!.height === this.height + 1) {
      this.height++;
    }
    return true;
  }
  head() {
    return { height: this.height, blockHash: null, executionHeight: 0, stateRoot: null };
  }
  commitAt = (h: number): Promise<SyncCommit | null> =>
    Promise.resolve(h <= this.height ? this.chain[h - 1] ?? null : null);
  receiveActions(key: string, actions: readonly BlockAction[]): Promise<void> {
    this.actions.push({ key, actions });
    return Promise.resolve();
  }
}

/** Polls `cond` every 20 ms until true or `ms` passed; returns whether it became true. */
export async function waitFor(cond: () => boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
