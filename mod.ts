/**
 * Agent World Runtime (`awr`): public API. Running this module as the main module
 * runs the command line (`deno run -A mod.ts --help`, or the compiled binary).
 * @module
 */
export { AWR_VERSION } from "./src/version.ts";
export {
  AwrError,
  ERROR_CODES,
  ERROR_REGISTRY,
  type ErrorCode,
  type ErrorFields,
  errorJson,
  hasCode,
  isErrorCode,
} from "./src/errors.ts";
export type { Logger, LogLevel } from "./src/logger.ts";
export { consoleLogger, silentLogger } from "./src/logger.ts";
export { decodeCbor, encodeCanonical } from "./src/storage/cbor.ts";
export { HASH_NAME, hashCanonical, hashHex } from "./src/storage/hash.ts";
export { writeFileAtomic } from "./src/storage/atomic.ts";
export { CasStore } from "./src/storage/cas.ts";
export { decodeFile, encodeFile, type FileSchema, SnapshotError } from "./src/storage/schema.ts";
export type {
  Attestation,
  Block,
  BlockAction,
  BlockHeader,
  CommittedBlock,
  Validator,
} from "./src/consensus/types.ts";
export { ConsensusEngine } from "./src/consensus/engine.ts";
export { BlockStore, type CommittedBlockReader } from "./src/node/block_store.ts";
export type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
  NodeExecutionHookInfo,
} from "./src/node/execution_hook.ts";
export { defaultNodeOptions, type NodeConfig, type NodeConfigInput } from "./src/node/config.ts";
export { HandshakeError } from "./src/node/handshake.ts";
export { NodeRuntime, type NodeRuntimeDeps } from "./src/node/runtime.ts";
export {
  type ExecutionResultEntry,
  ExecutionResultLog,
  RESULT_LOG_SEGMENT_HEIGHTS,
} from "./src/node/result_log.ts";
export { type ResultLogReport, verifyResultLog } from "./src/node/result_verify.ts";
export type { NodeConsensusSnapshot, NodeSnapshot } from "./src/node/snapshot.ts";
export { snapshotToJson } from "./src/node/snapshot.ts";
export { POS_NODE_STATE_SCHEMA, type PosNodeState } from "./src/node/state_file.ts";
export {
  createExecutionHook,
  type DriverExecutionHook,
  type ExecutionHookOptions,
} from "./src/driver/create_hook.ts";
export { listDrivers, loadDriver } from "./src/driver/loader.ts";
export {
  DRIVER_API_VERSION,
  DRIVER_CAPABILITIES,
  type DriverCapability,
  type DriverHost,
  type DriverJournalPage,
  type DriverPlugin,
} from "./src/driver/plugin.ts";
export { ExecutionCore, type ExecutionCoreOptions } from "./src/execution/core.ts";
export { verifyRecords } from "./src/execution/verify.ts";
export { parseAction, type WorldAction } from "./src/world/actions.ts";
export { World } from "./src/world/world.ts";
export { LegacyBridge } from "./src/live/bridge.ts";
export {
  defaultLiveOptions,
  type LiveNode,
  type LiveOptions,
  startLiveNode,
} from "./src/live/live.ts";
export { runCli } from "./src/cli/main.ts";

import { runCli } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
