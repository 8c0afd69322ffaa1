/**
 * The cast of a simulation run: the validator set with its seeded stakes, and the
 * nodes, the lowest-staked of which are Byzantine (so their stake stays < 1/3).
 * @module
 */
import { type Signer, simPublicKey, simSigner } from "../consensus/bft/signing.ts";
import { MemorySignerStateStore } from "../consensus/bft/signer_state.ts";
import type { BftCommit } from "../consensus/bft/types.ts";
import type { BftEngine } from "../consensus/bft/engine.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import { BYZANTINE_MODES, type ByzantineMode } from "./byzantine.ts";
import type { SimOptions } from "./options.ts";
import type { Prng } from "./prng.ts";

/** One simulated validator: its keys, its "disk", and its engine while it is up. */
export interface SimNode {
  readonly id: string;
  readonly byzantine: ByzantineMode | null;
  readonly signer: Signer;
  /** Survives crashes (the node's "disk"). */
  readonly store: MemorySignerStateStore;
  readonly blocks: BftCommit[];
  engine: BftEngine | null;
  incarnation: number;
  lastCommitAt: number;
  group: number;
}

/**
 * Draws stakes and Byzantine modes from `prng` (in a fixed order, so a seed fixes
 * the cast) and builds the nodes, all down until booted.
 *
 * @example
 * ```ts ignore
 * const { set, nodes } = castValidators(options, new Prng(7), "sim-7");
 * ```
 */
export function castValidators(
  o: SimOptions,
  prng: Prng,
  worldId: string,
): { set: BftValidatorSet; nodes: SimNode[] } {
  const ids = Array.from({ length: o.nodes }, (_, i) => `v${String(i + 1).padStart(2, "0")}`);
  const stakes = ids.map(() => 1 + prng.int(3));
  const set = new BftValidatorSet(
    ids.map((id, i) => ({ id, publicKey: simPublicKey(worldId, id), stake: stakes[i] })),
  );
  // Byzantine: the lowest stakes (ties: higher id), so their stake stays < 1/3.
  const byz = new Set(
    ids.map((id, i) => ({ id, s: stakes[i] }))
      .sort((a, b) => a.s - b.s || (a.id < b.id ? 1 : -1))
      .slice(0, o.byzantine).map((x) => x.id),
  );
  const nodes: SimNode[] = [];
  for (const id of ids) {
    const node: SimNode = {
      id,
      byzantine: byz.has(id) ? (o.byzantineMode ?? prng.pick(BYZANTINE_MODES)) : null,
      signer: simSigner(worldId, id),
      store: new MemorySignerStateStore(),
      blocks: [],
      engine: null,
      incarnation: 0,
      lastCommitAt: 0,
      group: 0,
    };
    nodes.push(node);
  }
  return { set, nodes };
}
