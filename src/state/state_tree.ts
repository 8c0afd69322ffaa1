/**
 * The Merkle tree over state chunks. Level 0 is the list of chunk digests; each
 * interior node (a CAS blob) lists up to `fanout` child digests of the level below
 * as 32-byte CBOR byte strings (a child's CAS address is their hex); the single
 * node on top is the tree root. A height re-hashes only the changed chunks'
 * ancestors, so its cost follows the change, not the world.
 *
 * Children are raw bytes rather than hex because node hashing is most of a
 * height's CPU time at 100k agents, and raw digests halve the bytes hashed.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { decodeCbor, encodeCanonical } from "../storage/cbor.ts";
import { fromHex, hashBytes, toHex } from "../storage/hash.ts";

/** Version of the interior node blob format. */
export const NODE_SCHEMA = 1;
/**
 * Children per interior node of a new world (a loaded world keeps its manifest's): 4096
 * buckets make 256 level-1 and 16 level-2 nodes under one root. A height re-hashes the
 * nodes above its changed chunks, and hashing is most of its CPU: at 100k agents a
 * 64-action height hashed ~113 KB of nodes with fanout 64 (the default until
 * 2026-11) and ~57 KB with 16.
 */
export const DEFAULT_FANOUT = 16;

/** Wire form of an interior node blob. */
export interface NodeWire {
  schema: number;
  kind: "node";
  /** 1 when the children are chunks, 2 when they are level-1 nodes, … */
  level: number;
  /** Child digests (32 bytes each; hex of one is the child's CAS address), in chunk order. */
  children: Uint8Array[];
}

/** A blob with its address. */
export interface HashedBlob {
  /** CAS address: lowercase hex of `digest`. */
  readonly hash: string;
  readonly digest: Uint8Array;
  readonly bytes: Uint8Array;
}

/** Reads blobs by address (a `CasStore` is one). */
export interface BlobReader {
  get(hash: string): Promise<Uint8Array>;
}

/** Error for a tree whose nodes do not fit together. */
export class StateTreeError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/**
 * Encodes a value canonically and hashes it.
 *
 * @example
 * ```ts
 * import { hashedBlob } from "./state_tree.ts";
 * const { hash, bytes } = hashedBlob({ kind: "example" });
 * ```
 */
export function hashedBlob(value: unknown): HashedBlob {
  return hashedBytes(encodeCanonical(value));
}

/**
 * Names already-encoded canonical bytes by their hash.
 *
 * @example
 * ```ts
 * import { hashedBytes } from "./state_tree.ts";
 * const { hash } = hashedBytes(new Uint8Array([0xa0])); // the empty map
 * ```
 */
export function hashedBytes(bytes: Uint8Array): HashedBlob {
  const digest = hashBytes(bytes);
  return { hash: toHex(digest), digest, bytes };
}

/**
 * Reads `hashes` with at most `width` reads in flight (a world has thousands of
 * chunks; opening them all at once would exhaust file handles). Each distinct
 * address is read once: every empty bucket is the same blob.
 *
 * @example
 * ```ts
 * import { getAll } from "./state_tree.ts";
 * import { CasStore } from "../storage/cas.ts";
 * const blobs = await getAll(new CasStore("./data/store"), []);
 * ```
 */
export async function getAll(
  reader: BlobReader,
  hashes: readonly string[],
  width = 64,
): Promise<Uint8Array[]> {
  const unique = [...new Set(hashes)];
  const byHash = new Map<string, Uint8Array>();
  for (let i = 0; i < unique.length; i += width) {
    const part = unique.slice(i, i + width);
    const got = await Promise.all(part.map((h) => reader.get(h)));
    got.forEach((b, j) => byHash.set(part[j], b));
  }
  return hashes.map((h) => byHash.get(h)!);
}

/**
 * Interior levels a tree over `chunkCount` chunks has (at least 1).
 *
 * @example
 * ```ts
 * import { treeDepth } from "./state_tree.ts";
 * treeDepth(4096, 64); // 2
 * ```
 */
export function treeDepth(chunkCount: number, fanout: number): number {
  let depth = 1;
  for (let n = Math.ceil(chunkCount / fanout); n > 1; n = Math.ceil(n / fanout)) depth++;
  return depth;
}

/**
 * Whether `v` is a list of 32-byte digests.
 *
 * @example
 * ```ts
 * import { isDigestList } from "./state_tree.ts";
 * isDigestList([new Uint8Array(32)]); // true
 * ```
 */
export function isDigestList(v: unknown): v is Uint8Array[] {
  return Array.isArray(v) && v.every((c) => c instanceof Uint8Array && c.length === 32);
}

