import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";
import { parseActionsBody, parseHeadBody } from "../../src/net/bodies.ts";
import { MAX_FRAME_BYTES, openEnvelope, sealEnvelope } from "../../src/net/envelope.ts";
import { ed25519Signer } from "../../src/net/keys.ts";
import { defaultP2pOptions, resolveP2pOptions } from "../../src/net/p2p_options.ts";
import { PeerBook } from "../../src/net/peers.ts";
import {
  buildSyncResponse,
  encodeSyncRequest,
  MAX_SYNC_REQUEST_BYTES,
  parseSyncRequest,
  verifySyncResponse,
} from "../../src/net/sync.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { ed25519Verifier } from "../../src/net/keys.ts";
import { AwrError } from "../../src/errors.ts";
import { p2pFlags } from "../../src/cli/live.ts";
import { CliError } from "../../src/cli/io.ts";
import { makeChain, makeSet } from "../support/p2p_fixture.ts";

Deno.test("sync request: count at the batch bound is accepted, one more is refused; frame size bounded", () => {
  const max = defaultP2pOptions.maxSyncBatch;
  assertEquals(parseSyncRequest(encodeSyncRequest({ from: 1, count: max }), max), {
    from: 1,
    count: max,
  });
  assertEquals(parseSyncRequest(encodeSyncRequest({ from: 1, count: max + 1 }), max), null);
  assertEquals(parseSyncRequest(encodeSyncRequest({ from: 0, count: 1 }), max), null);
  assertEquals(parseSyncRequest(new Uint8Array(MAX_SYNC_REQUEST_BYTES + 1), max), null);
  assertEquals(parseSyncRequest(new Uint8Array([0xff]), max), null);
});

Deno.test("sync response: stops before the byte bound; verification checks count, heights and certificates", async () => {
  const set = await makeSet(4);
  const chain = makeChain(set, 3);
  const source = (h: number) => Promise.resolve(chain[h - 1] ?? null);
  const full = await buildSyncResponse({ from: 1, count: 3 }, source, 1 << 20);
  const one = await buildSyncResponse({ from: 1, count: 1 }, source, 1 << 20);
  // A bound exactly one commit (+ the 9-byte array allowance) wide holds one, not two.
  const bound = one.length - 1 + 9;
  const cut = await buildSyncResponse({ from: 1, count: 3 }, source, bound);
  assertEquals(cut, one);
  const none = await buildSyncResponse({ from: 1, count: 3 }, source, bound - 1);
  assertEquals(none, new Uint8Array([0x80]));
  const check = {
    worldId: set.world,
    validators: new BftValidatorSet(set.validators),
    verifier: ed25519Verifier(set.validators),
    from: 1,
    count: 3,
  };
  const ok = verifySyncResponse(full, check);
  assert(Array.isArray(ok) && ok.length === 3);
  assert(typeof verifySyncResponse(full, { ...check, count: 2 }) === "string");
  assert(typeof verifySyncResponse(full, { ...check, from: 2 }) === "string");
  const otherWorld = verifySyncResponse(full, { ...check, worldId: "other" });
  assert(typeof otherWorld === "string" && otherWorld.includes("signature"), String(otherWorld));
});

/** A 2-validator set, v1 as the envelope sender, and the id → key map to check against. */
async function envelopeFixture() {
  const set = await makeSet(2);
  const sender = {
    world: set.world,
    from: "v1",
    publicKey: set.keys[0].publicKey,
    signer: ed25519Signer(set.keys[0]),
  };
  return { set, sender, validators: new Map(set.validators.map((v) => [v.id, v.publicKey])) };
}

Deno.test("envelope: a sealed frame opens; unsigned, wrong-world and oversized frames are named", async () => {
  const { set, sender, validators } = await envelopeFixture();
  const frame = sealEnvelope(sender, "heads", { height: 1 });
  const e = openEnvelope(frame, { world: set.world, validators });
  assert(typeof e !== "string");
  assertEquals(e.body, { height: 1 });
  assertEquals(openEnvelope(frame, { world: "other", validators }), "WRONG_WORLD");
  assertEquals(
    openEnvelope(frame, {
      world: set.world,
      validators,
      publisherKey: set.validators[1].publicKey,
    }),
    "PEER_MISMATCH",
  );
  const unsigned = sealEnvelope(
    { ...sender, signer: { sign: () => undefined as never } },
    "heads",
    {},
  );
  assertEquals(openEnvelope(unsigned, { world: set.world, validators }), "UNSIGNED");
  assertEquals(
    openEnvelope(new Uint8Array(MAX_FRAME_BYTES + 1), { world: set.world, validators }),
    "TOO_LARGE",
  );
});

