/**
 * What the node knows about its peers: the head each one last announced and the
 * frames it sent that were accepted or dropped (by reason). Bounded: at most
 * `maxPeers` peers are tracked; the least recently seen one is forgotten first.
 * @module
 */
import { REJECT_CODES, type RejectCode } from "./envelope.ts";

/** A peer's announced head (`known_peer_heads` in /v1/status). */
export interface PeerHead {
  readonly height: number;
  readonly blockHash: string | null;
  readonly executionHeight: number;
  readonly stateRoot: string | null;
  /** Unix ms when the announcement arrived. */
  readonly lastSeenUnixMs: number;
}

/** One tracked peer. */
export interface PeerRecord {
  /** libp2p peer id. */
  readonly peerId: string;
  /** Genesis validator id of the peer's key, or null. */
  validator: string | null;
  head: PeerHead | null;
  accepted: number;
  readonly rejected: Partial<Record<RejectCode, number>>;
  lastSeenUnixMs: number;
}

/** Default most peers tracked. */
export const DEFAULT_MAX_TRACKED_PEERS = 256;

/**
 * The peer table.
 *
 * @example
 * ```ts
 * import { PeerBook } from "./peers.ts";
 * const book = new PeerBook(16, () => 0);
 * book.reject("peer-a", "MALFORMED");
 * book.totals().MALFORMED; // 1
 * ```
 */
export class PeerBook {
  readonly #peers = new Map<string, PeerRecord>();
  readonly #max: number;
  readonly #clock: () => number;
  readonly #totals: Record<RejectCode, number>;
  #accepted = 0;

  /**
   * @param maxPeers most peers tracked
   * @param clock unix ms
   */
  constructor(maxPeers: number, clock: () => number) {
    this.#max = maxPeers;
    this.#clock = clock;
    this.#totals = Object.fromEntries(REJECT_CODES.map((c) => [c, 0])) as Record<
      RejectCode,
      number
    >;
  }

  /** The record of `peerId`, created when new. */
  get(peerId: string): PeerRecord {
    let p = this.#peers.get(peerId);
    if (p) {
      // Most recently touched last (Map order), so the first is the one to forget.
      this.#peers.delete(peerId);
    } else {
      p = { peerId, validator: null, head: null, accepted: 0, rejected: {}, lastSeenUnixMs: 0 };
      if (this.#peers.size >= this.#max) this.#peers.delete(this.#peers.keys().next().value!);
    }
    p.lastSeenUnixMs = this.#clock();
    this.#peers.set(peerId, p);
    return p;
  }

  /** Counts a dropped frame from `peerId`. */
  reject(peerId: string, code: RejectCode): void {
    const p = this.get(peerId);
    p.rejected[code] = (p.rejected[code] ?? 0) + 1;
    this.#totals[code]++;
  }

  /** Counts an accepted frame from `peerId`. */
  accept(peerId: string): PeerRecord {
    const p = this.get(peerId);
    p.accepted++;
    this.#accepted++;
    return p;
  }

  /** Dropped frames by reason, since start (every code present). */
  totals(): Readonly<Record<RejectCode, number>> {
    return { ...this.#totals };
  }

  /** Accepted frames since start. */
  get acceptedTotal(): number {
    return this.#accepted;
  }

  /** Every tracked peer (copies). */
  list(): PeerRecord[] {
    return [...this.#peers.values()].map((p) => ({ ...p, rejected: { ...p.rejected } }));
  }

  /** Highest height announced by a peer (0 when none). */
  bestHeight(): { height: number; peerId: string | null } {
    let best = { height: 0, peerId: null as string | null };
    for (const p of this.#peers.values()) {
      if (p.head && p.head.height > best.height) best = { height: p.head.height, peerId: p.peerId };
    }
    return best;
  }
}
