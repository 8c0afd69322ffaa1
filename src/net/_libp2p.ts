/**
 * The libp2p host of a node: TCP, Noise (bound to the node's Ed25519 key), yamux,
 * identify and gossipsub with peer scoring on the world's topics (an invalid frame
 * costs the peer that delivered it: Reject → invalid-message-delivery penalty), without
 * gossipsub message signatures (`StrictNoSign`: the envelope carries the origin's).
 * @module
 */
// Explicit npm: specifiers, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { createLibp2p, type Libp2p } from "npm:libp2p@3.3.11";
// deno-lint-ignore no-import-prefix
import { tcp } from "npm:@libp2p/tcp@11.0.28";
// deno-lint-ignore no-import-prefix
import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
// deno-lint-ignore no-import-prefix
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
// deno-lint-ignore no-import-prefix
import { identify } from "npm:@libp2p/identify@4.1.14";
// deno-lint-ignore no-import-prefix
import { type GossipSub, gossipsub } from "npm:@libp2p/gossipsub@17.1.1";
// deno-lint-ignore no-import-prefix
import { createTopicScoreParams } from "npm:@libp2p/gossipsub@17.1.1/score";
// deno-lint-ignore no-import-prefix
import { privateKeyFromRaw } from "npm:@libp2p/crypto@5.1.23/keys";
import { AwrError, errorMessage } from "../errors.ts";
import { MAX_FRAME_BYTES } from "./envelope.ts";
import type { ValidatorKey } from "./keys.ts";
import { installLazyWindowUpdates } from "./_yamux_window.ts";
import { installCachedEd25519 } from "./_libp2p_ed25519.ts";
import { installJoinedWrites, joinedWritesInstalled } from "./_tcp_write.ts";

/** The libp2p node type with our services. */
export type Lib = Libp2p<{ pubsub: GossipSub }>;
/** A libp2p peer id. */
export type PeerId = Lib["peerId"];
/** A libp2p stream. */
export type Stream = Awaited<ReturnType<Lib["dialProtocol"]>>;

/** Creates and starts the host listening on `listen`, gossipsub allowed only `topics`. */
export async function createHost(
  key: ValidatorKey,
  listen: readonly string[],
  topics: readonly string[],
): Promise<Lib> {
  // libp2p's raw Ed25519 private key is seed || public key.
  const raw = new Uint8Array(64);
  raw.set(key.seed, 0);
  raw.set(key.publicKey, 32);
  const topicScore = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
  });
  installLazyWindowUpdates();
  const privateKey = privateKeyFromRaw(raw);
  installCachedEd25519(privateKey);
  let host: Lib;
  try {
    host = await createLibp2p({
      privateKey,
      addresses: { listen: [...listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          maxInboundDataLength: MAX_FRAME_BYTES + 4096,
          // No gossipsub signature (and no publisher id or sequence number): every frame
          // is an envelope signed by its origin's validator key (`envelope.ts`), checked
          // by the topic validator, so gossipsub's own Ed25519 signature over the same
          // bytes (signed per publish, verified per receipt) was a second proof of the same
          // origin. The message id is then sha256 of the data (gossipsub's default).
          // Every node of a network must run this policy: a StrictSign peer rejects these.
          globalSignaturePolicy: "StrictNoSign",
          // Bytes seen in the last 2 minutes are not sent again, and not an error either
          // (only test frames can repeat: a sealed envelope never does).
          ignoreDuplicatePublishError: true,
          // No mesh: flood publish reaches every connected subscriber once; forwarding
          // (each receiver sending every frame on to its mesh) only made copies in a
          // fully connected validator set. Gossip (IHAVE/IWANT) still covers the rest.
          D: 0,
          Dlo: 0,
          Dhi: 0,
          Dout: 0,
          Dscore: 0,
          // A frame goes to all peers as the same bytes: one RPC encoding per publish, not
          // one per peer.
          batchPublish: true,
          // IHAVE lists the ids of the last heartbeat's frames (1 s), not the last 3: every
          // connected peer already got them by flood publish, so each IHAVE was ~800 ids
          // at 30 heights/s, built and checked id by id, to help only a peer that is not
          // connected to the origin (one heartbeat of ids still reaches it; consensus
          // relays and sync cover longer gaps).
          mcacheGossip: 1,
          allowedTopics: [...topics],
          scoreParams: {
            topics: Object.fromEntries(topics.map((t) => [t, topicScore])),
            appSpecificScore: () => 0,
          },
        }),
      },
    });
  } catch (err) {
    throw new AwrError(
      "P2P_START",
      `cannot start the p2p host on --listen ${listen.join(",")}: ${errorMessage(err)}`,
      { listen },
    );
  }
  // One socket write per send (`_tcp_write.ts`): the class is reached through the first
  // connection, after which the listener has nothing left to do.
  const onOpen = (evt: CustomEvent<{ maConn?: unknown }>) => {
    if (installJoinedWrites(evt.detail?.maConn)) {
      host.removeEventListener("connection:open", onOpen as never);
    }
  };
  if (!joinedWritesInstalled()) host.addEventListener("connection:open", onOpen as never);
  return host;
}