Deno.test("envelope: the same body sealed twice makes two frames (gossipsub's id is the frame's hash); n is signed; v1 is refused", async () => {
  const { set, sender, validators } = await envelopeFixture();
  const check = { world: set.world, validators };
  const a = sealEnvelope(sender, "consensus", { vote: 1 });
  const b = sealEnvelope(sender, "consensus", { vote: 1 });
  assertNotEquals(a, b);
  const ea = decodeCbor(a) as Record<string, unknown>;
  const eb = decodeCbor(b) as Record<string, unknown>;
  assertEquals(ea.v, 2);
  assertEquals(eb.n, (ea.n as number) + 1);
  assert(typeof openEnvelope(a, check) !== "string" && typeof openEnvelope(b, check) !== "string");
  // n is under the signature: another n with the same signature does not verify.
  assertEquals(openEnvelope(encodeCanonical({ ...ea, n: eb.n }), check), "BAD_SIGNATURE");
  assertEquals(openEnvelope(encodeCanonical({ ...ea, n: -1 }), check), "MALFORMED");
  // A version 1 frame (no n; gossipsub signed then) is refused.
  const { n: _n, ...v1 } = ea;
  assertEquals(openEnvelope(encodeCanonical({ ...v1, v: 1 }), check), "MALFORMED");
});

Deno.test("bodies: heads and action batches are checked; the batch bound holds at its limit", () => {
  assertEquals(
    parseHeadBody({ height: 2, block_hash: "ab", execution_height: 1, state_root: null }),
    {
      height: 2,
      blockHash: "ab",
      executionHeight: 1,
      stateRoot: null,
    },
  );
  assertEquals(
    parseHeadBody({ height: -1, block_hash: null, execution_height: 0, state_root: null }),
    null,
  );
  const max = defaultP2pOptions.maxGossipActions;
  const batch = (n: number) => ({
    key: "k",
    actions: Array.from({ length: n }, () => ({ kind: "rest" })),
  });
  assertEquals(parseActionsBody(batch(max), max)?.actions.length, max);
  assertEquals(parseActionsBody(batch(max + 1), max), null);
  assertEquals(parseActionsBody({ key: "k", actions: [{ nokind: 1 }] }, max), null);
});

Deno.test("peer book: bounded; the least recently seen peer is forgotten first; totals count every code", () => {
  const book = new PeerBook(3, () => 7);
  for (const p of ["a", "b", "c"]) book.reject(p, "MALFORMED");
  book.accept("a"); // a is now the most recent
  book.reject("d", "BAD_SIGNATURE");
  assertEquals(book.list().map((p) => p.peerId), ["c", "a", "d"]);
  assertEquals(book.totals().MALFORMED, 3);
  assertEquals(book.totals().BAD_SIGNATURE, 1);
});

Deno.test("p2p options: each bound is checked, naming the option", () => {
  assertEquals(resolveP2pOptions({ maxSyncBatch: 64 }).maxSyncBatch, 64);
  const err = assertThrows(() => resolveP2pOptions({ maxSyncBatch: 65 }), AwrError);
  assertEquals(err.code, "P2P_OPTION");
  assertThrows(() => resolveP2pOptions({ maxSyncInFlight: 0 }), AwrError, "maxSyncInFlight");
  assertEquals(defaultP2pOptions.minHeadGapMs, 250);
  assertEquals(resolveP2pOptions({ minHeadGapMs: 1 }).minHeadGapMs, 1);
  assertThrows(() => resolveP2pOptions({ minHeadGapMs: 0 }), AwrError, "minHeadGapMs");
});

Deno.test("cli: --listen/--peers map onto the p2p options; a bad multiaddr is a usage error", () => {
  assertEquals(p2pFlags({}), null);
  assertEquals(p2pFlags({ listen: "/ip4/0.0.0.0/tcp/26656", peers: "/ip4/10.0.0.2/tcp/26656, " }), {
    listen: ["/ip4/0.0.0.0/tcp/26656"],
    peers: ["/ip4/10.0.0.2/tcp/26656"],
  });
  assertThrows(() => p2pFlags({ listen: "127.0.0.1:26656" }), CliError, "--listen");
});
