/**
 * Start-up reconciliation between the node's persisted state and its execution
 * hook (CometBFT's handshake): decides where execution stands, or refuses to start
 * with a typed error naming both sides. Never repairs anything silently.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import { AwrError, errorChain } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { BlockStore, CommittedBlockReader } from "./block_store.ts";
import {
  commitContext,
  type ExecutionPosition,
  type NodeExecutionCommitResult,
  type NodeExecutionHook,
  type NodeExecutionHookInfo,
} from "./execution_hook.ts";
import type { NodeConfig } from "./config.ts";
import { ensureDirDurable, removeStaleTemps } from "../storage/atomic.ts";
import { freshNodeState, nodeDir, type PosNodeState, readNodeState } from "./state_file.ts";

/** A node/execution state that cannot be reconciled. */
export class HandshakeError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** Where execution stands after the handshake, and where that came from (for the log). */
export interface ReconciledPosition extends ExecutionPosition {
  readonly source: "hook" | "state-file";
}

/** An execution result the node recorded at `height` (the hook must reproduce it). */
export interface ExpectedExecution {
  height: number;
  executionBlockHash: string;
  executionStateRoot: string;
  /** File that recorded it (the node's state file). */
  file: string;
}

/**
 * Checks that `got` (the hook's result at `want.height`) equals what the node recorded;
 * a difference is `EXECUTION_ROOT_MISMATCH` naming both heights, hashes, roots and
 * the node's file.
 *
 * @example
 * ```ts
 * import { assertSameExecution } from "./handshake.ts";
 * assertSameExecution(
 *   { height: 3, executionBlockHash: "ab", executionStateRoot: "cd", file: "state.cbor" },
 *   { executionHeight: 3, executionBlockHash: "ab", executionStateRoot: "cd" },
 *   3,
 * ); // no error
 * ```
 */
export function assertSameExecution(
  want: ExpectedExecution,
  got: NodeExecutionCommitResult,
  hookHeight: number,
): void {
  if (
    got.executionBlockHash === want.executionBlockHash &&
    got.executionStateRoot === want.executionStateRoot
  ) return;
  throw new HandshakeError(
    "EXECUTION_ROOT_MISMATCH",
    `execution differs at height ${want.height}: node state ${want.file} (execution height ${want.height}) ` +
      `has execution block hash ${want.executionBlockHash} and state root ${want.executionStateRoot}; ` +
      `the execution driver (at height ${hookHeight}) has execution block hash ${got.executionBlockHash} ` +
      `and state root ${got.executionStateRoot}`,
    {
      height: want.height,
      file: want.file,
      nodeExecutionHeight: want.height,
      nodeExecutionBlockHash: want.executionBlockHash,
      nodeExecutionStateRoot: want.executionStateRoot,
      hookHeight,
      hookExecutionBlockHash: got.executionBlockHash,
      hookExecutionStateRoot: got.executionStateRoot,
    },
  );
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
 * When the state file has an execution result (height E), the hook must agree with it
 * at the common height (CometBFT's `assertAppHashEqualsOneFromState`): at the same
 * height the hashes are compared directly; a hook ahead is asked for height E again
 * (an applied height returns its recorded result and writes nothing, invariant 2); a
 * hook behind is replayed up to E here, before the node persists anything (CometBFT's
 * `ReplayBlocks`), so a mismatch leaves the state file as it was. A difference is a
 * {@link HandshakeError} `EXECUTION_ROOT_MISMATCH` naming both sides.
 *
 * @example
 * ```ts
 * import { reconcileExecution } from "./handshake.ts";
 * // const pos = await reconcileExecution(state, hook, blockStore, statePath);
 * ```
 */
export async function reconcileExecution(
  state: PosNodeState,
  hook: NodeExecutionHook | null,
  blocks: CommittedBlockReader,
  file = "the node state file",
  logger: Logger = silentLogger,
): Promise<ReconciledPosition> {
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
    const pos: ReconciledPosition = {
      height: info.lastHeight,
      executionBlockHash: info.lastExecutionBlockHash,
      executionStateRoot: info.lastExecutionStateRoot,
      source: "hook",
    };
    const want = nodeExecution(state, file);
    if (!want || want.height > committed) return pos;
    if (want.height === info.lastHeight) {
      assertSameExecution(want, {
        executionHeight: info.lastHeight,
        executionBlockHash: String(info.lastExecutionBlockHash),
        executionStateRoot: String(info.lastExecutionStateRoot),
      }, info.lastHeight);
    } else if (want.height < info.lastHeight) {
      const block = await blockAt(blocks, want.height, "handshake");
      let got: NodeExecutionCommitResult;
      try {
        got = await hook.onCommit(commitContext(state.worldId, state.nodeId, block));
      } catch (err) {
        // A driver that cannot answer for an applied height breaks invariant 2, but it
        // still continues correctly above its height: say so, compare nothing, go on.
        logger.warn(
          "handshake: the execution driver did not answer for an applied height; roots not compared",
          {
            height: want.height,
            hook_height: info.lastHeight,
            error: errorChain(err),
          },
        );
        return pos;
      }
      assertSameExecution(want, got, info.lastHeight);
    } else {
      let got: NodeExecutionCommitResult | null = null;
      for (let h = info.lastHeight + 1; h <= want.height; h++) {
        const block = await blockAt(blocks, h, "handshake replay");
        got = await hook.onCommit(commitContext(state.worldId, state.nodeId, block));
        if (got?.executionHeight !== h) {
          throw new HandshakeError(
            "BAD_HOOK_RESULT",
            `handshake replay: execution hook returned height ${got?.executionHeight} for height ${h}`,
            { height: h },
          );
        }
      }
      assertSameExecution(want, got!, info.lastHeight);
      return {
        height: want.height,
        executionBlockHash: got!.executionBlockHash,
        executionStateRoot: got!.executionStateRoot,
        source: "hook",
      };
    }
    return pos;
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

// The execution result the node's state file recorded, when it has one.
function nodeExecution(state: PosNodeState, file: string): ExpectedExecution | null {
  if (
    state.lastExecutionHeight === 0 || state.lastExecutionBlockHash === null ||
    state.lastExecutionStateRoot === null
  ) return null;
  return {
    height: state.lastExecutionHeight,
    executionBlockHash: state.lastExecutionBlockHash,
    executionStateRoot: state.lastExecutionStateRoot,
    file,
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
 * The state file read at start-up (a fresh state when there is none), its identity
 * checked by {@link adoptIdentity} and its genesis time set to `now` when unset.
 * `unknown` holds the file's fields this version does not know (written back as is).
 * The node folder is made durable first and a crash's stale temp files removed.
 */
export async function restoreNodeState(
  config: Pick<NodeConfig, "nodeId" | "worldId" | "dataDir" | "durable">,
  statePath: string,
  now: number,
): Promise<{ value: PosNodeState; unknown: Record<string, unknown> }> {
  const dir = nodeDir(config.dataDir, config.nodeId);
  await ensureDirDurable(dir, config.durable);
  await removeStaleTemps(dir);
  const loaded = await readNodeState(statePath);
  const value = loaded?.value ?? freshNodeState(config.nodeId, config.worldId);
  adoptIdentity(value, config.nodeId, config.worldId, statePath);
  if (value.genesisUnixMs === 0) value.genesisUnixMs = now;
  return { value, unknown: loaded?.unknown ?? {} };
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
      { height: h, dir: blocks.dir },
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
