/**
 * Options of the p2p network with their defaults (documented in README "Network").
 * @module
 */
import { AwrError } from "../errors.ts";

/** Tunables and bounds of the network. */
export interface P2pOptions {
  /** Multiaddrs to listen on (`--listen`). */
  readonly listen: readonly string[];
  /** Multiaddrs to dial and keep dialling while not connected (`--peers`, genesis). */
  readonly peers: readonly string[];
  /** Milliseconds between head announcements. */
  readonly headIntervalMs: number;
  /**
   * Least milliseconds between two announcements (an executed height asks for one at
   * once: `P2pNode.announceSoon`, coalesced within this gap).
   */
  readonly minHeadGapMs: number;
  /** Milliseconds between sync checks. */
  readonly syncIntervalMs: number;
  /** Milliseconds between dials of configured peers that are not connected. */
  readonly redialIntervalMs: number;
  /** Time a dial may take. */
  readonly dialTimeoutMs: number;
  /** Time one sync request (both directions) may take. */
  readonly syncTimeoutMs: number;
  /** Most blocks asked for in one sync request (≤ the engine's maxCommitsAhead). */
  readonly maxSyncBatch: number;
  /** Sync requests in flight at once. */
  readonly maxSyncInFlight: number;
  /** Largest sync response (bytes). */
  readonly maxSyncResponseBytes: number;
  /** Most actions in one gossiped batch. */
  readonly maxGossipActions: number;
  /** Most peers tracked in the peer table. */
  readonly maxTrackedPeers: number;
}

/** The defaults. */
export const defaultP2pOptions: P2pOptions = Object.freeze({
  listen: ["/ip4/127.0.0.1/tcp/26656"],
  peers: [],
  headIntervalMs: 1000,
  minHeadGapMs: 250,
  syncIntervalMs: 250,
  redialIntervalMs: 2000,
  dialTimeoutMs: 5000,
  syncTimeoutMs: 10_000,
  maxSyncBatch: 16,
  maxSyncInFlight: 1,
  maxSyncResponseBytes: 8 * 1024 * 1024,
  maxGossipActions: 256,
  maxTrackedPeers: 256,
});

/** Defaults filled in and every bound checked (throws `P2P_OPTION` naming the option). */
export function resolveP2pOptions(input: Partial<P2pOptions>): P2pOptions {
  const o = { ...defaultP2pOptions, ...input };
  for (
    const k of [
      "headIntervalMs",
      "minHeadGapMs",
      "syncIntervalMs",
      "redialIntervalMs",
      "dialTimeoutMs",
      "syncTimeoutMs",
      "maxSyncBatch",
      "maxSyncInFlight",
      "maxSyncResponseBytes",
      "maxGossipActions",
      "maxTrackedPeers",
    ] as const
  ) {
    const v = o[k];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new AwrError("P2P_OPTION", `p2p option ${k} must be a positive integer, got ${v}`, {
        option: k,
      });
    }
  }
  if (o.maxSyncBatch > 64) {
    throw new AwrError("P2P_OPTION", `p2p option maxSyncBatch must be at most 64`, {
      option: "maxSyncBatch",
    });
  }
  if (o.listen.length === 0) {
    throw new AwrError("P2P_OPTION", "--listen needs at least one multiaddr", { option: "listen" });
  }
  return o;
}
