/**
 * Peer heads feed the execution agreement: a head frame from a genesis validator hands
 * its execution claim to the host (`receiveHead`, which the live node maps to
 * `NodeRuntime.observePeerClaim`); heads without a claim, or from a key the genesis
 * does not list, do not.
 */
import { assertEquals } from "@std/assert";
import { P2pNode } from "../../src/net/p2p.ts";
import { sealEnvelope } from "../../src/net/envelope.ts";
import { ed25519Signer, generateValidatorKey, type ValidatorKey } from "../../src/net/keys.ts";
import { FakeHost, makeSet } from "../support/p2p_fixture.ts";

// js-libp2p leaves timers running after stop() (see tests/unit/p2p_net_test.ts).
const LIBP2P_LEAKS = { sanitizeOps: false, sanitizeResources: false };

/** A host that also records the claims of announced heads. */
class HeadHost extends FakeHost {
  readonly claims: [string, number, string][] = [];
  receiveHead(validator: string, executionHeight: number, stateRoot: string): void {
    this.claims.push([validator, executionHeight, stateRoot]);
  }
}

function head(key: ValidatorKey, from: string, world: string, body: Record<string, unknown>) {
  const sender = { world, from, publicKey: key.publicKey, signer: ed25519Signer(key) };
  return sealEnvelope(sender, "heads", {
    height: 7,
    block_hash: "aa".repeat(32),
    execution_height: 6,
    state_root: "bb".repeat(32),
    ...body,
  });
}

Deno.test(
  "p2p heads: a validator's announced execution claim reaches receiveHead; others do not",
  LIBP2P_LEAKS,
  async () => {
    const set = await makeSet(3);
    const host = new HeadHost();
    const node = await P2pNode.start({
      worldId: set.world,
      key: set.keys[1],
      self: "v2",
      validators: set.validators,
      host,
      options: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    });
    try {
      const v1 = set.keys[0];
      assertEquals(
        node.inbound("heads", "peer-v1", head(v1, "v1", set.world, {}), v1.publicKeyHex),
        "accept",
      );
      assertEquals(host.claims, [["v1", 6, "bb".repeat(32)]]);
      const known = node.status().peers.find((p) => p.peerId === "peer-v1");
      assertEquals(known?.validator, "v1");
      assertEquals(known?.head?.executionHeight, 6);
      // No claim yet (nothing executed): nothing to check.
      node.inbound(
        "heads",
        "peer-v1",
        head(v1, "v1", set.world, { execution_height: 0, state_root: null }),
        v1.publicKeyHex,
      );
      // A follower's key (not in the genesis): its head is kept, its claim is no validator's.
      const follower = await generateValidatorKey();
      node.inbound("heads", "peer-f", head(follower, "", set.world, {}), follower.publicKeyHex);
      assertEquals(host.claims.length, 1);
    } finally {
      await node.stop();
    }
  },
);
