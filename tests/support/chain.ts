/**
 * Builds a committed chain on disk the way a node would (blocks + state file),
 * for tests that need an exact starting point.
 * @module
 */
import { join } from "@std/path";
import { ConsensusEngine } from "../../src/consensus/engine.ts";
import type { BlockAction, CommittedBlock } from "../../src/consensus/types.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { nodeDir, nodeStatePath } from "../../src/node/state_file.ts";
import { writeFileAtomic } from "../../src/storage/atomic.ts";
import { encodeCanonical } from "../../src/storage/cbor.ts";

/** Commits `n` blocks for a single validator named after the node and stores them. */
export async function buildChain(
  dataDir: string,
  nodeId: string,
  n: number,
  actionsAt: (height: number) => BlockAction[] = () => [],
): Promise<CommittedBlock[]> {
  const engine = new ConsensusEngine({ validators: [{ id: nodeId, stake: 1 }] });
  const store = new BlockStore(join(nodeDir(dataDir, nodeId), "blocks"), { durable: false });
  const blocks: CommittedBlock[] = [];
  for (let slot = 1; blocks.length < n; slot++) {
    const c = engine.commitLocally(slot, 1_700_000_000_000 + slot, actionsAt(blocks.length + 1), [
      nodeId,
    ]);
    if (!c) continue;
    const block = {
      ...c.block,
      attestations: c.attestations,
      committedAtUnixMs: 1_700_000_000_000 + slot,
    };
    await store.put(block);
    blocks.push(block);
  }
  return blocks;
}

/**
 * Writes a state file the way a build from before the execution fields existed
 * would have: the consensus fields only.
 */
export async function writeLegacyState(
  dataDir: string,
  nodeId: string,
  worldId: string,
  blocks: CommittedBlock[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const last = blocks[blocks.length - 1];
  const path = nodeStatePath(dataDir, nodeId);
  await writeFileAtomic(
    path,
    encodeCanonical({
      node_id: nodeId,
      world_id: worldId,
      genesis_unix_ms: 1_700_000_000_000,
      slot: last.header.slot,
      epoch: last.header.epoch,
      latest_height: last.header.height,
      committed_height: last.header.height,
      last_committed_slot: last.header.slot,
      last_block_hash: last.hash,
      last_status: "Committed",
      ...extra,
    }),
    { durable: false },
  );
  return path;
}