/**
 * Checks that a manifest's tree shape fits its chunk count (`depth` is what
 * `chunkCount` chunks at `fanout` need) and returns the number of nodes per level
 * (`widths[0]` = chunks, `widths[depth]` = 1, the root). Throws `TREE_SHAPE`.
 *
 * @example
 * ```ts
 * import { checkTreeShape } from "./state_tree.ts";
 * checkTreeShape("00".repeat(32), 2, 4096, 64); // [4096, 64, 1]
 * ```
 */
export function checkTreeShape(
  root: string,
  depth: number,
  chunkCount: number,
  fanout: number,
): number[] {
  const need = treeDepth(chunkCount, fanout);
  if (depth !== need) {
    throw new StateTreeError(
      "TREE_SHAPE",
      `state tree ${root} has depth ${depth}; ${chunkCount} chunks at fanout ${fanout} need ${need}`,
      { root, depth, chunkCount, fanout },
    );
  }
  const widths = [chunkCount];
  while (widths.length <= depth) widths.push(Math.ceil(widths[widths.length - 1] / fanout));
  return widths;
}

/**
 * The one validator of the interior node format, shared by {@link StateTree.load} and
 * `records verify`: decodes `bytes` as node `position` of level `level` (1 = just above
 * the chunks) in a tree whose level sizes are `widths` (from {@link checkTreeShape}),
 * and returns its child digests. A node must say `kind: "node"` and its level, and
 * hold exactly the children its place requires (`fanout`, fewer only for the last
 * node of a level). Throws `TREE_NODE_INVALID` naming `where`.
 *
 * @example
 * ```ts
 * import { decodeTreeNode, hashedBlob } from "./state_tree.ts";
 * const node = hashedBlob({ schema: 1, kind: "node", level: 1, children: [new Uint8Array(32)] });
 * decodeTreeNode(node.bytes, 1, 0, [1, 1], 64, "root"); // one 32-byte child digest
 * ```
 */
export function decodeTreeNode(
  bytes: Uint8Array,
  level: number,
  position: number,
  widths: readonly number[],
  fanout: number,
  where: string,
): Uint8Array[] {
  const want = Math.min(fanout, widths[level - 1] - position * fanout);
  const node = decodeCbor(bytes) as Partial<NodeWire> | null;
  if (
    node?.kind !== "node" || node.level !== level || !isDigestList(node.children) ||
    node.children.length !== want
  ) {
    throw new StateTreeError(
      "TREE_NODE_INVALID",
      `${where}: not a level-${level} state tree node with ${want} children`,
      { where, level, position, want },
    );
  }
  return node.children;
}

// Everything of a level-`level` node's encoding before its children's array: the keys
// sort as kind, level, schema, children, so an empty node ends in the empty array 0x80.
const nodePrefixes = new Map<number, Uint8Array | null>();
function nodePrefix(level: number): Uint8Array | null {
  let prefix = nodePrefixes.get(level);
  if (prefix === undefined) {
    const empty = encodeCanonical({ schema: NODE_SCHEMA, kind: "node", level, children: [] });
    prefix = empty[empty.length - 1] === 0x80 ? empty.subarray(0, empty.length - 1) : null;
    if (nodePrefixes.size < 64) nodePrefixes.set(level, prefix);
  }
  return prefix;
}

/**
 * Canonical bytes of a tree node, written directly: exactly `encodeCanonical` of its
 * {@link NodeWire} (pinned by `tests/unit/chunk_bytes_test.ts` and the golden roots),
 * without the generic encoder's pass over `fanout` byte strings.
 *
 * @example
 * ```ts
 * import { encodeTreeNode } from "./state_tree.ts";
 * const bytes = encodeTreeNode(1, [new Uint8Array(32)]);
 * ```
 */
export function encodeTreeNode(level: number, children: readonly Uint8Array[]): Uint8Array {
  const prefix = nodePrefix(level);
  const n = children.length;
  if (!prefix || n > 0xffff || !children.every((c) => c.length === 32)) {
    return encodeCanonical({ schema: NODE_SCHEMA, kind: "node", level, children });
  }
  const head = n < 24 ? 1 : n < 0x100 ? 2 : 3;
  const out = new Uint8Array(prefix.length + head + n * 34);
  out.set(prefix);
  let at = prefix.length;
  if (n < 24) out[at++] = 0x80 | n;
  else if (n < 0x100) {
    out[at++] = 0x98;
    out[at++] = n;
  } else {
    out[at++] = 0x99;
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
  }
  for (const c of children) {
    out[at++] = 0x58;
    out[at++] = 32;
    for (let j = 0; j < 32; j++) out[at++] = c[j]; // cheaper than out.set for 32 bytes
  }
  return out;
}

