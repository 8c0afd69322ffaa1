/**
 * The lower layers' part of the error registry (storage, consensus, world), and the
 * registry's entry helper. `error_codes.ts` spreads it into `ERROR_REGISTRY`:
 * import codes and types from there.
 * @module
 */

/** A context without fields: any field given is a compile error. */
export type NoFields = { readonly [field: string]: never };

/** One registry entry: a one-line meaning; `F` types the context (never set at run time). */
export interface CodeSpec<F extends object> {
  /** What the code means, for people (the README table is made from these). */
  readonly doc: string;
  /** Phantom: carries the context type `F`; always undefined. */
  readonly fields?: F;
}

/** One entry of the registry: its meaning; `F` (a type only) gives its fields. */
export function spec<F extends object = NoFields>(doc: string): CodeSpec<F> {
  return { doc };
}

/** A BLAKE3 hex hash in a context field. */
export type Hash = string;

/** Fields of the `ACTION_*` codes: the action kind, the field, and its index in a batch. */
export type ActionFields = { kind: string; field?: string; index?: number };

/** The storage, consensus and world codes (see `error_codes.ts`). */
export const LOWER_LAYER_CODES = {
  // storage: files, CBOR, CAS, packs, schema files, data-dir lock
  NOT_A_DIRECTORY: spec<{ path: string }>("a path that must be a folder is not one"),
  REWRITE_BACKLOG: spec<{ path: string; waiting: number }>(
    "too many rewrites of one file wait for the one in flight",
  ),
  FILE_NOT_REGULAR: spec<{ path: string }>("a file to read is not a regular file"),
  FILE_READ: spec<{ path: string }>("a file could not be read"),
  FILE_TOO_LARGE: spec<{ path: string; size?: number; maxBytes: number }>(
    "a file is larger than its read bound",
  ),
  FILE_MISSING: spec("a file that must exist does not"),
  WRONG_FILE_KIND: spec<{ kind: string }>("a file holds another kind of data than expected"),
  HEX_INVALID: spec<{ length: number }>("a string is not hexadecimal bytes"),
  CBOR_DECODE: spec("bytes are not canonical CBOR"),
  CBOR_VALUE: spec<{ path: string; value?: unknown }>("a value cannot be encoded as CBOR"),
  CAS_BAD_ADDRESS: spec<{ hash: Hash }>("a content address is not a BLAKE3 hex hash"),
  CAS_MISSING: spec<{ hash: Hash; path: string }>("a blob is not in the content store"),
  CAS_CORRUPT: spec<{ hash: Hash; actual: Hash; path: string }>(
    "a blob's bytes do not hash to its address",
  ),
  PACK_OPTION: spec<
    { field?: string; value?: unknown; maxEntryBytes?: number; maxSegmentBytes?: number }
  >("a pack store option is out of range"),
  PACK_BAD_ADDRESS: spec<{ hash: Hash; height: number }>("a pack entry's address is malformed"),
  PACK_BAD_NAME: spec<{ name: string; height: number }>("a pack entry's name is malformed"),
  PACK_ENTRY_TOO_LARGE: spec<
    { kind: string; id: string; height: number; bytes: number; maxEntryBytes: number }
  >("a pack entry is larger than the entry bound"),
  PACK_GROUP_TOO_LARGE: spec<{ height: number; bytes: number; maxSegmentBytes: number }>(
    "one height's pack group is larger than a segment",
  ),
  PACK_HEIGHT_ORDER: spec<{ height: number; last: number | null }>(
    "pack groups must grow in height",
  ),
  PACK_CLOSED: spec("the pack store is closed"),
  PACK_BROKEN: spec("an earlier pack write failed; the store refuses writes"),
  PACK_MISSING: spec<{ hash: Hash }>("a blob is in no pack segment"),
  PACK_CORRUPT: spec<
    {
      segment: string;
      offset: number;
      path?: string;
      reason?: string;
      height?: number;
      id?: string;
    }
  >("a pack segment is damaged"),
  SNAPSHOT_CORRUPT: spec<{ file: string }>("a snapshot file does not decode"),
  SNAPSHOT_FIELD_TYPE: spec<{ file: string; field: string; expected?: unknown }>(
    "a snapshot field has the wrong type",
  ),
  SNAPSHOT_SCHEMA_NEWER: spec<{ file: string; field: string; found: unknown; supported: number }>(
    "a snapshot was written by a newer schema",
  ),
  DATA_DIR_LOCKED: spec<{ dataDir: string; holder: string }>(
    "another process holds the data-dir lock",
  ),
  // consensus (PoS engine): thrown, or returned as a rejection of a proposal/attestation
  INVALID_VALIDATORS: spec<
    { count?: number | null; index?: number; id?: unknown; stake?: unknown; total?: number }
  >("the validator list is empty, repeats an id or has a bad stake"),
  INVALID_OPTIONS: spec<
    {
      supermajorityNumerator?: number;
      supermajorityDenominator?: number;
      epochLengthSlots?: number;
    }
  >("a consensus option is out of range"),
  INVALID_RESTORE: spec<{ committedHeight?: number; lastBlockHash?: string; lastSlot?: number }>(
    "the (height, hash, slot) to resume from is inconsistent",
  ),
  INVALID_ARGUMENT: spec<{ slot?: number; [name: string]: unknown }>(
    "a slot or timestamp is not a non-negative safe integer",
  ),
  BAD_HEADER: spec<{ field?: string; value?: unknown }>(
    "a proposal's header has a missing or wrong field",
  ),
  BAD_ACTIONS: spec<{ slot?: number; index?: number }>(
    "a proposal's actions are not a list of actions",
  ),
  BAD_ATTESTATION: spec("an attestation has a missing or wrong field"),
  UNKNOWN_VALIDATOR: spec<{ proposer?: string; validator?: string }>(
    "a proposer or attester is not a validator",
  ),
  WRONG_PROPOSER: spec<{ slot: number; proposer: string; scheduled: string }>(
    "the proposer is not the one scheduled for the slot",
  ),
  WRONG_HEIGHT: spec<{ height: number; expected: number }>("a height is not the next one"),
  WRONG_PARENT: spec<{ height: number; parentHash: Hash; expected: Hash }>(
    "a parent hash is not the last committed block's",
  ),
  STALE_SLOT: spec<{ slot: number; lastSlot?: number; pendingSlot?: number | null }>(
    "a slot is not after the last committed (or pending) slot",
  ),
  WRONG_EPOCH: spec<{ slot: number; epoch: number; expected: number }>(
    "a header's epoch does not match its slot",
  ),
  BAD_HASH: spec<{ hash: Hash; computed: Hash }>("a block hash is not its header's hash"),
  BAD_ACTIONS_ROOT: spec<{ actionsRoot: Hash; computed: Hash }>(
    "an actions root is not the hash of the actions",
  ),
  CONFLICTING_PROPOSAL: spec<{ slot: number; hash: Hash; pendingHash: Hash }>(
    "a second, different block for the pending slot",
  ),
  SUPERSEDED: spec<{ hash: Hash; slot: number; by: Hash }>(
    "a pending proposal was replaced by a later one",
  ),
  WRONG_BLOCK: spec<{ blockHash: Hash; slot: number; pendingHash: Hash; pendingSlot: number }>(
    "an attestation names a block other than the pending one",
  ),
  NOT_PENDING: spec<{ height: number; blockHash: Hash }>("no proposal is pending"),
  // consensus/bft: genesis, signer guard, round engine
  GENESIS_DECODE: spec<{ path: string }>("a genesis file does not decode"),
  GENESIS_FIELD: spec<{ field?: string; path?: string; validator?: string }>(
    "a genesis field is missing or wrong",
  ),
  GENESIS_READ: spec<{ path: string }>("a genesis file cannot be read or does not exist"),
  GENESIS_CONFLICT: spec<{ option: string; path: string | null; genesisWorldId?: string }>(
    "a flag or option contradicts the genesis",
  ),
  GENESIS_INIT_OPTION: spec<{ field: string }>("a `genesis init` option is out of range"),
  GENESIS_INIT_OUT: spec<{ path: string }>("the `genesis init` output folder cannot be used"),
  SIGNER_STATE_FIELD: spec<{ field: string }>("a signer-state file field is wrong"),
  SIGNER_JOURNAL_MALFORMED: spec<{ path: string }>("a signer-state journal has no valid header"),
  ENGINE_LOOP: spec("the BFT engine looped without progress"),
  // world: actions, chunks, the world state
  ACTION_NOT_OBJECT: spec<ActionFields>("an action is not a JSON object"),
  ACTION_MISSING_FIELD: spec<ActionFields>("an action lacks a field"),
  ACTION_UNKNOWN_KIND: spec<ActionFields>("an action's kind is unknown"),
  ACTION_UNKNOWN_FIELD: spec<ActionFields>("an action has a field its kind does not take"),
  ACTION_FIELD_TYPE: spec<ActionFields>("an action field has the wrong type"),
  ACTION_FIELD_RANGE: spec<ActionFields>("an action field is out of range"),
  CHUNK_INVALID: spec<{ where: string; bucket: number }>("a chunk blob is malformed"),
  CHUNK_SCHEMA: spec<{ where: string; bucket: number }>("a chunk blob has an unknown schema"),
  WORLD_BUCKETS: spec<{ bucketCount: number }>("a bucket count is out of range"),
  WORLD_RESTORE: spec<{ agent?: string; agents?: number; bucketCount?: number }>(
    "chunks do not restore a consistent world",
  ),
  WORLD_CHUNK: spec<{ index: number }>("a chunk index is out of range"),
  WORLD_HEIGHT_ORDER: spec<{ clock: number; height: number }>(
    "the world is asked to apply an old height",
  ),
} as const;
