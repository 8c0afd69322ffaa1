/**
 * The libp2p host of a node: TCP, Noise (bound to the node's Ed25519 key), yamux,
 * identify and gossipsub with peer scoring on the world's topics (an invalid frame
 * costs its sender: Reject → invalid-message-delivery penalty).
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
  try {
    return await createLibp2p({
      privateKey: privateKeyFromRaw(raw),
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
}

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