/**
 * Merkle tree of chunk digests, kept in memory as one digest list per level.
 *
 * @example
 * ```ts
 * import { hashedBlob, StateTree } from "./state_tree.ts";
 * const chunk = hashedBlob({ kind: "agents" });
 * const { tree } = StateTree.build([chunk.digest], 64);
 * const blobs = tree.update([{ index: 0, digest: chunk.digest }]); // the new root
 * ```
 */
export class StateTree {
  readonly fanout: number;
  readonly #levels: Uint8Array[][];

  private constructor(fanout: number, levels: Uint8Array[][]) {
    if (!Number.isSafeInteger(fanout) || fanout < 2) {
      throw new StateTreeError("TREE_FANOUT", `fanout must be an integer >= 2, got ${fanout}`, {
        fanout,
      });
    }
    this.fanout = fanout;
    this.#levels = levels;
  }

  /** Builds the whole tree over `chunkDigests`; returns it with every node blob. */
  static build(chunkDigests: readonly Uint8Array[], fanout: number): {
    tree: StateTree;
    blobs: HashedBlob[];
  } {
    const tree = new StateTree(fanout, [[...chunkDigests]]);
    const blobs = tree.#recompute(chunkDigests.map((_, i) => i));
    return { tree, blobs };
  }

  /** Address of the root node. */
  get root(): string {
    return toHex(this.#levels[this.#levels.length - 1][0]);
  }
  /** Number of interior levels (1 for up to `fanout` chunks, 2 for up to fanout², …). */
  get depth(): number {
    return this.#levels.length - 1;
  }
  /** Address of chunk `index`. */
  chunkHash(index: number): string {
    return toHex(this.#levels[0][index]);
  }
  /** Number of chunks under the tree. */
  get chunkCount(): number {
    return this.#levels[0].length;
  }

  /**
   * Sets changed chunk digests and re-hashes their ancestors; returns the new node
   * blobs. The chunk count is fixed: a world that grows rebuilds its tree
   * ({@link StateTree.build}), so an index outside the tree is `TREE_INDEX`.
   */
  update(changed: ReadonlyArray<{ index: number; digest: Uint8Array }>): HashedBlob[] {
    const chunks = this.#levels[0];
    const outside = changed.find(({ index }) =>
      !Number.isSafeInteger(index) || index < 0 || index >= chunks.length
    );
    if (outside) {
      throw new StateTreeError(
        "TREE_INDEX",
        `chunk ${outside.index} is outside the tree's ${chunks.length} chunks`,
        { index: outside.index, chunkCount: chunks.length },
      );
    }
    const dirty: number[] = [];
    for (const { index, digest } of [...changed].sort((a, b) => a.index - b.index)) {
      chunks[index] = digest;
      if (dirty[dirty.length - 1] !== index) dirty.push(index);
    }
    return dirty.length === 0 ? [] : this.#recompute(dirty);
  }

  // `dirty`: ascending changed indices at level 0. Walks up one level at a time,
  // re-encoding only the parents of what changed.
  #recompute(dirty: number[]): HashedBlob[] {
    const f = this.fanout;
    const out: HashedBlob[] = [];
    let below = dirty;
    for (let k = 1;; k++) {
      const lower = this.#levels[k - 1];
      const level = this.#levels[k] ??= [];
      const parents: number[] = [];
      for (const i of below) {
        const p = Math.floor(i / f);
        if (parents[parents.length - 1] !== p) parents.push(p);
      }
      // An empty world still has a root: one node with no children.
      if (level.length === 0 && parents.length === 0) parents.push(0);
      for (const p of parents) {
        const blob = hashedBytes(encodeTreeNode(k, lower.slice(p * f, p * f + f)));
        level[p] = blob.digest;
        out.push(blob);
      }
      if (Math.ceil(lower.length / f) <= 1) {
        this.#levels.length = k + 1;
        return out;
      }
      below = parents;
    }
  }

  /**
   * Reads a tree back from its root (O(world), once at start-up), checking every node
   * with {@link decodeTreeNode}, the validator `records verify` uses too.
   */
  static async load(
    reader: BlobReader,
    root: string,
    depth: number,
    fanout: number,
    chunkCount: number,
  ): Promise<StateTree> {
    const widths = checkTreeShape(root, depth, chunkCount, fanout);
    const levels: Uint8Array[][] = [[fromHex(root)]];
    for (let k = depth; k >= 1; k--) {
      const hashes = levels[0].map(toHex);
      const blobs = await getAll(reader, hashes);
      const children: Uint8Array[] = [];
      blobs.forEach((bytes, i) => {
        const where = `state tree node ${hashes[i]} (level ${k}, position ${i})`;
        children.push(...decodeTreeNode(bytes, k, i, widths, fanout, where));
      });
      levels.unshift(children);
    }
    return new StateTree(fanout, levels);
  }
}
