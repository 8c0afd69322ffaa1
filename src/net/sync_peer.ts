/**
 * Both sides of block sync for one node (protocol in `sync.ts`): serving peers that ask
 * for committed blocks, and asking the peer with the best announced head when this node
 * is behind — one bounded batch at a time, at most `maxSyncInFlight` requests, each
 * bounded in bytes and time. A response that fails verification is counted against
 * its peer (`BAD_CERTIFICATE`) and nothing of it reaches the node.
 * @module
 */
import type { Verifier } from "../consensus/bft/signing.ts";
import type { BftValidatorSet } from "../consensus/bft/validators.ts";
import { AwrError, errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type Lib, readAll, type Stream } from "./_libp2p.ts";
import type { P2pOptions } from "./p2p_options.ts";
import type { PeerBook } from "./peers.ts";
import {
  buildSyncResponse,
  encodeSyncRequest,
  MAX_SYNC_REQUEST_BYTES,
  parseSyncRequest,
  verifySyncResponse,
} from "./sync.ts";
import type { P2pHost } from "./p2p.ts";

/** What a {@link SyncPeer} works with. */
export interface SyncPeerDeps {
  readonly lib: Lib;
  readonly protocol: string;
  readonly worldId: string;
  readonly validators: BftValidatorSet;
  readonly verifier: Verifier;
  readonly book: PeerBook;
  readonly host: P2pHost;
  readonly options: P2pOptions;
  readonly clock: () => number;
  readonly log: Logger;
}

/** Sync counters (`p2p.sync` in /v1/status). */
export interface SyncCounters {
  readonly requests: number;
  readonly failures: number;
  readonly commits: number;
}

/** The sync client and server of one node. */
export class SyncPeer {
  readonly #d: SyncPeerDeps;
  #inFlight = 0;
  #wantedTo = 0;
  #startedAt = 0;
  #stopped = false;
  #counters = { requests: 0, failures: 0, commits: 0 };

  /** @param deps the host, peer table, validator set and bounds */
  constructor(deps: SyncPeerDeps) {
    this.#d = deps;
  }

  /** Requests, failures and commits handed to the node so far. */
  get counters(): SyncCounters {
    return { ...this.#counters };
  }

  /** No new requests after this. */
  stop(): void {
    this.#stopped = true;
  }

  /** Answers one inbound sync stream from `peerId`. */
  async serve(stream: Stream, peerId: string): Promise<void> {
    const o = this.#d.options;
    const signal = AbortSignal.timeout(o.syncTimeoutMs);
    const req = await readAll(stream, MAX_SYNC_REQUEST_BYTES, signal);
    const r = req && parseSyncRequest(req, o.maxSyncBatch);
    if (!r) {
      this.#d.book.reject(peerId, req ? "MALFORMED" : "TOO_LARGE");
      stream.abort(new Error("bad sync request"));
      return;
    }
    const bytes = await buildSyncResponse(r, this.#d.host.commitAt, o.maxSyncResponseBytes);
    stream.send(bytes);
    await stream.close({ signal });
  }

  /** Called periodically: asks the best peer for the next batch when this node is behind. */
  tick(): void {
    const o = this.#d.options;
    if (this.#stopped || this.#inFlight >= o.maxSyncInFlight) return;
    const own = this.#d.host.head().height;
    const best = this.#d.book.bestHeight();
    if (best.peerId === null || best.height <= own) return;
    // Wait for what was asked to be committed (or for it to time out) before asking more.
    const now = this.#d.clock();
    if (own < this.#wantedTo && now - this.#startedAt < o.syncTimeoutMs) return;
    const from = own + 1;
    const count = Math.min(o.maxSyncBatch, best.height - own);
    this.#inFlight++;
    this.#wantedTo = from + count - 1;
    this.#startedAt = now;
    this.#fetch(best.peerId, from, count)
      .catch((err) => {
        this.#counters.failures++;
        this.#wantedTo = 0;
        this.#d.log.debug("sync failed", { peer: best.peerId, error: errorMessage(err) });
      })
      .finally(() => this.#inFlight--);
  }

  async #fetch(peerId: string, from: number, count: number): Promise<void> {
    const d = this.#d;
    this.#counters.requests++;
    const signal = AbortSignal.timeout(d.options.syncTimeoutMs);
    const peer = d.lib.getPeers().find((p) => p.toString() === peerId);
    if (!peer) {
      throw new AwrError("SYNC_FAILED", `peer ${peerId} is not connected`, { peer: peerId });
    }
    const stream = await d.lib.dialProtocol(peer, d.protocol, { signal });
    stream.send(encodeSyncRequest({ from, count }));
    await stream.close({ signal });
    const bytes = await readAll(stream, d.options.maxSyncResponseBytes, signal);
    if (!bytes) {
      d.book.reject(peerId, "TOO_LARGE");
      throw new AwrError("SYNC_FAILED", "sync response too large", { peer: peerId });
    }
    const commits = verifySyncResponse(bytes, {
      worldId: d.worldId,
      validators: d.validators,
      verifier: d.verifier,
      from,
      count,
    });
    if (typeof commits === "string") {
      d.book.reject(peerId, "BAD_CERTIFICATE");
      throw new AwrError("SYNC_FAILED", commits, { peer: peerId });
    }
    if (commits.length === 0) {
      throw new AwrError("SYNC_FAILED", "peer sent no commits", { peer: peerId });
    }
    for (const m of commits) if (d.host.receiveConsensus(m)) this.#counters.commits++;
  }
}
