/**
 * Every machine-readable error code the runtime raises or answers, with the typed
 * fields of its `context`: `AwrError` takes its types from here, and callers (HTTP and
 * CLI clients too) switch on these. A new code is one line in {@link ERROR_REGISTRY};
 * `tests/unit/error_codes_test.ts` checks each is used in `src/`.
 * @module
 */

import { type CodeSpec, type Hash, LOWER_LAYER_CODES, spec } from "./error_codes_lower.ts";

export type { CodeSpec, NoFields } from "./error_codes_lower.ts";

/**
 * Every error code with its meaning and the fields of its context, by area (the
 * storage, consensus and world codes are in `error_codes_lower.ts`).
 */
export const ERROR_REGISTRY = {
  ...LOWER_LAYER_CODES,
  // node: runtime, block store, handshake, mempool, result log
  NODE_ALREADY_RUNNING: spec("start() was called on a running node"),
  NODE_NOT_RUNNING: spec("the node is not running"),
  NODE_HALTED: spec<{ cause_code: string; since_unix_ms: number; retries: number }>(
    "the node stopped committing after a write failure",
  ),
  INVALID_OPTION: spec<{ option: string }>("a node option or flag value is out of range"),
  BLOCK_MISSING: spec<{ height: number; dir?: string; target?: number }>(
    "a committed block is not in the block store",
  ),
  BLOCK_FILE_INCONSISTENT: spec<
    { path: string; height: number; storedHash?: Hash; computedHash?: Hash }
  >("a block file does not match its height or hash"),
  BFT_PAYLOAD_INVALID: spec<{ height: number }>("a BFT block payload does not decode"),
  WRITE_FAILED: spec<{ what: string; osCode: string }>(
    "a block or state file write failed (`osCode`: ENOSPC…)",
  ),
  COMMIT_WRITE_PENDING: spec<{ height: number }>("a commit was queued before the last was written"),
  BLOCK_HASH_MISMATCH: spec<
    {
      height: number;
      hookNodeBlockHash?: Hash | null;
      storedBlockHash?: Hash;
      stateHash?: Hash | null;
      storedHash?: Hash;
    }
  >("a stored block's hash differs from the one the state or hook holds"),
  EXECUTION_AHEAD: spec<
    {
      committedHeight: number;
      committedBlockHash: Hash | null;
      hookHeight?: number;
      hookNodeBlockHash?: Hash | null;
      executionHeight?: number;
    }
  >("execution claims a height consensus has not committed"),
  EXECUTION_ROOT_MISMATCH: spec<
    {
      height: number;
      file: string;
      nodeExecutionHeight?: number;
      nodeExecutionBlockHash?: Hash;
      nodeExecutionStateRoot?: Hash;
      hookHeight?: number;
      hookExecutionBlockHash?: Hash;
      hookExecutionStateRoot?: Hash;
      field?: string;
      state?: Hash;
      record?: Hash;
    }
  >("the execution state and the stored result disagree"),
  BAD_HOOK_INFO: spec<{ hookHeight: unknown }>("the execution hook's info() is malformed"),
  BAD_HOOK_RESULT: spec<{ height: number; executionHeight?: unknown }>(
    "the execution hook returned a malformed result",
  ),
  IDENTITY_MISMATCH: spec<{ file: string; field: string; found: unknown; configured: unknown }>(
    "the data dir belongs to another world or node",
  ),
  MEMPOOL_BAD_KEY: spec<{ length?: number }>("an idempotency key has a bad length"),
  MEMPOOL_FULL: spec<{ size: number; limit: number; batch: number }>("the mempool is full"),
  MEMPOOL_BATCH_TOO_LARGE: spec<{ bytes?: number; maxFrameBytes?: number }>(
    "a batch is larger than a mempool log frame",
  ),
  IDEMPOTENCY_KEY_REUSED: spec<{ key: string }>("an idempotency key came with other actions"),
  MEMPOOL_TRIM: spec<{ height?: number; count?: number; waiting?: number }>(
    "a block carries more actions than wait",
  ),
  MEMPOOL_IO: spec<{ path?: string }>("the mempool log cannot be written"),
  MEMPOOL_LOG_MISMATCH: spec<{ path: string; height?: number; committed_height?: number }>(
    "the mempool log does not fit the committed chain",
  ),
  MEMPOOL_LOG_RECORD: spec<{ path: string; frame: number }>("a mempool log record is malformed"),
  MEMPOOL_LOG_TOO_LARGE: spec<{ path: string; bytes: number }>("the mempool log is too large"),
  RESULT_LOG_FIELD: spec<{ height: number; field?: string }>("a result log entry is malformed"),
  // execution: core, records, state, tree, manifest
  CORE_CLOSED: spec("the execution core is closed"),
  BAD_HEIGHT: spec<{ height?: number }>("a height is not a positive integer"),
  BAD_OPTION: spec<{ option?: string }>("an execution option is out of range"),
  WORLD_MISMATCH: spec<{ found?: unknown; expected?: string; where?: string; manifestRef?: Hash }>(
    "stored data belongs to another world",
  ),
  CONFLICTING_BLOCK: spec<{ height: number; recorded: Hash; committed: Hash }>(
    "a record was made for another block at this height",
  ),
  RECORD_DIVERGED: spec<{ height: number; recorded: Hash; computed: Hash; file?: string }>(
    "re-execution gives another result than the record",
  ),
  RECORD_MISSING: spec<{ height: number; file?: string }>("an execution record is missing"),
  RECORD_UNREADABLE: spec<{ height: number; file: string; prevFile?: string }>(
    "an execution record does not decode",
  ),
  RECORD_CORRUPT: spec<{ height: number; file: string; recorded: Hash; computed: Hash }>(
    "an execution record's hash does not match its content",
  ),
  RECORD_CHAIN_BROKEN: spec<{ height: number; recorded: Hash; expected: Hash | null }>(
    "a record does not link to the previous one",
  ),
  STATE_INVALID: spec<
    { height?: number; last?: number; manifest?: Hash | null; manifestRef?: Hash }
  >(
    "the execution state is inconsistent",
  ),
  BLOB_UNREADABLE: spec<{ where: string }>("a manifest blob does not decode"),
  BLOB_KIND: spec<{ where: string }>("a blob is of another kind than expected"),
  BLOB_FIELD: spec<{ where: string; field: string }>("a manifest field is wrong"),
  BLOB_SCHEMA: spec<{ where: string; schema?: unknown }>("a blob has an unknown schema"),
  TREE_FANOUT: spec<{ fanout?: number }>("a state tree fanout is out of range"),
  TREE_INDEX: spec<{ index: number; chunkCount: number }>(
    "a state tree update names a chunk outside the tree",
  ),
  TREE_SHAPE: spec<
    {
      root: Hash;
      depth?: number;
      chunkCount?: number;
      fanout?: number;
      found?: number;
      expected?: number;
    }
  >("a state tree has the wrong shape"),
  TREE_NODE_INVALID: spec<{ where: string; level: number; position: number; want: number }>(
    "a state tree node is malformed",
  ),
  // drivers: loader, sandbox, host, worker
  PLUGINS_DIR_MISSING: spec<{ dir: string }>("the plugins folder does not exist"),
  PLUGIN_TOO_MANY: spec<PluginFields>("the plugins folder holds too many files"),
  PLUGIN_UNREADABLE: spec<PluginFields>("a plugin file cannot be read"),
  PLUGIN_OUTSIDE_FOLDER: spec<PluginFields>("a plugin file resolves outside its folder"),
  PLUGIN_IMPORT_FAILED: spec<PluginFields>("a plugin file does not import"),
  PLUGIN_NO_DEFAULT_EXPORT: spec<PluginFields>("a plugin file has no default export"),
  PLUGIN_BAD_SHAPE: spec<PluginFields>("a plugin's default export is not a driver"),
  PLUGIN_API_VERSION: spec<PluginFields>("a plugin targets another API version"),
  PLUGIN_DUPLICATE_NAME: spec<PluginFields>("two plugin files declare one driver name"),
  PLUGIN_TREE_TOO_BIG: spec<{ dir: string }>("a plugin folder is too large to sandbox"),
  BAD_DRIVER_ALLOW: spec<{ count?: number; value?: string }>("a --driver-allow value is wrong"),
  SANDBOX_UNAVAILABLE: spec<{ flag: string }>("the Deno runtime cannot sandbox drivers"),
  DRIVER_NOT_FOUND: spec<{ name: string; problems?: readonly string[]; file?: string }>(
    "no driver has this name",
  ),
  DRIVER_BAD_SHAPE: spec<{ driver: string; file: string }>("a driver factory returned no driver"),
  DRIVER_CREATE_FAILED: spec<{ driver: string; file: string }>("a driver factory threw"),
  DRIVER_BAD_INFO: spec<{ driver: string }>("a driver's info() is malformed"),
  DRIVER_BAD_RESULT: spec<{ driver: string; height: number; executionHeight?: unknown }>(
    "a driver's commit result is malformed",
  ),
  DRIVER_BAD_REQUEST: spec<{ driver: string; op: string }>("the driver worker got a bad request"),
  DRIVER_NOT_STARTED: spec("the driver worker was not started"),
  DRIVER_STARTED: spec("the driver worker was started twice"),
  DRIVER_NOT_RUNNING: spec<{ driver?: string }>("the driver worker is not running"),
  DRIVER_CLOSED: spec("the driver was closed"),
  DRIVER_CRASHED: spec<{ driver: string }>("the driver worker died"),
  DRIVER_TIMEOUT: spec<{ driver?: string; op?: string; budgetMs?: number }>(
    "a driver call took longer than its budget",
  ),
  DRIVER_ERROR: spec<{ driver: string; errorName?: string; driverCode?: string }>(
    "a driver threw an error whose code is not in this registry (`driverCode`)",
  ),
  NOT_PROVIDED_BY_DRIVER: spec<{ driver: string; capability: string }>(
    "the driver does not provide this capability",
  ),
  // live: HTTP API and server, token, rewards, legacy bridge
  HTTP_OPTIONS: spec<{ [option: string]: unknown }>("an HTTP server option is out of range"),
  HTTP_LISTEN: spec<{ hostname: string; port: number }>("the HTTP port cannot be bound"),
  HTTP_VERSION: spec<{ status: number }>("the request is not HTTP/1.x"),
  HTTP_BAD_REQUEST_LINE: spec<{ status: number }>("the request line is malformed"),
  HTTP_BAD_TARGET: spec<{ status: number }>("the request target is malformed"),
  HTTP_BAD_HEADER: spec<{ status: number }>("a request header is malformed"),
  HTTP_NO_HOST: spec<{ status: number }>("the request has no Host header"),
  HTTP_TRANSFER_CODING: spec<{ status: number }>("an unsupported Transfer-Encoding"),
  HTTP_BAD_FRAMING: spec<{ status: number }>("both Content-Length and chunked framing"),
  HTTP_BAD_CONTENT_LENGTH: spec<{ status: number }>("a malformed Content-Length"),
  HTTP_HEADER_TOO_LARGE: spec<{ status: number }>("the request head is too large"),
  HTTP_BAD_REQUEST: spec("the request cannot be served"),
  HTTP_TOO_MANY_CONNECTIONS: spec("the server holds its maximum of connections"),
  HTTP_BAD_CHUNK: spec("the chunked request body is malformed"),
  HTTP_BODY_TIMEOUT: spec("the request body came too slowly"),
  HTTP_BODY_TOO_LARGE: spec<{ status?: number }>("the request body is too large"),
  HTTP_CLIENT_GONE: spec<{ missing_bytes: number | "chunked" }>("the client closed mid-body"),
  HTTP_HOST_REFUSED: spec("the Host header is not a loopback name"),
  HTTP_NOT_FOUND: spec<{ height?: number }>("no such route or height"),
  HTTP_METHOD_NOT_ALLOWED: spec<{ allow: string }>("the route does not take this method"),
  HTTP_UNAUTHORIZED: spec("a missing or wrong bearer token"),
  HTTP_BAD_IDEMPOTENCY_KEY: spec("a malformed Idempotency-Key header"),
  HTTP_BAD_ACTION_ID: spec("a malformed action id"),
  HTTP_BAD_AGENT_ID: spec("a malformed agent id"),
  HTTP_BAD_HEIGHT: spec("a malformed height in the path"),
  HTTP_BAD_QUERY: spec<{ param: string; min: number; max: number }>(
    "a query parameter is out of range",
  ),
  HTTP_BAD_JSON: spec("the request body is not the expected JSON"),
  HTTP_BAD_ACTIONS: spec("the actions field is not a list"),
  HTTP_TOO_MANY_ACTIONS: spec("more actions in one request than allowed"),
  HTTP_SSE_FULL: spec("the event stream has its maximum of clients"),
  HTTP_INTERNAL: spec("an unexpected server failure"),
  ACTION_UNKNOWN: spec<{ id: string }>("no action has this id"),
  AGENT_UNKNOWN: spec<{ id: string }>("no agent has this id"),
  TOKEN_READ: spec<{ path: string }>("the API token file cannot be read"),
  TOKEN_MALFORMED: spec<{ path: string }>("the API token file is malformed"),
  TOKEN_MODE: spec<{ path: string; mode: string }>("the API token file is readable by others"),
  REWARD_SETUP: spec<{ mode: string }>("the reward runtime's mode and bridge disagree"),
  LEDGER_WORLD_MISMATCH: spec<{ path: string; found: string; expected: string }>(
    "the reward ledger belongs to another world",
  ),
  // cli and sim
  CLI: spec("a command failed; the message says why"),
  SIM_OPTION: spec<{ option: string }>("a simulator option is out of range"),
  // std: the serial queue
  SERIAL_QUEUE_FULL: spec<{ queue: string; pending: number; maxWaiting: number }>(
    "a serial queue already holds its most waiting calls",
  ),
  SERIAL_QUEUE_OPTIONS: spec<{ field: string; value: unknown }>(
    "a serial queue option is out of range",
  ),
  // live: the legacy bridge
  BRIDGE_BLOCK_MISSING: spec<{ height: number }>("a committed block the bridge needs is missing"),
  BRIDGE_EXECUTION_FAILED: spec<{ height: number }>(
    "the bridge driver failed a height without an error code",
  ),
  // net: validator keys, the p2p host, the local cluster
  KEY_GENERATE: spec<{ pkcs8Length: number; publicLength: number }>(
    "WebCrypto returned an unexpected Ed25519 key",
  ),
  KEY_MALFORMED: spec<{ path: string }>("a validator key file does not hold a valid key"),
  KEY_MODE: spec<{ path: string; mode: string }>(
    "a validator key file is readable by group or others",
  ),
  KEY_READ: spec<{ path: string }>("a validator key file cannot be read or created"),
  KEY_NOT_LOCAL: spec<{ validator: string }>("this node holds no key of the named validator"),
  P2P_NEEDS_GENESIS: spec<{ option: string }>("--listen/--peers were given without --genesis"),
  P2P_OPTION: spec<{ option: string }>("a p2p option is out of range"),
  P2P_START: spec<{ listen: readonly string[] }>(
    "the p2p host cannot start on its listen addresses",
  ),
  EXECUTION_DIVERGED: spec<{ height: number }>(
    "this node's execution state root differs from the network's (it stops voting)",
  ),
  SYNC_FAILED: spec<{ peer: string }>("a sync request to a peer failed (logged; another is tried)"),
  CLUSTER_OPTION: spec<{ option: string }>("an `awr cluster` option is out of range"),
  CLUSTER_DIR: spec<{ path: string }>("the cluster folder cannot be used for this cluster"),
} as const;

export type { ActionFields } from "./error_codes_lower.ts";
/** Fields of the `PLUGIN_*` refusals: the plugin file and the driver name it declares. */
export type PluginFields = { file: string; name?: string };

/** A machine-readable error code (a key of {@link ERROR_REGISTRY}). */
export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** The context fields of each code. */
export type ErrorFields = {
  [C in ErrorCode]: (typeof ERROR_REGISTRY)[C] extends CodeSpec<infer F> ? F : never;
};

/**
 * Every code, in registry order: what a caller can switch on.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "./error_codes.ts";
 * console.log(ERROR_CODES.includes("DRIVER_TIMEOUT")); // true
 * ```
 */
export const ERROR_CODES: readonly ErrorCode[] = Object.keys(ERROR_REGISTRY) as ErrorCode[];

/** True when `value` is a registered error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_REGISTRY, value);
}
