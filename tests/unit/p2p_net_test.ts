import { assert, assertEquals } from "@std/assert";
import { P2pNode, type P2pNodeConfig } from "../../src/net/p2p.ts";
import { openEnvelope, sealEnvelope } from "../../src/net/envelope.ts";
import { MAX_CONSENSUS_BUNDLE } from "../../src/net/bodies.ts";
import { joinedWritesInstalled } from "../../src/net/_tcp_write.ts";
import { ed25519Signer, generateValidatorKey } from "../../src/net/keys.ts";
import {
  FakeHost,
  makeChain,
  makeSet,
  signedVote,
  type TestSet,
  waitFor,
} from "../support/p2p_fixture.ts";
import { openLibp2pProcessChannel } from "../support/libp2p_process.ts";

// Sanitizers stay on: P2pNode.stop() releases the timers libp2p leaves (see stopHost in
// src/net/_libp2p.ts), and the one process-wide channel is opened before any test.
await openLibp2pProcessChannel();

const FAST = {
  headIntervalMs: 50,
  syncIntervalMs: 30,
  redialIntervalMs: 100,
  listen: ["/ip4/127.0.0.1/tcp/0"],
};

async function startNode(
  set: TestSet,
  i: number,
  host: FakeHost,
  extra: Partial<P2pNodeConfig> = {},
): Promise<P2pNode> {
  return await P2pNode.start({
    worldId: set.world,
    key: set.keys[i],
    self: set.validators[i].id,
    validators: set.validators,
    host,
    options: FAST,
    ...extra,
  });
}

/** Validators v1 and v2 of a 3-validator set, each with its own fake host (not connected). */
async function startPair() {
  const set = await makeSet(3);
  const ha = new FakeHost();
  const hb = new FakeHost();
  const a = await startNode(set, 0, ha);
  const b = await startNode(set, 1, hb);
  return { set, ha, hb, a, b };
}

/** Records the body of every consensus frame `node` receives (what its envelope carried). */
function consensusBodies(node: P2pNode, set: TestSet): unknown[] {
  const bodies: unknown[] = [];
  const validators = new Map(set.validators.map((v) => [v.id, v.publicKey]));
  const inbound = node.inbound.bind(node);
  node.inbound = (kind, peer, data, key) => {
    const e = openEnvelope(data, { world: set.world, validators });
    if (kind === "consensus" && typeof e !== "string") bodies.push(e.body);
    return inbound(kind, peer, data, key);
  };
  return bodies;
}

/** Broadcasts `vote` from `a` until `hb` has a consensus message (gossipsub knows b). */
async function warmUp(a: P2pNode, hb: FakeHost, vote: unknown): Promise<void> {
  assert(
    await waitFor(() => {
      a.broadcast(vote as never);
      return hb.consensus.length > 0;
    }),
  );
}

/** The height of a vote (undefined for anything else). */
const heightOf = (m: unknown) => (m as { vote?: { height: number } }).vote?.height;

async function connect(a: P2pNode, b: P2pNode): Promise<void> {
  await a.dial(b.addresses[0]);
  // Gossipsub needs both sides subscribed and a heartbeat to graft the mesh.
  assert(await waitFor(() => a.connectedPeers.includes(b.peerId)));
}

