/**
 * A fixed {@link RewardSource} for reward tests: a node snapshot at a given committed
 * and executed height, over a block store the test filled.
 * @module
 */
import type { RewardSource } from "../../src/live/reward.ts";
import type { BlockStore } from "../../src/node/block_store.ts";
import type { NodeSnapshot } from "../../src/node/snapshot.ts";

/** A source whose node `nodeId` has committed `committed` and executed `executed` heights. */
export function fixedRewardSource(
  blocks: BlockStore,
  nodeId: string,
  committed: number,
  executed: number,
  root: string | null,
): RewardSource {
  const snap: NodeSnapshot = {
    nodeId,
    worldId: "world-1",
    role: "sequencer",
    running: true,
    tickCount: committed,
    lastTickUnixMs: null,
    lastError: null,
    consensus: {
      mode: "local",
      slot: committed,
      epoch: Math.floor(committed / 32),
      latestHeight: committed,
      committedHeight: committed,
      networkCommittedHeight: committed,
      knownPeerHeads: {},
      lastStatus: "Committed",
      lastBlockHash: null,
      lastExecutionHeight: executed,
      lastExecutionBlockHash: null,
      lastExecutionStateRoot: root,
    },
  };
  return { snapshot: () => snap, durableCommittedHeight: committed, blocks };
}
