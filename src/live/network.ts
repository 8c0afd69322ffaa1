/**
 * The live node's p2p network (`--listen`, `--peers`, peers from the genesis): starts
 * the libp2p host over a running node and reports it in status and metrics.
 * @module
 */
import type { Logger } from "../logger.ts";
import type { NodeRuntime } from "../node/runtime.ts";
import type { GenesisNode } from "../net/genesis_node.ts";
import { nodeHost } from "../net/node_host.ts";
import { P2pNode, type P2pOptions } from "../net/p2p.ts";
import type { LiveGauges } from "./metrics.ts";

/** Where the network listens and whom it dials. */
export interface LiveNetworkOptions {
  /** Multiaddrs to listen on (`--listen`). */
  readonly listen: readonly string[];
  /** Extra peers to dial (`--peers`), besides the genesis addresses. */
  readonly peers: readonly string[];
  /** Further tunables (tests shorten intervals). */
  readonly tuning?: Partial<P2pOptions>;
}

/**
 * Starts the network of a genesis node: peers = `--peers` plus every other
 * validator's genesis address.
 *
 * @example
 * ```ts ignore
 * const p2p = await startLiveNetwork(net, node, { listen: ["/ip4/0.0.0.0/tcp/26656"], peers: [] }, log);
 * ```
 */
export async function startLiveNetwork(
  net: GenesisNode,
  node: NodeRuntime,
  o: LiveNetworkOptions,
  logger: Logger,
): Promise<P2pNode> {
  const g = net.genesis;
  const fromGenesis = [...g.addresses].filter(([id]) => id !== net.localValidator).map(([, a]) =>
    a
  );
  return await P2pNode.start({
    worldId: net.worldId,
    key: net.key,
    self: net.localValidator,
    validators: g.validators.validators.map((v) => ({
      id: v.id,
      publicKey: v.publicKey,
      stake: v.stake,
    })),
    host: nodeHost(node),
    options: { ...o.tuning, listen: o.listen, peers: [...new Set([...o.peers, ...fromGenesis])] },
    logger,
  });
}

/**
 * Announces the node's head as soon as it executed a height (peers check its execution
 * claim at once instead of at the next periodic announcement). Returns the unsubscribe.
 */
export function announceOnExecution(node: NodeRuntime, p2p: P2pNode): () => void {
  return node.events.on("execution", () => p2p.announceSoon());
}

/** The status fields the network fills (`network_committed_height`, `known_peer_heads`, `p2p`). */
export function networkStatus(
  p2p: P2pNode,
  diverged: ReadonlySet<string> = new Set(),
): Record<string, unknown> {
  const s = p2p.status();
  const heads: Record<string, unknown> = {};
  for (const p of s.peers) {
    if (!p.head) continue;
    heads[p.validator ?? p.peerId] = {
      peer_id: p.peerId,
      validator: p.validator,
      height: p.head.height,
      block_hash: p.head.blockHash,
      execution_height: p.head.executionHeight,
      state_root: p.head.stateRoot,
      last_seen_unix_ms: p.head.lastSeenUnixMs,
      // Its execution claims differ from this node's (execution agreement).
      diverged: p.validator !== null && diverged.has(p.validator),
    };
  }
  return {
    network_committed_height: s.networkCommittedHeight,
    known_peer_heads: heads,
    p2p: {
      peer_id: s.peerId,
      listen: s.listen,
      connected_peers: s.connectedPeers,
      accepted_frames: s.acceptedFrames,
      rejected_frames: s.rejectedFrames,
      peers: s.peers.map((p) => ({
        peer_id: p.peerId,
        validator: p.validator,
        accepted: p.accepted,
        rejected: p.rejected,
        last_seen_unix_ms: p.lastSeenUnixMs,
      })),
      sync: s.sync,
    },
  };
}

/** The network's gauges for /metrics. */
export function networkGauges(p2p: P2pNode): NonNullable<LiveGauges["p2p"]> {
  const s = p2p.status();
  return {
    connectedPeers: s.connectedPeers,
    networkCommittedHeight: s.networkCommittedHeight,
    acceptedFrames: s.acceptedFrames,
    rejectedFrames: s.rejectedFrames,
    rejectedByPeer: Object.fromEntries(
      s.peers.map((p) => [p.peerId, Object.values(p.rejected).reduce((a, n) => a + (n ?? 0), 0)]),
    ),
  };
}