Deno.test(
  "p2p: a signed vote gossiped by one validator reaches the other's node",
  async () => {
    const { set, hb, a, b } = await startPair();
    try {
      await connect(a, b);
      const vote = signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null });
      assert(
        await waitFor(() => {
          a.broadcast(vote as never);
          return hb.consensus.length > 0;
        }),
      );
      const got = hb.consensus[0] as { kind: string; vote: { validator: string } };
      assertEquals(got.kind, "vote");
      assertEquals(got.vote.validator, "v1");
      const peer = b.status().peers.find((p) => p.peerId === a.peerId)!;
      assertEquals(peer.validator, "v1");
      assert(peer.accepted >= 1);
      // The vote went out through @libp2p/tcp's connection with one write per send.
      assert(joinedWritesInstalled(), "the joined socket write was not installed");
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: heads give known peer heads; a node behind syncs certified commits in order",
  async () => {
    const set = await makeSet(3);
    const chain = makeChain(set, 40);
    const ha = new FakeHost();
    ha.chain = chain;
    ha.height = 40;
    const hb = new FakeHost();
    hb.followCommits = true;
    const a = await startNode(set, 0, ha);
    const b = await startNode(set, 1, hb, { options: { ...FAST, maxSyncBatch: 16 } });
    try {
      await connect(b, a);
      assert(await waitFor(() => hb.height === 40), `synced to ${hb.height}`);
      const heights = hb.consensus.map((m) => (m as { block: { height: number } }).block.height);
      assertEquals(heights, Array.from({ length: 40 }, (_, i) => i + 1));
      const st = b.status();
      assertEquals(st.networkCommittedHeight, 40);
      const peer = st.peers.find((p) => p.peerId === a.peerId)!;
      assertEquals(peer.head?.height, 40);
      assertEquals(peer.validator, "v1");
      // Batches are bounded: 40 heights at 16 per request take at least 3 requests.
      assert(st.sync.requests >= 3, `requests ${st.sync.requests}`);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: a sync response with a forged certificate is rejected and counted",
  async () => {
    const set = await makeSet(3);
    const chain = makeChain(set, 3);
    const bad = makeChain({ ...set, world: "other-world" }, 3); // signatures for another world
    const ha = new FakeHost();
    ha.chain = [chain[0], bad[1], bad[2]];
    ha.height = 3;
    const hb = new FakeHost();
    hb.followCommits = true;
    const a = await startNode(set, 0, ha);
    const b = await startNode(set, 1, hb);
    try {
      await connect(b, a);
      assert(await waitFor(() => b.status().rejectedFrames.BAD_CERTIFICATE > 0));
      assertEquals(hb.height, 0); // nothing of a bad batch is handed over
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: messages broadcast in one run leave as one frame and arrive in order",
  async () => {
    const { set, hb, a, b } = await startPair();
    const bodies = consensusBodies(b, set);
    try {
      await connect(a, b);
      await warmUp(
        a,
        hb,
        signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null }),
      );
      const pre = signedVote(set, 0, { type: "prevote", height: 2, round: 0, block: null });
      const com = signedVote(set, 0, { type: "precommit", height: 2, round: 0, block: null });
      a.broadcast(pre as never);
      a.broadcast(com as never);
      const at2 = () => hb.consensus.filter((m) => heightOf(m) === 2);
      assert(await waitFor(() => at2().length >= 2));
      assertEquals(at2(), [pre, com]);
      // One frame carried both, as the array [prevote, precommit].
      const bundles = bodies.filter((x) => Array.isArray(x));
      assertEquals(bundles, [[pre, com]]);
      assert(bodies.every((x) => Array.isArray(x) || heightOf(x) === 1));
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: 17 messages broadcast in one run leave as two frames, 16 and 1, in order",
  async () => {
    const { set, hb, a, b } = await startPair();
    const bodies = consensusBodies(b, set);
    try {
      await connect(a, b);
      await warmUp(
        a,
        hb,
        signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null }),
      );
      const run = Array.from(
        { length: MAX_CONSENSUS_BUNDLE + 1 },
        (_, i) => signedVote(set, 0, { type: "prevote", height: 100 + i, round: 0, block: null }),
      );
      for (const m of run) a.broadcast(m as never);
      const late = () => hb.consensus.filter((m) => (heightOf(m) ?? 0) >= 100);
      assert(await waitFor(() => late().length >= run.length));
      assertEquals(late(), run);
      const ours = bodies.filter((x) => Array.isArray(x) || (heightOf(x) ?? 0) >= 100);
      assertEquals(ours, [run.slice(0, MAX_CONSENSUS_BUNDLE), run[MAX_CONSENSUS_BUNDLE]]);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: forged, unknown-validator and wrong-world frames are rejected, counted per peer, scored down",
  async () => {
    const { set, hb, a, b } = await startPair();
    try {
      await connect(a, b);
      const vote = signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null });
      const sender = {
        world: set.world,
        from: "v1",
        publicKey: set.keys[0].publicKey,
        signer: ed25519Signer(set.keys[0]),
      };
      // Forged: well framed, signed by another key under v1's name and public key.
      const stranger = await generateValidatorKey();
      const forged = sealEnvelope(
        { ...sender, signer: ed25519Signer(stranger) },
        "consensus",
        vote,
      );
      const wrongWorld = sealEnvelope({ ...sender, world: "other" }, "consensus", vote);
      const unknown = sealEnvelope({ ...sender, from: "v9" }, "consensus", vote);
      // The inner vote's signature forged, the envelope fine.
      const badVote = { ...vote, signature: new Uint8Array(64) };
      const innerForged = sealEnvelope(sender, "consensus", badVote);
      assert(await waitFor(() => b.connectedPeers.includes(a.peerId)));
      await waitFor(() => false, 1500); // mesh heartbeat (gossipsub grafts every second)
      for (const f of [forged, wrongWorld, unknown, innerForged]) {
        await a.publishFrame(
          "consensus",
          f,
        );
      }
      assert(
        await waitFor(() => {
          const r = b.status().peers.find((p) => p.peerId === a.peerId)?.rejected ?? {};
          return (r.BAD_SIGNATURE ?? 0) >= 2 && (r.WRONG_WORLD ?? 0) >= 1 &&
            (r.UNKNOWN_VALIDATOR ?? 0) >= 1;
        }),
        JSON.stringify(b.status().peers),
      );
      assertEquals(hb.consensus.length, 0);
      assert(await waitFor(() => b.peerScore(a.peerId) < 0), `score ${b.peerScore(a.peerId)}`);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

Deno.test(
  "p2p fuzz: 10,000 random and mutated frames are all rejected and counted; a valid one still passes",
  async () => {
    const set = await makeSet(3);
    const hb = new FakeHost();
    const b = await startNode(set, 1, hb);
    try {
      const vote = signedVote(set, 0, { type: "prevote", height: 1, round: 0, block: null });
      const sender = {
        world: set.world,
        from: "v1",
        publicKey: set.keys[0].publicKey,
        signer: ed25519Signer(set.keys[0]),
      };
      const valid = sealEnvelope(sender, "consensus", vote);
      const pub = set.validators[0].publicKey;
      // A seeded generator (xorshift32), so a failure reproduces.
      let x = 0x9e3779b9;
      const rnd = (n: number) => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % n;
      };
      const N = 10_000;
      const deadline = performance.now() + 60_000;
      let rejected = 0;
      for (let i = 0; i < N && performance.now() < deadline; i++) {
        let frame: Uint8Array;
        const mode = i % 4;
        if (mode === 0) {
          frame = new Uint8Array(rnd(300)).map(() => rnd(256));
        } else if (mode === 1 || mode === 2) {
          frame = valid.slice();
          for (let k = 0; k <= rnd(3); k++) frame[rnd(frame.length)] ^= 1 + rnd(255);
        } else {
          frame = valid.slice(0, rnd(valid.length));
        }
        if (b.inbound("consensus", "fuzzer", frame, pub) === "reject") rejected++;
      }
      assertEquals(rejected, N);
      const totals = b.status().rejectedFrames;
      assertEquals(Object.values(totals).reduce((s, n) => s + n, 0), N);
      assertEquals(hb.consensus.length, 0);
      // Over the bound: one byte more than MAX_FRAME_BYTES is dropped unread.
      assertEquals(
        b.inbound("consensus", "fuzzer", new Uint8Array(1024 * 1024 + 1), pub),
        "reject",
      );
      assertEquals(b.status().rejectedFrames.TOO_LARGE, totals.TOO_LARGE + 1);
      // The node still accepts a valid frame.
      assertEquals(b.inbound("consensus", "honest", valid, pub), "accept");
      assertEquals(hb.consensus.length, 1);
    } finally {
      await b.stop();
    }
  },
);

Deno.test(
  "p2p: three nodes in a line: an action batch from the first reaches the third through the second",
  async () => {
    const set = await makeSet(3);
    const hosts = [new FakeHost(), new FakeHost(), new FakeHost()];
    const nodes: P2pNode[] = [];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await startNode(set, i, hosts[i]));
      await connect(nodes[0], nodes[1]);
      await connect(nodes[1], nodes[2]);
      const action = { kind: "register", agent: "ada" };
      assert(
        await waitFor(() => {
          if (hosts[2].actions.length === 0) nodes[0].gossipActions("key-1", [action]);
          return hosts[2].actions.length > 0;
        }),
      );
      assertEquals(hosts[2].actions[0], { key: "key-1", actions: [action] });
      assertEquals(hosts[1].actions[0], { key: "key-1", actions: [action] });
      // The third never connected to the first: the frame was relayed, its envelope intact.
      assert(!nodes[2].connectedPeers.includes(nodes[0].peerId));
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
);
