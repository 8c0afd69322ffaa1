/**
 * Local mode in the node: at start-up, the decided block a crash may have left above
 * the committed height and the local validators' engines opened from their signer
 * states; at each tick, the engines' step and the staging of a decided block.
 * @module
 */
import { checkCertificate } from "../consensus/bft/checks.ts";
import { blockId } from "../consensus/bft/signing.ts";
import { BFT_GENESIS_PARENT, type BftMessage } from "../consensus/bft/types.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import type { BftOptions } from "../consensus/bft/options.ts";
import { type CommittedBlock, GENESIS_PARENT } from "../consensus/types.ts";
import { bftBlockOf, committedFromBft } from "./bft_block.ts";
import type { CommitWriter } from "./commit_writer.ts";
import type { CborValue } from "../storage/cbor.ts";
import type { BlockStore } from "./block_store.ts";
import type { NodeConfig } from "./config.ts";
import { type CrashPoint, LocalConsensus, type LocalKeys } from "./local_consensus.ts";
import type { Logger } from "../logger.ts";
import { checkLastBlock } from "./handshake.ts";
import { FileSignerStateStore } from "./signer_state_file.ts";
import type { PosNodeState } from "./state_file.ts";

/** The BFT id of the committed tip: its certificate's block, else (pre-BFT chain) its hash. */
function tipId(state: PosNodeState, last: CommittedBlock | null): string {
  return last?.certificate?.block ?? state.lastBlockHash ?? BFT_GENESIS_PARENT;
}

/**
 * Most decided blocks adopted above the state file's height at one start. A networked
 * node writes its state file at most every `DIRTY_STATE_GAP_MS` (a few blocks behind);
 * past the bound the node starts from the last adopted block, and a networked one
 * fetches the rest from its peers (blocks above are overwritten by identical commits).
 */
export const MAX_ADOPTED_AT_START = 10_000;

/**
 * The newest committed block at start-up: the state file's last block (checked by
 * {@link checkLastBlock}), or the last of the decided blocks above it
 * ({@link decidedAbove}, each in turn, at most `maxAdopted`), each logged and handed to
 * `adopt` (to stage and persist; it moves `state` to that block) before the next is
 * read. Null at height 0.
 */
export async function lastBlockAtStart(
  config: NodeConfig,
  state: PosNodeState,
  blocks: BlockStore,
  statePath: string,
  how: {
    keys: LocalKeys;
    log: Logger;
    adopt: (decided: CommittedBlock) => Promise<void>;
    maxAdopted?: number;
  },
): Promise<CommittedBlock | null> {
  let last = await checkLastBlock(state, blocks, statePath);
  const max = how.maxAdopted ?? MAX_ADOPTED_AT_START;
  for (let adopted = 0; adopted < max; adopted++) {
    const decided = await decidedAbove(config, state, blocks, last, how.keys);
    if (!decided) return last;
    how.log.info("adopting the decided block found above the committed height", {
      height: decided.header.height,
    });
    await how.adopt(decided);
    last = decided;
  }
  if (await decidedAbove(config, state, blocks, last, how.keys)) {
    how.log.warn("more decided blocks above the committed height than one start adopts", {
      adopted: max,
      height: state.committedHeight,
    });
  }
  return last;
}

/**
 * The block file one above the committed height when its certificate proves its
 * decision (parent, BFT id and > 2/3 of valid precommits), else null. Such a file is a
 * crash after the block write and before the state write (a networked node writes its
 * state file only every so often, so there may be several): the local signers may have
 * signed it without their state reaching disk, so the node adopts it rather than
 * signing that height again. Anything else there is overwritten by the next commit.
 *
 * @example
 * ```ts ignore
 * const decided = await decidedAbove(config, state, blocks, last, keys);
 * ```
 */
export async function decidedAbove(
  config: NodeConfig,
  state: PosNodeState,
  blocks: BlockStore,
  last: CommittedBlock | null,
  keys: LocalKeys,
): Promise<CommittedBlock | null> {
  const next = await blocks.getBlock(state.committedHeight + 1).catch(() => null);
  if (!next?.certificate || next.header.parentHash !== (state.lastBlockHash ?? GENESIS_PARENT)) {
    return null;
  }
  const set = new BftValidatorSet(
    config.validators.map((v) => ({ id: v.id, publicKey: "", stake: v.stake })),
  );
  const id = blockId(bftBlockOf(next, tipId(state, last)));
  const why = checkCertificate(
    config.worldId,
    set,
    keys.verifier,
    next.header.height,
    id,
    next.certificate,
  );
  return why === null ? next : null;
}

/**
 * Opens one engine per local validator at the height above the committed tip, each
 * from its signer state file `<data>/node/<validator>/signer_state.cbor`.
 */
export async function openLocalConsensus(
  config: NodeConfig,
  state: PosNodeState,
  last: CommittedBlock | null,
  deps: {
    keys: LocalKeys;
    crashPoint?: (point: CrashPoint) => void;
    options?: Partial<BftOptions>;
    onBroadcast?: (message: BftMessage) => void;
    now: number;
    /** A networked node: signer saves flush on the loop's thread (`storage/flush.ts`). */
    networked?: boolean;
  },
): Promise<LocalConsensus> {
  return await LocalConsensus.open({
    worldId: config.worldId,
    validators: config.validators,
    localValidators: config.localValidators ?? config.validators.map((v) => v.id),
    height: state.committedHeight + 1,
    lastBlockId: tipId(state, last),
    lastSlot: state.lastCommittedSlot,
    store: (id) =>
      new FileSignerStateStore(config.dataDir, id, config.durable, undefined, deps.networked),
    keys: deps.keys,
    crashPoint: deps.crashPoint,
    options: deps.options,
    onBroadcast: deps.onBroadcast,
  }, deps.now);
}

/**
 * One tick of the local engines (`value` null = not proposing now). A decided block is
 * staged with the signer-state writes to run beside its block file; without one the
 * signer states are flushed now. True when a block was staged.
 *
 * Why beside is safe: the state file that declares the block committed is written only
 * after both. A crash before it leaves the signer state (the restart keeps its lock and
 * decides the same block in a later round), or a block file whose certificate proves
 * the decision ({@link decidedAbove} adopts it: nothing at that height is signed
 * again), or both. The mempool is trimmed once all is on disk.
 */
export async function tickLocal(
  consensus: LocalConsensus,
  writer: CommitWriter,
  t: {
    now: number;
    parentHash: string | null;
    value: ((height: number, round: number, proposer: string) => CborValue) | null;
  },
): Promise<boolean> {
  const commit = await consensus.tick(t.now, t.value);
  if (!commit) {
    await consensus.flush();
    return false;
  }
  const block = committedFromBft(commit, t.parentHash, t.now);
  writer.stage(block, block.header.slot, () => consensus.flush());
  return true;
}
