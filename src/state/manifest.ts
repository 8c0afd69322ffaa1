/**
 * Blob formats of one executed height besides chunks and nodes: the state manifest
 * (whose hash is the `execution_state_root`) and the journal segment (that height's
 * events). Both are canonical CBOR maps with snake_case keys, a `schema` version and
 * a `kind`, so tools can tell blobs apart without the record.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { decodeCbor } from "../storage/cbor.ts";
import { isPowerOfTwo } from "../world/agent.ts";
import type { WorldEvent } from "../world/events.ts";
import { type HashedBlob, hashedBlob } from "./state_tree.ts";

/**
 * Version of the state manifest format. Schema 1 (fixed-size chunks by registration
 * index, `chunk_size`) is refused with `BLOB_SCHEMA`: no data of it was deployed.
 */
export const MANIFEST_SCHEMA = 2;
/** Version of the journal segment format. */
export const JOURNAL_SCHEMA = 1;

/** The state manifest in memory. */
export interface StateManifest {
  readonly worldId: string;
  readonly height: number;
  /** World clock after the height (equals `height`). */
  readonly clock: number;
  readonly agentCount: number;
  /** Buckets, one state chunk each (a power of two): the tree's leaf count. */
  readonly bucketCount: number;
  readonly fanout: number;
  /** Interior levels of the state tree. */
  readonly depth: number;
  /** Address of the state tree's root node. */
  readonly treeRoot: string;
  /** Journal events up to and including this height. */
  readonly journalLen: number;
  readonly energyTotal: number;
  readonly resourceTotals: Readonly<Record<string, number>>;
}

/** One height's journal segment in memory. */
export interface JournalSegment {
  readonly worldId: string;
  readonly height: number;
  /** Journal index of `events[0]` (the journal length before this height). */
  readonly firstIndex: number;
  readonly events: readonly WorldEvent[];
}

/** Error for a manifest or journal blob that is not what its reference promises. */
export class ManifestError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/**
 * The manifest as a CAS blob; its hash is the execution state root.
 *
 * @example
 * ```ts
 * import { manifestBlob } from "./manifest.ts";
 * const { hash } = manifestBlob({
 *   worldId: "w", height: 1, clock: 1, agentCount: 0, bucketCount: 4096, fanout: 64, depth: 2,
 *   treeRoot: "00".repeat(32), journalLen: 0, energyTotal: 0, resourceTotals: {},
 * });
 * ```
 */
export function manifestBlob(m: StateManifest): HashedBlob {
  return hashedBlob({
    schema: MANIFEST_SCHEMA,
    kind: "state_manifest",
    world_id: m.worldId,
    height: m.height,
    clock: m.clock,
    agent_count: m.agentCount,
    bucket_count: m.bucketCount,
    fanout: m.fanout,
    depth: m.depth,
    tree_root: m.treeRoot,
    journal_len: m.journalLen,
    energy_total: m.energyTotal,
    resource_totals: { ...m.resourceTotals },
  });
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function asMap(bytes: Uint8Array, kind: string, where: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = decodeCbor(bytes);
  } catch (err) {
    throw new ManifestError("BLOB_UNREADABLE", `${where}: ${errorMessage(err)}`, { where }, {
      cause: err,
    });
  }
  const m = raw as Record<string, unknown> | null;
  if (m === null || typeof m !== "object" || Array.isArray(m) || m.kind !== kind) {
    throw new ManifestError("BLOB_KIND", `${where}: not a ${kind} blob`, { where });
  }
  return m;
}

function field<T>(
  m: Record<string, unknown>,
  name: string,
  ok: (v: unknown) => v is T,
  where: string,
): T {
  const v = m[name];
  if (!ok(v)) {
    throw new ManifestError("BLOB_FIELD", `${where}: field "${name}" is missing or malformed`, {
      where,
      field: name,
    });
  }
  return v;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isPositive = (v: unknown): v is number => isCount(v) && v > 0;
const isTotals = (v: unknown): v is Record<string, number> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every(isCount);

/**
 * Reads a manifest blob; `where` names it in errors.
 *
 * @example
 * ```ts
 * import { decodeManifest } from "./manifest.ts";
 * import { CasStore } from "../storage/cas.ts";
 * const ref = "00".repeat(32);
 * const m = decodeManifest(await new CasStore("./data/store").get(ref), `manifest ${ref}`);
 * ```
 */
export function decodeManifest(bytes: Uint8Array, where: string): StateManifest {
  const m = asMap(bytes, "state_manifest", where);
  if (m.schema !== MANIFEST_SCHEMA) {
    throw new ManifestError(
      "BLOB_SCHEMA",
      `${where}: manifest schema ${
        String(m.schema)
      } is not supported (this awr reads schema ${MANIFEST_SCHEMA}; schema 1 states are not converted)`,
      { where, schema: m.schema },
    );
  }
  return {
    worldId: field(m, "world_id", isString, where),
    height: field(m, "height", isCount, where),
    clock: field(m, "clock", isCount, where),
    agentCount: field(m, "agent_count", isCount, where),
    bucketCount: field(m, "bucket_count", isPowerOfTwo, where),
    fanout: field(m, "fanout", isPositive, where),
    depth: field(m, "depth", isPositive, where),
    treeRoot: field(m, "tree_root", isString, where),
    journalLen: field(m, "journal_len", isCount, where),
    energyTotal: field(m, "energy_total", isCount, where),
    resourceTotals: field(m, "resource_totals", isTotals, where),
  };
}

/**
 * The journal segment as a CAS blob.
 *
 * @example
 * ```ts
 * import { journalBlob } from "./manifest.ts";
 * const { hash } = journalBlob({ worldId: "w", height: 1, firstIndex: 0, events: [] });
 * ```
 */
export function journalBlob(s: JournalSegment): HashedBlob {
  return hashedBlob({
    schema: JOURNAL_SCHEMA,
    kind: "journal_segment",
    world_id: s.worldId,
    height: s.height,
    first_index: s.firstIndex,
    events: s.events,
  });
}

/**
 * Reads a journal segment blob (events are returned as stored).
 *
 * @example
 * ```ts
 * import { decodeJournal, journalBlob } from "./manifest.ts";
 * const blob = journalBlob({ worldId: "w", height: 1, firstIndex: 0, events: [] });
 * decodeJournal(blob.bytes, "example").height; // 1
 * ```
 */
export function decodeJournal(bytes: Uint8Array, where: string): JournalSegment {
  const m = asMap(bytes, "journal_segment", where);
  if (m.schema !== JOURNAL_SCHEMA) {
    throw new ManifestError(
      "BLOB_SCHEMA",
      `${where}: unsupported journal schema ${String(m.schema)}`,
      {
        where,
      },
    );
  }
  return {
    worldId: field(m, "world_id", isString, where),
    height: field(m, "height", isCount, where),
    firstIndex: field(m, "first_index", isCount, where),
    events: field(m, "events", (v): v is WorldEvent[] => Array.isArray(v), where),
  };
}
