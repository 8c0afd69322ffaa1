/**
 * The seam between the network and a {@link NodeRuntime}: what the p2p layer hands the
 * node (consensus messages, synced commits, gossiped actions) and reads from it (its
 * head, its committed blocks with their certificates for peers that sync).
 * @module
 */
import type { BftBlock } from "../consensus/bft/types.ts";
import { BFT_GENESIS_PARENT } from "../consensus/bft/types.ts";
import { bftBlockOf } from "../node/bft_block.ts";
import type { NodeRuntime } from "../node/runtime.ts";
import type { P2pHost } from "./p2p.ts";
import type { SyncCommit } from "./sync.ts";

/**
 * A {@link P2pHost} backed by a running node.
 *
 * @example
 * ```ts ignore
 * const net = await P2pNode.start({ ..., host: nodeHost(node) });
 * ```
 */
export function nodeHost(node: NodeRuntime): P2pHost {
  return {
    receiveConsensus: (m) => node.receiveConsensusMessage(m),
    head: () => {
      const c = node.snapshot().consensus;
      return {
        height: node.durableCommittedHeight,
        blockHash: c.lastBlockHash,
        executionHeight: c.lastExecutionHeight,
        stateRoot: c.lastExecutionStateRoot,
      };
    },
    commitAt: async (h: number): Promise<SyncCommit | null> => {
      if (h < 1 || h > node.durableCommittedHeight) return null;
      const block = await node.blocks.getBlock(h);
      if (!block?.certificate) return null;
      let parent = BFT_GENESIS_PARENT;
      if (h > 1) {
        const prev = await node.blocks.getBlock(h - 1);
        if (!prev) return null;
        parent = prev.certificate?.block ?? prev.hash;
      }
      const bft: BftBlock = bftBlockOf(block, parent);
      return { block: bft, certificate: block.certificate };
    },
    receiveActions: (key, actions) => node.receiveGossipedActions(key, actions),
    receiveHead: (validator, height, root) => node.observePeerClaim(validator, height, root),
  };
}
