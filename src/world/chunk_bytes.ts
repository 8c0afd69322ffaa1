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

// One chunk's last encoding: its agents (by reference), where each one's bytes start in
// `bytes` (offsets[i] .. offsets[i + 1]), and the agents changed since.
interface ChunkCache {
  agents: Agent[];
  offsets: Int32Array;
  bytes: Uint8Array;
  changed: Set<Agent> | null;
}

/**
 * Encodes chunks, keeping each chunk's last bytes and where each agent's encoding lies
 * in them. A chunk encoded again copies the byte ranges of its agents that are still
 * the same objects and were not {@link ChunkEncoder.forget}ten since, and encodes only
 * the rest (new or changed agents). The world forgets an agent wherever it changes one
 * (the same place it marks the agent's chunk changed, so a stale entry would also be a
 * chunk left out of the height's changes). Memory: the chunk bytes plus 12 bytes per
 * agent, one entry per bucket.
 *
 * @example
 * ```ts
 * import { ChunkEncoder } from "./chunk_bytes.ts";
 * const bytes = new ChunkEncoder().encode(0, []); // same bytes as encodeCanonical(chunkToWire([]))
 * ```
 */
export class ChunkEncoder {
  #chunks: (ChunkCache | undefined)[] = [];

  /** Drops every chunk's entry (the world re-bucketed its agents). */
  reset(): void {
    this.#chunks = [];
  }

  /** Marks `agent`, in chunk `index`, changed: its bytes are made again. */
  forget(agent: Agent, index: number): void {
    const c = this.#chunks[index];
    if (c) (c.changed ??= new Set()).add(agent);
  }

  /** Canonical bytes of chunk `index`, which holds `agents` (ordered by id). */
  encode(index: number, agents: readonly Agent[]): Uint8Array {
    const old = this.#chunks[index];
    const n = agents.length;
    const head = arrayHead(n);
    // Where each agent's bytes come from: its index in the old chunk, or -1 and `fresh`.
    const from = new Int32Array(n).fill(-1);
    const fresh: Uint8Array[] = [];
    let size = HEAD.length + head.length + TAIL.length;
    for (let i = 0, j = 0; i < n; i++) {
      const a = agents[i];
      if (old) {
        // Both lists are ordered by id; usually the agent sits where it sat.
        if (old.agents[j] !== a) { while (j < old.agents.length && old.agents[j].id < a.id) j++; }
        if (old.agents[j] === a && !old.changed?.has(a)) {
          from[i] = j;
          size += old.offsets[j + 1] - old.offsets[j];
          j++;
          continue;
        }
      }
      const bytes = encodeCanonical(agentToWire(a));
      fresh[i] = bytes;
      size += bytes.length;
    }
    const bytes = new Uint8Array(size);
    bytes.set(HEAD);
    bytes.set(head, HEAD.length);
    let at = HEAD.length + head.length;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n;) {
      if (from[i] < 0) {
        offsets[i] = at;
        bytes.set(fresh[i], at);
        at += fresh[i].length;
        i++;
        continue;
      }
      // A run of agents that were neighbours in the old chunk is one copy.
      let k = i;
      while (k + 1 < n && from[k + 1] === from[k] + 1) k++;
      const start = old!.offsets[from[i]];
      const end = old!.offsets[from[k] + 1];
      for (let m = i; m <= k; m++) offsets[m] = at + old!.offsets[from[m]] - start;
      bytes.set(old!.bytes.subarray(start, end), at);
      at += end - start;
      i = k + 1;
    }
    offsets[n] = at;
    bytes.set(TAIL, at);
    this.#chunks[index] = { agents: [...agents], offsets, bytes, changed: null };
    return bytes;
  }
}