/** The libp2p internals {@link stopHost} reaches (private in their classes, so optional). */
interface HostInternals {
  services: { pubsub: { status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> } } };
  components: {
    addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } };
    connectionManager?: {
      inboundConnectionRateLimiter?: {
        memoryStorage?: {
          storage?: Map<string, { timeoutId?: ReturnType<typeof setTimeout> }>;
        };
      };
    };
  };
}

/**
 * Stops the host and releases the timers `libp2p.stop()` leaves behind (each is found
 * in the installed sources under node_modules/.deno/…; a test with the op sanitizer on
 * fails when one of them comes back after an upgrade):
 * - gossipsub's next heartbeat: `stop()` replaces `status` without clearing
 *   `status.heartbeatTimeout` (@libp2p/gossipsub 17.1.1 src/gossipsub.ts:516 sets it,
 *   :558 drops it), so it is read before the stop and cleared after it;
 * - the address manager's 1 s debounce of `_updatePeerStoreAddresses`, armed by the
 *   `transport:close` event of the stop itself and never stopped (libp2p 3.3.11
 *   src/address-manager/index.ts:158/166; @libp2p/utils 7.4.1 src/debounce.ts:22 has the
 *   `stop()` nobody calls);
 * - the inbound-connection rate limiter's expiry timeouts, one per remote host for 1 s
 *   (libp2p 3.3.11 src/connection-manager/index.ts:253/680; @libp2p/utils 7.4.1
 *   src/rate-limiter.ts:213), which outlive the connection manager;
 * - it-queue's 1 ms `empty`/`idle` debounces (it-queue 1.1.4 src/index.ts:166/167 via
 *   src/utils.ts:26), armed when a job of one of libp2p's queues settles during the stop:
 *   a wait of {@link STOP_SETTLE_MS} lets them fire.
 */
export async function stopHost(lib: Lib): Promise<void> {
  const inner = lib as unknown as HostInternals;
  const gossip = inner.services.pubsub.status;
  try {
    await lib.stop();
  } finally {
    clearTimeout(gossip?.heartbeatTimeout);
    inner.components.addressManager?._updatePeerStoreAddresses?.stop?.();
    const limits = inner.components.connectionManager?.inboundConnectionRateLimiter
      ?.memoryStorage?.storage;
    for (const record of limits?.values() ?? []) clearTimeout(record.timeoutId);
    limits?.clear();
  }
  await new Promise((resolve) => setTimeout(resolve, STOP_SETTLE_MS));
}

/** How long {@link stopHost} waits after the stop for libp2p's 1 ms queue debounces (ms). */
export const STOP_SETTLE_MS = 5;

/** Reads a stream to its end; null when it is longer than `max` bytes (then aborted). */
export async function readAll(
  stream: Stream,
  max: number,
  signal: AbortSignal,
): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => stream.abort(new Error("timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const c of stream) {
      const b = c instanceof Uint8Array ? c : c.subarray();
      size += b.length;
      if (size > max) {
        stream.abort(new Error(`more than ${max} bytes`));
        return null;
      }
      chunks.push(b);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const b of chunks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
