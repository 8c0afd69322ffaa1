/**
 * The node's network: a js-libp2p host (TCP, Noise, yamux, identify, gossipsub) whose
 * identity is the validator's Ed25519 key, so a peer id names exactly one genesis key.
 *
 * - Gossip topics per world: `/awr/<world>/consensus/1` (votes, proposals),
 *   `/awr/<world>/actions/1` (accepted actions), `/awr/<world>/heads/1` (heads).
 *   Every frame is a signed envelope (`envelope.ts`); consensus frames must come from a
 *   genesis validator and their vote/proposal signatures are checked before the node
 *   sees them. A dropped frame is counted for its peer and returned to gossipsub as
 *   `Reject`, which lowers the peer's score (invalid-delivery penalty).
 * - Sync (`sync.ts`): a node behind the best announced head asks that peer for blocks.
 * @module
 */
// deno-lint-ignore no-import-prefix
import { TopicValidatorResult } from "npm:@libp2p/gossipsub@17.1.1";
// deno-lint-ignore no-import-prefix
import type { Message } from "npm:@libp2p/gossipsub@17.1.1";
// deno-lint-ignore no-import-prefix
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { createHost, type Lib, type PeerId, stopHost, type Stream } from "./_libp2p.ts";
import { SyncPeer } from "./sync_peer.ts";
import { errorMessage } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import { ed25519Signer, ed25519Verifier, type ValidatorKey } from "./keys.ts";
import {
  type EnvelopeSender,
  MAX_FRAME_BYTES,
  openEnvelope,
  type RejectCode,
  sealEnvelope,
} from "./envelope.ts";
import { PeerBook, type PeerRecord } from "./peers.ts";
import { checkConsensusBody, consensusFrames, parseActionsBody, parseHeadBody } from "./bodies.ts";
import type { CommitSource } from "./sync.ts";
import { type P2pOptions, resolveP2pOptions } from "./p2p_options.ts";
import type { BftMessage } from "../consensus/bft/types.ts";
import type { BlockAction } from "../consensus/types.ts";

export { defaultP2pOptions, type P2pOptions } from "./p2p_options.ts";

/** What the network needs from the node. */
export interface P2pHost {
  /** Hands a verified consensus message (or a synced commit) to the node. */
  receiveConsensus(message: unknown): boolean;
  /** The node's head, announced on the heads topic. */
  head(): {
    height: number;
    blockHash: string | null;
    executionHeight: number;
    stateRoot: string | null;
  };
  /** Committed blocks with certificates, for peers that sync from this node. */
  commitAt: CommitSource;
  /** Queues actions another node accepted (same idempotency key ⇒ same ids). */
  receiveActions(key: string, actions: readonly BlockAction[]): Promise<void>;
  /**
   * A head announced by a genesis validator (its envelope key authenticated it): its
   * execution claim, checked by the node's execution agreement. Optional.
   */
  receiveHead?(validator: string, executionHeight: number, stateRoot: string): void;
}

/** A validator of the genesis as the network sees it. */
export interface P2pValidator {
  readonly id: string;
  readonly publicKey: string;
  readonly stake: number;
}

/** The network status (`p2p` in /v1/status). */
export interface P2pStatus {
  readonly peerId: string;
  readonly listen: string[];
  readonly connectedPeers: number;
  readonly networkCommittedHeight: number;
  readonly acceptedFrames: number;
  readonly rejectedFrames: Readonly<Record<RejectCode, number>>;
  readonly peers: PeerRecord[];
  readonly sync: { readonly requests: number; readonly failures: number; readonly commits: number };
}

/**
 * One node's libp2p network.
 *
 * @example
 * ```ts ignore
 * const net = await P2pNode.start({ worldId: "w", key, self: "v1", validators, host,
 *   options: { listen: ["/ip4/127.0.0.1/tcp/0"] } });
 * net.broadcast(message);
 * await net.stop();
 * ```
 */
