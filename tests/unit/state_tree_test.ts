// The one validator of the state tree format (state/state_tree.ts), used by start-up
// load, `records verify` and the agent view: its verdicts pinned here.
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  type BlobReader,
  checkTreeShape,
  decodeTreeNode,
  hashedBlob,
  NODE_SCHEMA,
  StateTree,
  StateTreeError,
} from "../../src/state/state_tree.ts";

function digests(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => hashedBlob({ kind: "chunk", i }).digest);
}

function mapReader(blobs: { hash: string; bytes: Uint8Array }[]): BlobReader & {
  map: Map<string, Uint8Array>;
} {
  const map = new Map(blobs.map((b) => [b.hash, b.bytes]));
  return {
    map,
    get: (h) => {
      const b = map.get(h);
      return b ? Promise.resolve(b) : Promise.reject(new Error(`blob ${h} is missing`));
    },
  };
}

Deno.test("tree shape: level widths from chunk count and fanout; a wrong depth is TREE_SHAPE", () => {
  assertEquals(checkTreeShape("r", 2, 4096, 64), [4096, 64, 1]);
  assertEquals(checkTreeShape("r", 2, 10, 4), [10, 3, 1]);
  const err = assertThrows(() => checkTreeShape("r", 1, 4096, 64), StateTreeError);
  assertEquals(err.code, "TREE_SHAPE");
  assertEquals(err.message, "state tree r has depth 1; 4096 chunks at fanout 64 need 2");
});

Deno.test("tree node validator: exact children for the place, its level, kind node", () => {
  const widths = [10, 3, 1]; // fanout 4: nodes of 4, 4 and 2 chunks under one root
  const node = (level: number, n: number, kind = "node") =>
    hashedBlob({ schema: NODE_SCHEMA, kind, level, children: digests(n) }).bytes;
  assertEquals(decodeTreeNode(node(1, 4), 1, 0, widths, 4, "n").length, 4);
  assertEquals(decodeTreeNode(node(1, 2), 1, 2, widths, 4, "n").length, 2, "last node: the rest");
  assertEquals(decodeTreeNode(node(2, 3), 2, 0, widths, 4, "root").length, 3);
  const bad: [Uint8Array, number, number, string][] = [
    [node(1, 3), 1, 0, "n: not a level-1 state tree node with 4 children"], // too few
    [node(1, 3), 1, 2, "n: not a level-1 state tree node with 2 children"], // last: too many
    [node(2, 4), 1, 0, "n: not a level-1 state tree node with 4 children"], // wrong level
    [node(1, 4, "chunk"), 1, 0, "n: not a level-1 state tree node with 4 children"],
  ];
  for (const [bytes, level, pos, message] of bad) {
    const err = assertThrows(
      () => decodeTreeNode(bytes, level, pos, widths, 4, "n"),
      StateTreeError,
    );
    assertEquals([err.code, err.message], ["TREE_NODE_INVALID", message]);
  }
});

Deno.test("StateTree.load reads a built tree back and refuses a node the validator refuses", async () => {
  const chunks = digests(10);
  const { tree, blobs } = StateTree.build(chunks, 4);
  const reader = mapReader(blobs);
  const loaded = await StateTree.load(reader, tree.root, 2, 4, 10);
  assertEquals([loaded.root, loaded.depth, loaded.chunkCount], [tree.root, 2, 10]);
  assertEquals(loaded.chunkHash(9), tree.chunkHash(9));
  // The root answers with one child too few under its own address (a reader that lies).
  const short = hashedBlob({ schema: NODE_SCHEMA, kind: "node", level: 2, children: [] });
  reader.map.set(tree.root, short.bytes);
  const err = await assertRejects(
    () => StateTree.load(reader, tree.root, 2, 4, 10),
    StateTreeError,
  );
  assertEquals(err.code, "TREE_NODE_INVALID");
  assertEquals(
    err.message,
    `state tree node ${tree.root} (level 2, position 0): not a level-2 state tree node with 3 children`,
  );
});

Deno.test("StateTree.update re-hashes a changed chunk; an index outside the tree is TREE_INDEX", () => {
  const chunks = digests(10);
  const { tree } = StateTree.build(chunks, 4);
  const changed = hashedBlob({ kind: "chunk", i: "new" }).digest;
  const blobs = tree.update([{ index: 9, digest: changed }]);
  const rebuilt = StateTree.build([...chunks.slice(0, 9), changed], 4).tree;
  assertEquals([blobs.length, tree.root], [2, rebuilt.root], "its node and the root");
  for (const index of [10, -1]) {
    const other = { index: 0, digest: chunks[5] }; // valid, but must not be applied either
    const err = assertThrows(
      () => tree.update([other, { index, digest: changed }]),
      StateTreeError,
    );
    assertEquals(err.code, "TREE_INDEX");
  }
  assertEquals(tree.root, rebuilt.root, "a refused update changes nothing");
});
