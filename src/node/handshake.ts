/**
 * Start-up reconciliation between the node's persisted state and its execution
 * hook (CometBFT's handshake): decides where execution stands, or refuses to start
 * with a typed error naming both sides. Never repairs anything silently.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import type { BlockStore, CommittedBlockReader } from "./block_store.ts";
import type { NodeExecutionHook, NodeExecutionHookInfo } from "./execution_hook.ts";
import type { PosNodeState } from "./state_file.ts";

/** A node/execution state that cannot be reconciled. */
export class HandshakeError extends AwrError {}

/** Where execution stands after the handshake. */
export interface ExecutionPosition {
  height: number;
  executionBlockHash: string | null;
  executionStateRoot: string | null;
  /** Where the position came from, for the log. */
  source: "hook" | "state-file";
}

async function blockAt(
  blocks: CommittedBlockReader,
  height: number,
  what: string,
): Promise<CommittedBlock> {
  const block = await blocks.getBlock(height);
  if (!block) {
    throw new HandshakeError(
      "BLOCK_MISSING",
      `${what}: committed block ${height} is missing from the block store`,
      { height },
    );
  }
  return block;
}

/**
 * Reconciles `state` (already loaded) with `hook`. With `info()` the hook's view wins
 * (so an old state file without execution fields picks up an existing records folder);
 * without it the persisted execution fields are used.
 *
 * @example
 * ```ts
 * import { reconcileExecution } from "./handshake.ts";
 * // const pos = await reconcileExecution(state, hook, blockStore);
 * ```
 */
export async function reconcileExecution(
  state: PosNodeState,
  hook: NodeExecutionHook | null,
  blocks: CommittedBlockReader,
): Promise<ExecutionPosition> {
  const committed = state.committedHeight;
  if (hook?.info) {
    const info: NodeExecutionHookInfo = await hook.info();
    if (!Number.isSafeInteger(info.lastHeight) || info.lastHeight < 0) {
      throw new HandshakeError(
        "BAD_HOOK_INFO",
        `execution hook reported an invalid height ${info.lastHeight}`,
        { hookHeight: info.lastHeight },
      );
    }
    if (info.lastHeight > committed) {
      throw new HandshakeError(
        "EXECUTION_AHEAD",
        `execution is ahead of consensus: hook at height ${info.lastHeight} (node block ${info.lastNodeBlockHash}), ` +
          `node committed height ${committed} (block ${state.lastBlockHash})`,
        {
          hookHeight: info.lastHeight,
          hookNodeBlockHash: info.lastNodeBlockHash,
          committedHeight: committed,
          committedBlockHash: state.lastBlockHash,
        },
      );
    }
    if (info.lastHeight > 0 && info.lastNodeBlockHash !== null) {
      const block = await blockAt(blocks, info.lastHeight, "handshake");
      if (block.hash !== info.lastNodeBlockHash) {
        throw new HandshakeError(
          "BLOCK_HASH_MISMATCH",
          `execution applied a different block at height ${info.lastHeight}: hook has ${info.lastNodeBlockHash}, ` +
            `node stored ${block.hash}`,
          {
            height: info.lastHeight,
            hookNodeBlockHash: info.lastNodeBlockHash,
            storedBlockHash: block.hash,
          },
        );
      }
    }
    return {
      height: info.lastHeight,
      executionBlockHash: info.lastExecutionBlockHash,
      executionStateRoot: info.lastExecutionStateRoot,
      source: "hook",
    };
  }
  if (state.lastExecutionHeight > committed) {
    throw new HandshakeError(
      "EXECUTION_AHEAD",
      `state file says execution height ${state.lastExecutionHeight} (block ${state.lastExecutionBlockHash}) ` +
        `but committed height ${committed} (block ${state.lastBlockHash})`,
      {
        executionHeight: state.lastExecutionHeight,
        committedHeight: committed,
        committedBlockHash: state.lastBlockHash,
      },
    );
  }
  return {
    height: state.lastExecutionHeight,
    executionBlockHash: state.lastExecutionBlockHash,
    executionStateRoot: state.lastExecutionStateRoot,
    source: "state-file",
  };
}

/**
 * Checks that a loaded state file belongs to this node and world, and fills the ids
 * into a file written before they existed. A mismatch is a {@link HandshakeError}.
 *
 * @example
 * ```ts
 * import { adoptIdentity } from "./handshake.ts";
 * // adoptIdentity(state, "node-1", "world-1", statePath);
 * ```
 */
export function adoptIdentity(
  state: PosNodeState,
  nodeId: string,
  worldId: string,
  file: string,
): void {
  for (
    const [field, have, want] of [
      ["node_id", state.nodeId, nodeId],
      ["world_id", state.worldId, worldId],
    ] as const
  ) {
    if (have === "") continue; // a file from before the field existed
    if (have !== want) {
      throw new HandshakeError(
        "IDENTITY_MISMATCH",
        `${file}: field "${field}" is "${have}" but this node is configured as "${want}"`,
        { file, field, found: have, configured: want },
      );
    }
  }
  state.nodeId = nodeId;
  state.worldId = worldId;
}

/**
 * Reads the block at the committed height and checks it against the state file:
 * one read, not a scan, so start-up cost does not grow with the chain. Returns the
 * block (null at height 0) and fills `lastBlockHash` when the file lacked it.
 */
export async function checkLastBlock(
  state: PosNodeState,
  blocks: BlockStore,
  file: string,
): Promise<CommittedBlock | null> {
  const h = state.committedHeight;
  if (h === 0) return null;
  const block = await blocks.getBlock(h);
  if (!block) {
    throw new HandshakeError(
      "BLOCK_MISSING",
      `${file}: committed height ${h} but block ${h} is missing from ${blocks.dir}`,
      { committedHeight: h },
    );
  }
  if (state.lastBlockHash !== null && block.hash !== state.lastBlockHash) {
    throw new HandshakeError(
      "BLOCK_HASH_MISMATCH",
      `${file}: last_block_hash ${state.lastBlockHash} differs from stored block ${h} (${block.hash})`,
      { height: h, stateHash: state.lastBlockHash, storedHash: block.hash },
    );
  }
  state.lastBlockHash = block.hash;
  return block;
}
