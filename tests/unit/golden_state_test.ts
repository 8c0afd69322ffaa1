/**
 * Golden vectors for the state format: a fixed chain of actions must give exactly these
 * state roots, journal segment addresses and manifest bytes. The expected values are
 * pinned here, not recomputed by the code under test, so any change to how the world,
 * its chunks, the Merkle tree, the manifest or the journal are encoded or hashed fails
 * the required tier. A deliberate format change updates these vectors (and the schema).
 * @module
 */
import { assertEquals } from "@std/assert";
import { WorldState } from "../../src/state/world_state.ts";
import { hashHex } from "../../src/storage/hash.ts";
import type { WorldAction } from "../../src/world/actions.ts";

/** Node block hash of height `h` in the fixed chain (any 64 hex digits will do, if pinned). */
const blockHash = (h: number) => h.toString(16).padStart(2, "0").repeat(32);

/** The fixed chain: registrations, moves, transfers, grants, rests and refused actions. */
const CHAIN: WorldAction[][] = [
  [
    { kind: "register", agent: "alice", x: 3, y: 4 },
    { kind: "register", agent: "bob" },
    { kind: "register", agent: "carol", x: -2, y: 7 },
  ],
  [
    { kind: "grant", agent: "alice", resource: "gold", amount: 50 },
    { kind: "grant", agent: "bob", resource: "wood", amount: 9 },
    { kind: "move", agent: "carol", dx: 1, dy: -1 },
  ],
  [],
  [
    { kind: "transfer", from: "alice", to: "bob", resource: "gold", amount: 20 },
    // Refused by the world: more than alice holds, and an unknown agent.
    { kind: "transfer", from: "alice", to: "carol", resource: "gold", amount: 1_000 },
    { kind: "move", agent: "nobody", dx: 1, dy: 0 },
  ],
  [
    { kind: "rest", agent: "carol" },
    { kind: "register", agent: "alice" },
    { kind: "move", agent: "bob", dx: -3, dy: 2 },
  ],
];

/**
 * [state root, journal segment address] per height, pinned, for a world made with
 * fanout 64 (the default before fanout 16): worlds whose manifests say 64 keep it.
 */
const EXPECTED_FANOUT_64: [string, string][] = [
  [
    "4b09c62403a5fe21e81fdfccdcdf7824a50a4b00a0da5dc4d96c25bee3e81760",
    "9e1264545361f47c0f6a214d92888ef272c118ddcae5a9957d669e8c91dc324b",
  ],
  [
    "df4d031d09f956cb0957c562aa1790f09e0e992bf0303d23ad9b037e901890dc",
    "ce29cf6af4b1493a44f1e7457cd0406c102bd1e4afa116012aec06b6e4c45012",
  ],
  [
    "31c8c8cbedfab4475cb8ff69da73e6c26a30d9cdc8980512a98f6de4f9b0531e",
    "86d38f3460ee12ac6fd7985dd42abf252dbad6075ec0902bf5d86082aae47b1f",
  ],
  [
    "4a3b2b261e6358d2b7edae4b71f7e4c35d164e3b03f456891a100b74f72b81ac",
    "9bbd6913423c125504f45001b37a97d1a558afa7d8fd5c17e33cf118d96e0c59",
  ],
  [
    "8cddcc1afef80883d54f116b5eb4d2e009c32ef4c80bb12a9cf7d444d9f86dcc",
    "ddde54092610d3ac12dea1f2814125cf29014a8ff8d964073a71e40988898b92",
  ],
];

/** The same chain's state roots at today's default fanout (16); the journals do not change. */
const ROOTS_FANOUT_16 = [
  "89b4f328a6241762174666ee189969b70f0e038bed17c2a40a30a8237f2b1a17",
  "93f6464335b76fd521a6edfa7d4d05d2589a7a473d2aa0025abe94d0113fe154",
  "921e1097e71b8a340c0a4d3284285a91d6192385b41d9894b9094e730bc304b2",
  "404893ec7d46d7ef3e2d0d1d3f614766b6cb59aa064ee0b2dd5dc2b53c659de9",
  "da74a4518b597658c7a8eb198ead41266f0ece866853f2fe72d2baf425b1dc75",
];
const EXPECTED: [string, string][] = ROOTS_FANOUT_16.map((root, i) => [
  root,
  EXPECTED_FANOUT_64[i][1],
]);

Deno.test("golden vectors: a fixed chain gives pinned state roots and journal addresses", () => {
  for (const [shape, expected] of [[{}, EXPECTED], [{ fanout: 64 }, EXPECTED_FANOUT_64]] as const) {
    const state = WorldState.genesis("golden-world", shape);
    const got: [string, string][] = [];
    CHAIN.forEach((actions, i) => {
      const out = state.apply({ height: i + 1, nodeBlockHash: blockHash(i + 1), actions });
      got.push([out.stateRoot, out.journalRef]);
    });
    assertEquals(got, expected, `fanout ${state.manifest?.fanout}`);
  }
});

Deno.test("golden vectors: the height-5 manifest's bytes hash to its pinned address", () => {
  const state = WorldState.genesis("golden-world");
  let root = "";
  let manifestBytes: Uint8Array = new Uint8Array();
  CHAIN.forEach((actions, i) => {
    const out = state.apply({ height: i + 1, nodeBlockHash: blockHash(i + 1), actions });
    root = out.stateRoot;
    manifestBytes = out.blobs.find((b) => b.hash === out.stateRoot)!.bytes;
  });
  assertEquals(hashHex(manifestBytes), root);
  assertEquals(root, EXPECTED[4]?.[0]);
});
