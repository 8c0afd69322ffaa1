/**
 * An agent and its on-disk form inside a state chunk. Agents are grouped into
 * fixed-size chunks by registration index, so a height re-encodes only the chunks
 * whose agents changed.
 * @module
 */
import { AwrError } from "../errors.ts";

/** An agent in memory. `resources` holds only non-zero balances. */
export interface Agent {
  readonly id: string;
  /** Position in registration order (decides the agent's chunk). */
  readonly index: number;
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

/** Wire form of a state chunk blob (canonical CBOR in the CAS). */
export interface ChunkWire {
  schema: number;
  kind: "agents";
  /** Chunk number: holds agents `index × chunk_size … + chunk_size − 1`. */
  index: number;
  agents: AgentWire[];
}

/** Version of the chunk blob format. */
export const CHUNK_SCHEMA = 1;

/** Error for a chunk blob that does not hold what its manifest promises. */
export class ChunkError extends AwrError {}

/**
 * Agent to its wire form (resource keys come out sorted by the encoder).
 *
 * @example
 * ```ts
 * import { agentToWire } from "./agent.ts";
 * const wire = agentToWire({ id: "ada", index: 0, x: 1, y: 2, energy: 100, resources: new Map() });
 * ```
 */
export function agentToWire(a: Agent): AgentWire {
  const resources: Record<string, number> = {};
  for (const [k, v] of a.resources) resources[k] = v;
  return { id: a.id, x: a.x, y: a.y, energy: a.energy, resources };
}

/**
 * Chunk `index` as a CBOR-ready value.
 *
 * @example
 * ```ts
 * import { chunkToWire } from "./agent.ts";
 * const value = chunkToWire(0, []); // { schema: 1, kind: "agents", index: 0, agents: [] }
 * ```
 */
export function chunkToWire(index: number, agents: readonly Agent[]): ChunkWire {
  return { schema: CHUNK_SCHEMA, kind: "agents", index, agents: agents.map(agentToWire) };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reads a decoded chunk back into agents, checking its shape; `firstIndex` is the
 * registration index of its first agent and `where` names the blob in errors.
 *
 * @example
 * ```ts
 * import { chunkFromWire, chunkToWire } from "./agent.ts";
 * const agents = chunkFromWire(chunkToWire(0, []), 0, 0, "example chunk"); // []
 * ```
 */
export function chunkFromWire(
  raw: unknown,
  chunkIndex: number,
  firstIndex: number,
  where: string,
): Agent[] {
  const bad = (what: string): never => {
    throw new ChunkError("CHUNK_INVALID", `${where}: ${what}`, { where, chunkIndex });
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad("not a CBOR map");
  const c = raw as Record<string, unknown>;
  if (c.kind !== "agents") bad(`kind must be "agents"`);
  if (c.schema !== CHUNK_SCHEMA) bad(`unsupported chunk schema ${String(c.schema)}`);
  if (c.index !== chunkIndex) bad(`index is ${String(c.index)}, expected ${chunkIndex}`);
  if (!Array.isArray(c.agents)) bad("agents must be an array");
  return (c.agents as unknown[]).map((w, i) => {
    const a = w as Record<string, unknown>;
    const res = a?.resources;
    if (
      typeof a?.id !== "string" || !isCount(a.x) || !isCount(a.y) || !isCount(a.energy) ||
      res === null || typeof res !== "object" || Array.isArray(res)
    ) bad(`agent ${i} is malformed`);
    const resources = new Map<string, number>();
    for (const [k, v] of Object.entries(res as Record<string, unknown>)) {
      if (!isCount(v) || v === 0) bad(`agent ${i} resource "${k}" must be a positive integer`);
      resources.set(k, v as number);
    }
    return {
      id: a.id as string,
      index: firstIndex + i,
      x: a.x as number,
      y: a.y as number,
      energy: a.energy as number,
      resources,
    };
  });
}
