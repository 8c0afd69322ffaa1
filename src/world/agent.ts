/**
 * An agent and its on-disk form inside a state chunk. Agents are bucketed by a hash
 * of their id (bucket = bucket key mod bucket count), one chunk per bucket, agents
 * ordered by id inside it. Which chunks a height touches, and how big they are,
 * then depends on the actions and the average bucket load, not on the world size.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { hashBytes } from "../storage/hash.ts";

/** An agent in memory. `resources` holds only non-zero balances. */
export interface Agent {
  readonly id: string;
  /** {@link bucketKeyOf} of the id: the agent's bucket is this mod the bucket count. */
  readonly bucketKey: number;
  x: number;
  y: number;
  energy: number;
  readonly resources: Map<string, number>;
}

/** Wire form of an agent inside a chunk blob. */
export interface AgentWire {
  id: string;
  x: number;
  y: number;
  energy: number;
  /** Resource → amount, zero balances left out. */
  resources: Record<string, number>;
}

/**
 * Wire form of a state chunk blob (canonical CBOR in the CAS): one bucket's agents
 * ordered by id. It names no bucket, so every empty bucket is the same blob.
 */
export interface ChunkWire {
  schema: number;
  kind: "agents";
  agents: AgentWire[];
}

/** Version of the chunk blob format (1 was fixed-size chunks by registration index). */
export const CHUNK_SCHEMA = 2;

/** Error for a chunk blob that does not hold what its manifest promises. */
export class ChunkError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

const utf8 = new TextEncoder();

/**
 * The 32-bit bucket key of an agent id: the first 4 bytes, big-endian, of
 * BLAKE3(UTF-8 of the id). Part of the consensus rules.
 *
 * @example
 * ```ts
 * import { bucketKeyOf } from "./agent.ts";
 * const bucket = bucketKeyOf("ada") % 4096;
 * ```
 */
export function bucketKeyOf(id: string): number {
  const h = hashBytes(utf8.encode(id));
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

/**
 * Whether `n` is a power of two (1, 2, 4, …) that is a safe integer.
 *
 * @example
 * ```ts
 * import { isPowerOfTwo } from "./agent.ts";
 * isPowerOfTwo(4096); // true
 * ```
 */
export function isPowerOfTwo(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && (n & (n - 1)) === 0 &&
    n <= 2 ** 30;
}

/**
 * Agent to its wire form (resource keys come out sorted by the encoder).
 *
 * @example
 * ```ts
 * import { agentToWire } from "./agent.ts";
 * const wire = agentToWire({ id: "ada", bucketKey: 7, x: 1, y: 2, energy: 100, resources: new Map() });
 * ```
 */
export function agentToWire(a: Agent): AgentWire {
  const resources: Record<string, number> = {};
  for (const [k, v] of a.resources) resources[k] = v;
  return { id: a.id, x: a.x, y: a.y, energy: a.energy, resources };
}

/**
 * One bucket's agents (already ordered by id) as a CBOR-ready chunk.
 *
 * @example
 * ```ts
 * import { chunkToWire } from "./agent.ts";
 * const value = chunkToWire([]); // { schema: 2, kind: "agents", agents: [] }
 * ```
 */
export function chunkToWire(agents: readonly Agent[]): ChunkWire {
  return { schema: CHUNK_SCHEMA, kind: "agents", agents: agents.map(agentToWire) };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads a decoded chunk back into agents, checking its shape, that its agents are
 * ordered by id and that each belongs in bucket `bucket` of `bucketCount`; `where`
 * names the blob in errors. A schema-1 chunk is refused with `CHUNK_SCHEMA`.
 *
 * @example
 * ```ts
 * import { chunkFromWire, chunkToWire } from "./agent.ts";
 * const agents = chunkFromWire(chunkToWire([]), 0, 4096, "example chunk"); // []
 * ```
 */
export function chunkFromWire(
  raw: unknown,
  bucket: number,
  bucketCount: number,
  where: string,
): Agent[] {
  const bad = (what: string, code: "CHUNK_INVALID" | "CHUNK_SCHEMA" = "CHUNK_INVALID"): never => {
    throw new ChunkError(code, `${where}: ${what}`, { where, bucket });
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad("not a CBOR map");
  const c = raw as Record<string, unknown>;
  if (c.kind !== "agents") bad(`kind must be "agents"`);
  if (c.schema !== CHUNK_SCHEMA) {
    bad(
      `chunk schema ${String(c.schema)} is not supported (this awr reads schema ${CHUNK_SCHEMA})`,
      "CHUNK_SCHEMA",
    );
  }
  if (!Array.isArray(c.agents)) bad("agents must be an array");
  let prev: string | null = null;
  return (c.agents as unknown[]).map((w, i) => {
    const a = w as Record<string, unknown>;
    const res = a?.resources;
    if (
      typeof a?.id !== "string" || !isCount(a.x) || !isCount(a.y) || !isCount(a.energy) ||
      res === null || typeof res !== "object" || Array.isArray(res)
    ) bad(`agent ${i} is malformed`);
    const id = a.id as string;
    if (prev !== null && !(prev < id)) bad(`agent ${i} ("${id}") is not ordered after "${prev}"`);
    prev = id;
    const bucketKey = bucketKeyOf(id);
    if (bucketKey % bucketCount !== bucket) {
      bad(`agent "${id}" belongs in bucket ${bucketKey % bucketCount}, not ${bucket}`);
    }
    const resources = new Map<string, number>();
    for (const [k, v] of Object.entries(res as Record<string, unknown>)) {
      if (!isCount(v) || v === 0) bad(`agent ${i} resource "${k}" must be a positive integer`);
      resources.set(k, v as number);
    }
    return {
      id,
      bucketKey,
      x: a.x as number,
      y: a.y as number,
      energy: a.energy as number,
      resources,
    };
  });
}