export class P2pNode {
  readonly #lib: Lib;
  readonly #o: ReturnType<typeof resolveP2pOptions>;
  readonly #world: string;
  readonly #host: P2pHost;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #sender: EnvelopeSender;
  readonly #keys: Map<string, string>;
  readonly #byKey: Map<string, string>;
  readonly #set: BftValidatorSet;
  readonly #verifier;
  readonly #book: PeerBook;
  readonly #topics: { consensus: string; actions: string; heads: string };
  readonly #syncProtocol: string;
  #timers: ReturnType<typeof setInterval>[] = [];
  #lastAnnounce = -Infinity;
  #announceTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #sync: SyncPeer;
  #dialing = new Set<string>();
  #stopped = false;
  /** Consensus messages waiting for the end of the current run (see `broadcast`). */
  #outbox: BftMessage[] = [];

  private constructor(
    lib: Lib,
    c: P2pNodeConfig,
    o: ReturnType<typeof resolveP2pOptions>,
  ) {
    this.#lib = lib;
    this.#o = o;
    this.#world = c.worldId;
    this.#host = c.host;
    this.#log = c.logger ?? silentLogger;
    this.#clock = c.clock ?? Date.now;
    this.#keys = new Map(c.validators.map((v) => [v.id, v.publicKey]));
    this.#byKey = new Map(c.validators.map((v) => [v.publicKey, v.id]));
    this.#set = new BftValidatorSet(c.validators.map((v) => ({ ...v })));
    this.#verifier = ed25519Verifier(c.validators);
    this.#book = new PeerBook(o.maxTrackedPeers, this.#clock);
    this.#sender = {
      world: c.worldId,
      from: c.self ?? "",
      publicKey: c.key.publicKey,
      signer: ed25519Signer(c.key),
    };
    const base = `/awr/${c.worldId}`;
    this.#topics = {
      consensus: `${base}/consensus/1`,
      actions: `${base}/actions/1`,
      heads: `${base}/heads/1`,
    };
    this.#syncProtocol = `${base}/sync/1`;
    this.#sync = new SyncPeer({
      lib,
      protocol: this.#syncProtocol,
      worldId: c.worldId,
      validators: this.#set,
      verifier: this.#verifier,
      book: this.#book,
      host: c.host,
      options: o,
      clock: this.#clock,
      log: this.#log,
    });
  }

  /** Starts the host, subscribes to the world's topics and dials the peers. */
  static async start(c: P2pNodeConfig): Promise<P2pNode> {
    const o = resolveP2pOptions(c.options ?? {});
    const topics = ["consensus", "actions", "heads"].map((t) => `/awr/${c.worldId}/${t}/1`);
    const lib = await createHost(c.key, o.listen, topics);
    const node = new P2pNode(lib, c, o);
    await node.#wire();
    return node;
  }

  async #wire(): Promise<void> {
    const ps = this.#lib.services.pubsub;
    for (const [kind, topic] of Object.entries(this.#topics)) {
      ps.topicValidators.set(
        topic,
        (peer: PeerId, msg: Message) => this.#validate(kind, peer, msg),
      );
      ps.subscribe(topic);
    }
    await this.#lib.handle(this.#syncProtocol, (stream: Stream, conn) => {
      this.#sync.serve(stream, conn.remotePeer.toString()).catch((err) =>
        this.#log.debug("sync request failed", { error: errorMessage(err) })
      );
    }, { maxInboundStreams: this.#o.maxSyncInFlight * 4 });
    this.#timers.push(setInterval(() => this.#announce(), this.#o.headIntervalMs));
    this.#timers.push(setInterval(() => this.#sync.tick(), this.#o.syncIntervalMs));
    this.#timers.push(setInterval(() => this.#dialPeers(), this.#o.redialIntervalMs));
    this.#dialPeers();
  }

  /** Stops the timers and the host (closes every connection). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#sync.stop();
    if (this.#announceTimer !== null) clearTimeout(this.#announceTimer);
    this.#announceTimer = null;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await stopHost(this.#lib);
  }

  /**
   * Announces this node's head now (e.g. after it executed a height: peers check its
   * execution claim without waiting for the periodic announcement), or once
   * `minHeadGapMs` has passed since the last one; calls in between are coalesced.
   */
  announceSoon(): void {
    if (this.#stopped || this.#announceTimer !== null) return;
    const wait = this.#lastAnnounce + this.#o.minHeadGapMs - performance.now();
    if (wait <= 0) return this.#announce();
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = null;
      if (!this.#stopped) this.#announce();
    }, wait);
  }

  /** This node's peer id. */
  get peerId(): string {
    return this.#lib.peerId.toString();
  }

  /** Listen addresses (with `/p2p/<id>`). */
  get addresses(): string[] {
    return this.#lib.getMultiaddrs().map((m) => m.toString());
  }

  /** Gossipsub's score of `peerId` (negative after rejected frames). */
  peerScore(peerId: string): number {
    // The GossipSub class has it; the service interface does not list it.
    const ps = this.#lib.services.pubsub as unknown as { getScore(id: string): number };
    return ps.getScore(peerId);
  }

  /** Dials `addr` (a multiaddr) now. */
  async dial(addr: string): Promise<void> {
    await this.#lib.dial(multiaddr(addr), { signal: AbortSignal.timeout(this.#o.dialTimeoutMs) });
  }

  /**
   * Gossips a consensus message a local validator sent. The messages sent in one
   * synchronous run (a proposal and its proposer's prevote, a stuck round's relays) leave
   * together at the end of it, up to `MAX_CONSENSUS_BUNDLE` (`bodies.ts`) per frame: one
   * envelope, one signature and one send per peer instead of one each.
   */
  broadcast(message: BftMessage): void {
    this.#outbox.push(message);
    if (this.#outbox.length === 1) queueMicrotask(() => this.#sendOutbox());
  }

  #sendOutbox(): void {
    const messages = this.#outbox;
    this.#outbox = [];
    const seal = (body: unknown) => sealEnvelope(this.#sender, "consensus", body);
    // Off the caller's stack now: a message that cannot be sealed is said here.
    const failed = (err: unknown) =>
      this.#log.error("consensus message not sent", { error: errorMessage(err) });
    for (const frame of consensusFrames(messages, seal, failed)) {
      this.#publish(this.#topics.consensus, frame);
    }
  }

  /** Gossips actions this node accepted (durable) under their idempotency key. */
  gossipActions(key: string, actions: readonly BlockAction[]): void {
    this.#publish(this.#topics.actions, sealEnvelope(this.#sender, "actions", { key, actions }));
  }

  /**
   * TEST ONLY: publishes raw bytes on the topic of `kind` (fuzz and forgery tests);
   * resolves with the number of peers gossipsub sent it to: 0 for bytes it saw in the
   * last 2 minutes (its message id is the frame's hash; a sealed envelope never repeats).
   */
  async publishFrame(kind: "consensus" | "actions" | "heads", frame: Uint8Array): Promise<number> {
    const r = await this.#lib.services.pubsub.publish(this.#topics[kind], frame);
    return r.recipients.length;
  }

  /** Peers with an open connection. */
  get connectedPeers(): string[] {
    return this.#lib.getPeers().map((p) => p.toString());
  }

  /** The network's status. */
  status(): P2pStatus {
    const own = this.#host.head().height;
    return {
      peerId: this.peerId,
      listen: this.addresses,
      connectedPeers: this.#lib.getPeers().length,
      networkCommittedHeight: Math.max(own, this.#book.bestHeight().height),
      acceptedFrames: this.#book.acceptedTotal,
      rejectedFrames: this.#book.totals(),
      peers: this.#book.list(),
      sync: this.#sync.counters,
    };
  }

  /**
   * Checks one gossip frame as gossipsub's topic validator (also the entry point of the
   * fuzz tests): Accept hands it to the node; Reject counts it for the peer.
   */
  inbound(kind: string, peerId: string, data: Uint8Array, publisherKey: string | null) {
    const reject = (code: RejectCode) => {
      this.#book.reject(peerId, code);
      return TopicValidatorResult.Reject;
    };
    if (data.length > MAX_FRAME_BYTES) return reject("TOO_LARGE");
    const e = openEnvelope(data, { world: this.#world, validators: this.#keys, publisherKey });
    if (typeof e === "string") return reject(e);
    if (e.kind !== kind) return reject("MALFORMED");
    if (kind === "consensus") {
      const messages = checkConsensusBody(e.body, this.#world, this.#set, this.#verifier);
      if (typeof messages === "string") return reject(messages);
      const p = this.#book.accept(peerId);
      p.validator = e.from;
      for (const m of messages) this.#host.receiveConsensus(m);
    } else if (kind === "heads") {
      const head = parseHeadBody(e.body);
      if (!head) return reject("BAD_BODY");
      const p = this.#book.accept(peerId);
      p.validator = this.#byKey.get(e.key) ?? null;
      p.head = { ...head, lastSeenUnixMs: this.#clock() };
      if (p.validator !== null && head.executionHeight > 0 && head.stateRoot !== null) {
        this.#host.receiveHead?.(p.validator, head.executionHeight, head.stateRoot);
      }
    } else {
      const a = parseActionsBody(e.body, this.#o.maxGossipActions);
      if (!a) return reject("BAD_BODY");
      this.#book.accept(peerId);
      this.#host.receiveActions(a.key, a.actions).catch((err) =>
        this.#log.warn("gossiped actions not queued", { error: errorMessage(err) })
      );
    }
    return TopicValidatorResult.Accept;
  }

  #validate(kind: string, peer: PeerId, msg: Message) {
    // Gossipsub runs StrictNoSign (`_libp2p.ts`): no publisher to match the envelope's
    // key against; the envelope's signature is the origin's proof.
    return this.inbound(kind, peer.toString(), msg.data, null);
  }

  #publish(topic: string, frame: Uint8Array): void {
    if (this.#stopped) return;
    this.#lib.services.pubsub.publish(topic, frame).catch((err) =>
      this.#log.debug("gossip publish failed", { topic, error: errorMessage(err) })
    );
  }

  #announce(): void {
    this.#lastAnnounce = performance.now();
    const h = this.#host.head();
    this.#publish(
      this.#topics.heads,
      sealEnvelope(this.#sender, "heads", {
        height: h.height,
        block_hash: h.blockHash,
        execution_height: h.executionHeight,
        state_root: h.stateRoot,
      }),
    );
  }

  #dialPeers(): void {
    if (this.#stopped) return;
    const connected = new Set(
      this.#lib.getConnections().map((c) => c.remoteAddr.toString().split("/p2p/")[0]),
    );
    const own = new Set(this.addresses.map((a) => a.split("/p2p/")[0]));
    for (const addr of this.#o.peers) {
      const bare = addr.split("/p2p/")[0];
      if (own.has(bare) || connected.has(bare) || this.#dialing.has(addr)) continue;
      this.#dialing.add(addr);
      this.dial(addr)
        .catch((err) => this.#log.debug("dial failed", { addr, error: errorMessage(err) }))
        .finally(() => this.#dialing.delete(addr));
    }
  }
}

/** What {@link P2pNode.start} needs. */
export interface P2pNodeConfig {
  readonly worldId: string;
  /** The node's key (libp2p identity and envelope signer). */
  readonly key: ValidatorKey;
  /** This node's validator id, or null when it is no validator. */
  readonly self: string | null;
  /** The genesis validator set. */
  readonly validators: readonly P2pValidator[];
  readonly host: P2pHost;
  readonly options?: Partial<P2pOptions>;
  readonly logger?: Logger;
  /** Unix ms (tests inject one). */
  readonly clock?: () => number;
}
