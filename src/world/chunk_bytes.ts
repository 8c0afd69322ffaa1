/**
 * Canonical bytes of a chunk with each agent's encoding reused while the agent is
 * unchanged. A 64-action height at 100k agents touches about 100 chunks of about 24
 * agents each; re-encoding all of them was a third of the height's CPU, when only the
 * agents an action touched differ. The bytes are exactly `encodeCanonical(chunkToWire(
 * agents))` (a canonical array is its head followed by its items' encodings), which
 * `tests/unit/chunk_bytes_test.ts` and the golden state roots pin.
 * @module
 */
import { encodeCanonical } from "../storage/cbor.ts";
import { type Agent, agentToWire, CHUNK_SCHEMA } from "./agent.ts";

// The chunk's bytes around its `agents` array: an empty chunk encodes the array as the
// one byte 0x80 (no other byte of the empty chunk's keys and numbers can be 0x80).
const EMPTY_CHUNK = encodeCanonical({ schema: CHUNK_SCHEMA, kind: "agents", agents: [] });
const ARRAY_AT = EMPTY_CHUNK.indexOf(0x80);
const HEAD = EMPTY_CHUNK.subarray(0, ARRAY_AT);
const TAIL = EMPTY_CHUNK.subarray(ARRAY_AT + 1);

/** CBOR head of an array of `n` items (major type 4, shortest form). */
function arrayHead(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x80 | n);
  if (n < 0x100) return Uint8Array.of(0x98, n);
  if (n < 0x10000) return Uint8Array.of(0x99, n >> 8, n & 0xff);
  return Uint8Array.of(0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Encodes chunks, keeping each agent's canonical bytes for reuse until the world
 * {@link ChunkEncoder.forget}s the agent, which it does wherever it changes one (the
 * same place it marks the agent's chunk changed, so a stale entry would also be a
 * chunk left out of the height's changes). Entries are keyed by the agent object
 * (weakly): at most one per live agent, and an agent the world drops takes its entry
 * with it.
 *
 * @example
 * ```ts
 * import { ChunkEncoder } from "./chunk_bytes.ts";
 * const bytes = new ChunkEncoder().encode([]); // same bytes as encodeCanonical(chunkToWire([]))
 * ```
 */
export class ChunkEncoder {
  #cache = new WeakMap<Agent, Uint8Array>();

  /** Drops `agent`'s cached bytes (it changed). */
  forget(agent: Agent): void {
    this.#cache.delete(agent);
  }

  /** Canonical bytes of the chunk holding `agents` (already ordered by id). */
  encode(agents: readonly Agent[]): Uint8Array {
    const parts: Uint8Array[] = [HEAD, arrayHead(agents.length)];
    let size = HEAD.length + parts[1].length + TAIL.length;
    for (const a of agents) {
      const bytes = this.#agentBytes(a);
      parts.push(bytes);
      size += bytes.length;
    }
    parts.push(TAIL);
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  #agentBytes(a: Agent): Uint8Array {
    let bytes = this.#cache.get(a);
    if (!bytes) {
      bytes = encodeCanonical(agentToWire(a));
      this.#cache.set(a, bytes);
    }
    return bytes;
  }
}
