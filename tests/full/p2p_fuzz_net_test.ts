/**
 * 10,000 random and mutated frames sent to one node over real libp2p connections (raw
 * gossipsub publishes from test peers), beside the `inbound()` fuzz of the unit tier.
 * Gossipsub graylists a peer once its score falls below -80 (a few rejected frames, as
 * its score cache catches up), after which the node drops that peer's messages before
 * validation. So the frames go out from a few fresh peers in turn, and the test counts
 * what the node saw: every frame that reached its validator was rejected and counted
 * for its sender, none reached the node, and the node still takes a valid vote after.
 */
import { assert, assertEquals } from "@std/assert";
import { P2pNode } from "../../src/net/p2p.ts";
import { sealEnvelope } from "../../src/net/envelope.ts";
import { ed25519Signer, generateValidatorKey } from "../../src/net/keys.ts";
import { FakeHost, makeSet, signedVote, waitFor } from "../support/p2p_fixture.ts";
import { openLibp2pProcessChannel } from "../support/libp2p_process.ts";

await openLibp2pProcessChannel();

const FRAMES = 10_000;
const SENDERS = 4;
const TIME_BOUND_MS = 120_000;
const OPTIONS = {
  headIntervalMs: 60_000,
  syncIntervalMs: 60_000,
  redialIntervalMs: 60_000,
  listen: ["/ip4/127.0.0.1/tcp/0"],
};

Deno.test("p2p fuzz over libp2p: 10,000 frames from test peers; all the node saw were rejected and counted", async () => {
  const set = await makeSet(3);
  const hb = new FakeHost();
  const node = await P2pNode.start({
    worldId: set.world,
    key: set.keys[1],
    self: "v2",
    validators: set.validators,
    host: hb,
    options: OPTIONS,
  });
  const vote = signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null });
  const sender = {
    world: set.world,
    from: "v1",
    publicKey: set.keys[0].publicKey,
    signer: ed25519Signer(set.keys[0]),
  };
  const valid = sealEnvelope(sender, "consensus", vote);
  let x = 0x2545f491; // xorshift32, so a failure reproduces
  const rnd = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const make = (i: number): Uint8Array => {
    if (i % 3 === 0) return new Uint8Array(1 + rnd(300)).map(() => rnd(256));
    const f = valid.slice();
    for (let k = 0; k <= rnd(3); k++) f[rnd(f.length)] ^= 1 + rnd(255);
    return i % 3 === 1 ? f : f.slice(0, 1 + rnd(f.length - 1));
  };
  // Every frame distinct: gossipsub's message id is the frame's hash (no signatures,
  // `_libp2p.ts`), so a repeated frame would be a duplicate, never delivered again.
  const made = new Set<string>();
  const frame = (i: number): Uint8Array => {
    for (let attempt = 0; attempt < 1_000; attempt++) {
      const f = make(i);
      const key = f.join(",");
      if (!made.has(key)) {
        made.add(key);
        return f;
      }
    }
    throw new Error(`no new frame for ${i} in 1,000 attempts`);
  };
  const deadline = performance.now() + TIME_BOUND_MS;
  const seen: Record<string, number> = {};
  let sent = 0;
  let published = 0;
  try {
    for (let s = 0; s < SENDERS && performance.now() < deadline; s++) {
      const fuzzer = await P2pNode.start({
        worldId: set.world,
        key: await generateValidatorKey(), // a fresh peer id each time
        self: null,
        validators: set.validators,
        host: new FakeHost(),
        options: OPTIONS,
      });
      try {
        await fuzzer.dial(node.addresses[0]);
        assert(await waitFor(() => node.connectedPeers.includes(fuzzer.peerId)));
        let mine = 0;
        for (let i = 0; i < FRAMES / SENDERS && performance.now() < deadline; i++) {
          published++;
          if (await fuzzer.publishFrame("consensus", frame(published)) > 0) mine++;
          // Gossipsub sends only to peers it knows subscribed: until the node is one, pace.
          else if (mine === 0) await new Promise((r) => setTimeout(r, 20));
        }
        sent += mine;
        // Count what the node saw from this sender once its count holds still for 1 s.
        const count = () =>
          Object.values(node.status().peers.find((p) => p.peerId === fuzzer.peerId)?.rejected ?? {})
            .reduce((a, b) => a + b, 0);
        for (let last = -1, c = count(); c !== last && performance.now() < deadline; c = count()) {
          last = c;
          await new Promise((r) => setTimeout(r, 1_000));
        }
        seen[fuzzer.peerId] = count();
        const rec = node.status().peers.find((p) => p.peerId === fuzzer.peerId);
        assertEquals(rec?.accepted ?? 0, 0, "a fuzz frame was accepted");
      } finally {
        await fuzzer.stop();
      }
    }
    const delivered = Object.values(seen).reduce((a, b) => a + b, 0);
    console.log(
      `published ${published}, sent to the node ${sent}, reached its validator ${delivered} ` +
        `(per sender ${Object.values(seen).join(", ")})`,
    );
    assertEquals(published, FRAMES, "within the time bound");
    // A frame published before the fuzzer saw the node subscribe (0 recipients) can still
    // reach it later through gossipsub's gossip (IHAVE/IWANT at a heartbeat): no mesh.
    assert(delivered > 0 && delivered <= published, `delivered ${delivered} of ${sent}`);
    // Every frame that reached the validator was rejected and counted, none accepted.
    const st = node.status();
    assertEquals(Object.values(st.rejectedFrames).reduce((a, b) => a + b, 0), delivered);
    assertEquals(st.acceptedFrames, 0);
    assertEquals(hb.consensus.length, 0);
    // The node is unharmed: a validator's valid vote still reaches it.
    const honest = await P2pNode.start({
      worldId: set.world,
      key: set.keys[0],
      self: "v1",
      validators: set.validators,
      host: new FakeHost(),
      options: OPTIONS,
    });
    try {
      await honest.dial(node.addresses[0]);
      assert(
        await waitFor(() => {
          honest.broadcast(vote as never);
          return hb.consensus.length > 0;
        }),
      );
      assertEquals(st.rejectedFrames, node.status().rejectedFrames);
    } finally {
      await honest.stop();
    }
  } finally {
    await node.stop();
  }
});
