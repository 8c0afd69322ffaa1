/**
 * Local mode on the BFT engine: one {@link BftEngine} per local validator in one
 * process, messages delivered in-process in a deterministic order (FIFO; recipients
 * in validator-id order), timeouts fired on the node's clock at its ticks.
 *
 * The host's duties (see the engine's JSDoc): outputs are performed in order; a
 * `persist` (signer state) is made durable before any later output leaves the signer:
 * before a message is delivered to another validator, and before or while the node
 * stores a decided block ({@link LocalConsensus.flush}; see `NodeRuntime` for why a
 * block file written alongside is safe). Consecutive persists with nothing leaving in
 * between are coalesced into one write of the newest state.
 * @module
 */
import { BftEngine } from "../consensus/bft/engine.ts";
import type { BftOptions } from "../consensus/bft/options.ts";
import type { SignerStateStore } from "../consensus/bft/signer_state.ts";
import type {
  BftCommit,
  BftMessage,
  EngineInput,
  EngineOutput,
  SignerState,
  TimeoutEvent,
} from "../consensus/bft/types.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import type { Validator } from "../consensus/types.ts";
import type { CborValue } from "../storage/cbor.ts";
import { parsePayload } from "./bft_block.ts";
import { EvidenceLog, type EvidenceSummary } from "./local_evidence.ts";
import type { CrashPoint, LocalKeys } from "./local_keys.ts";

export { type EvidenceSummary, RECENT_EVIDENCE } from "./local_evidence.ts";
export { type CrashPoint, type LocalKeys, localModeKeys } from "./local_keys.ts";

/** Node-clock milliseconds between gossip inputs when several engines run locally. */
export const GOSSIP_MS = 1000;
/** Most messages from outside waiting for the next tick. */
export const MAX_INBOX = 1024;
/** Most timeouts waiting (older ones are dropped first; engines reschedule on progress). */
export const MAX_PENDING_TIMEOUTS = 1024;

/** What {@link LocalConsensus.open} needs. */
export interface LocalConsensusOptions {
  readonly worldId: string;
  readonly validators: readonly Validator[];
  /** Validators this process signs for (each gets an engine). */
  readonly localValidators: readonly string[];
  /** Height to decide next. */
  readonly height: number;
  /** BFT id of the last committed block (or its node hash / "genesis"). */
  readonly lastBlockId: string;
  /**
   * Slot of the last committed block (0 at genesis): a proposal's slot must be above
   * its parent's, so slots and epochs only grow along the chain (default 0).
   */
  readonly lastSlot?: number;
  /** The signer state store of a local validator. */
  readonly store: (id: string) => SignerStateStore;
  readonly keys: LocalKeys;
  readonly options?: Partial<BftOptions>;
  /** TEST ONLY: called at each crash point (the CLI's `--crash-at` kills the process). */
  readonly crashPoint?: (point: CrashPoint) => void;
  /**
   * Called with each message a local engine broadcasts or relays, only once that
   * engine's signer state is durable (the network sends it to remote validators).
   */
  readonly onBroadcast?: (message: BftMessage) => void;
}

/** Queue target meaning "the network" (the `onBroadcast` callback). */
const TO_NETWORK = -2;

/** The observer engine's store: it never signs, so nothing is ever saved. */
const NO_SIGNER_STATE: SignerStateStore = {
  load: () => Promise.resolve(null),
  save: () => Promise.resolve(),
};

interface Local {
  readonly id: string;
  readonly engine: BftEngine;
  readonly store: SignerStateStore;
  /** A persisted state not yet written (coalesced). */
  dirty: SignerState | null;
  /** The value request waiting for the node's answer. */
  request: { height: number; round: number } | null;
  /** Slot of the last block this engine decided (its proposals' parent). */
  readonly parent: { slot: number };
}

/**
 * A valid local-mode payload whose slot, when it is proposed, is above its parent's.
 * Proposers' own slots are their tick counts, which differ between nodes: without
 * this rule a network's blocks went back and forth between epochs (and settled an
 * epoch at every change). A decided block (a commit with its certificate) is not held
 * to it, so a chain made before the rule still syncs.
 */
function validAfter(p: CborValue, parent: { slot: number }, decided: boolean): boolean {
  const v = parsePayload(p);
  return v !== null && (decided || v.slot > parent.slot);
}

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly to: number;
  readonly timeout: TimeoutEvent;
}

/**
 * The local validators' engines and the in-process network between them.
 *
 * @example
 * ```ts ignore
 * import { LocalConsensus, localModeKeys } from "./local_consensus.ts";
 * const c = await LocalConsensus.open({ worldId: "w", validators: [{ id: "v", stake: 1 }],
 *   localValidators: ["v"], height: 1, lastBlockId: "genesis",
 *   store: (id) => new FileSignerStateStore(dir, id), keys: localModeKeys("w") }, Date.now());
 * const commit = await c.tick(Date.now(), (h, r) => payload);
 * ```
 */
export class LocalConsensus {
  readonly #o: LocalConsensusOptions;
  readonly #locals: Local[] = [];
  #timers: Timer[] = [];
  #seq = 0;
  /** Inputs to deliver; `from` = the sending local engine, -1 for the node/outside. */
  #queue: { to: number; from: number; input: EngineInput }[] = [];
  /** Decided blocks not yet handed to the node, in height order. */
  readonly #commits: BftCommit[] = [];
  #lastCommitHeight: number;
  readonly #evidence = new EvidenceLog();
  #lastRefusal: string | null = null;
  #now = 0;
  #nextGossip = 0;
  readonly #inbox: unknown[] = [];

  private constructor(o: LocalConsensusOptions) {
    this.#o = o;
    this.#lastCommitHeight = o.height - 1;
  }

  /** Loads each local validator's signer state, builds its engine and starts it. */
  static async open(o: LocalConsensusOptions, now: number): Promise<LocalConsensus> {
    const c = new LocalConsensus(o);
    const set = new BftValidatorSet(
      [...o.validators].map((v) => ({ id: v.id, publicKey: "", stake: v.stake })),
    );
    const ids = [...o.localValidators].sort();
    if (ids.length === 0) {
      // A node that signs for no validator follows the chain: one observer engine
      // decides the commits peers send (certificates checked), signs nothing.
      const parent = { slot: o.lastSlot ?? 0 };
      const engine = new BftEngine({
        worldId: o.worldId,
        validators: set,
        verifier: o.keys.verifier,
        self: null,
        signer: null,
        height: o.height,
        lastBlockId: o.lastBlockId,
        options: o.options,
        validPayload: (p, _h, decided) => validAfter(p, parent, decided),
      });
      c.#locals.push({
        id: "",
        engine,
        store: NO_SIGNER_STATE,
        dirty: null,
        request: null,
        parent,
      });
    }
    for (const id of ids) {
      const store = o.store(id);
      const parent = { slot: o.lastSlot ?? 0 };
      const engine = new BftEngine({
        worldId: o.worldId,
        validators: set,
        verifier: o.keys.verifier,
        self: id,
        signer: o.keys.signer(id),
        height: o.height,
        lastBlockId: o.lastBlockId,
        signerState: await store.load(),
        options: o.options,
        validPayload: (p, _h, decided) => validAfter(p, parent, decided),
      });
      c.#locals.push({ id, engine, store, dirty: null, request: null, parent });
    }
    c.#now = now;
    for (let i = 0; i < c.#locals.length; i++) {
      c.#queue.push({ to: i, from: -1, input: { kind: "start" } });
    }
    await c.#drain();
    return c;
  }

  /** Evidence seen so far: total and the most recent (`RECENT_EVIDENCE`). */
  get evidence(): { total: number; recent: readonly EvidenceSummary[] } {
    return this.#evidence.summary();
  }

  /** Highest slot of a block decided here (or the start's `lastSlot`). */
  get lastSlot(): number {
    return Math.max(this.#o.lastSlot ?? 0, ...this.#locals.map((l) => l.parent.slot));
  }

  /** The last signing the double-sign guard refused, or null. */
  get lastRefusal(): string | null {
    return this.#lastRefusal;
  }

  /**
   * Stops (false) or resumes every local engine's prevotes and precommits (execution
   * divergence); the engines keep following the chain.
   */
  setVoting(on: boolean): void {
    for (const l of this.#locals) l.engine.setVoting(on);
  }

  /** (height, round, step) of the first local engine. */
  get status(): { height: number; round: number; step: string } {
    const s = this.#locals[0]?.engine.status;
    return { height: s?.height ?? 0, round: s?.round ?? 0, step: s?.step ?? "propose" };
  }

  /**
   * One node tick: delivers the messages received from outside, answers the pending
   * value requests with `value` (null = do not propose this tick: then no value is
   * given and timeouts wait), fires due timeouts, delivers until quiet, and returns the
   * block decided, if any (at most one per tick).
   *
   * Signer states that nothing has carried out of the process yet may still be dirty:
   * the caller must {@link flush} before (or while) it stores the returned commit.
   */
  async tick(
    now: number,
    value: ((height: number, round: number, proposer: string) => CborValue) | null,
  ): Promise<BftCommit | null> {
    this.#now = now;
    // A restart inside a locked height can decide during open(), or a tick whose write
    // failed left its commit: hand those over first.
    if (this.#commits.length > 0 || this.#queue.length > 0) {
      await this.#drain();
      if (this.#commits.length > 0) return this.#takeCommit();
    }
    if (this.#inbox.length > 0) {
      for (const message of this.#inbox.splice(0)) this.#toAll(-1, message);
      await this.#drain();
      if (this.#commits.length > 0) return this.#takeCommit();
    }
    if (value === null) return null;
    for (const [i, l] of this.#locals.entries()) {
      const r = l.request;
      if (!r) continue;
      l.request = null;
      const payload = value(r.height, r.round, l.id);
      this.#queue.push({
        to: i,
        from: -1,
        input: { kind: "value", height: r.height, round: r.round, payload },
      });
    }
    await this.#drain();
    if (this.#commits.length > 0) return this.#takeCommit(); // one decision per tick
    if ((this.#locals.length > 1 || this.#o.onBroadcast) && now >= this.#nextGossip) {
      // Make up for messages a restart lost (an engine that has not moved relays its round).
      this.#nextGossip = now + GOSSIP_MS;
      for (let i = 0; i < this.#locals.length; i++) {
        this.#queue.push({ to: i, from: -1, input: { kind: "gossip" } });
      }
    }
    const due = this.#timers.filter((t) => t.due <= now).sort((a, b) =>
      a.due - b.due || a.seq - b.seq
    );
    if (due.length > 0) {
      this.#timers = this.#timers.filter((t) => t.due > now);
      for (const t of due) {
        this.#queue.push({ to: t.to, from: -1, input: { kind: "timeout", timeout: t.timeout } });
      }
      await this.#drain();
    }
    return this.#takeCommit();
  }

  /**
   * Queues a message from outside (a remote validator; tests) for every local engine at
   * the next tick. False when {@link MAX_INBOX} messages already wait (it is dropped).
   */
  receive(message: unknown): boolean {
    if (this.#inbox.length >= MAX_INBOX) return false;
    this.#inbox.push(message);
    return true;
  }

  /**
   * Makes every dirty signer state durable (one write per validator, in parallel);
   * the crash points of `--crash-at` sit just before and just after the writes.
   */
  async flush(): Promise<void> {
    const dirty = this.#locals.filter((l) => l.dirty !== null);
    if (dirty.length === 0) return;
    this.#o.crashPoint?.("before-signer-persist");
    const states = dirty.map((l) => l.dirty!);
    const results = await Promise.allSettled(dirty.map((l, i) => l.store.save(states[i])));
    for (const [i, l] of dirty.entries()) {
      // Only what was written is clean (a newer state may have come meanwhile).
      if (results[i].status === "fulfilled" && l.dirty === states[i]) l.dirty = null;
    }
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.#o.crashPoint?.("after-signer-persist");
  }

  #takeCommit(): BftCommit | null {
    return this.#commits.shift() ?? null;
  }

  #toAll(from: number, message: unknown): void {
    for (let i = 0; i < this.#locals.length; i++) {
      if (i !== from) this.#queue.push({ to: i, from, input: { kind: "message", message } });
    }
  }

  // Resumable: an item leaves the queue only once its sender's signer state is durable,
  // so a failed write (thrown to the node, which halts and retries) loses nothing.
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const { to, from, input } = this.#queue[0];
      if (from >= 0 && this.#locals[from].dirty !== null) await this.flush();
      this.#queue.shift();
      if (to === TO_NETWORK) {
        if (input.kind === "message") this.#o.onBroadcast?.(input.message as BftMessage);
        continue;
      }
      this.#perform(to, this.#locals[to].engine.step(input));
    }
  }

  #perform(from: number, outputs: EngineOutput[]): void {
    const l = this.#locals[from];
    for (const out of outputs) {
      switch (out.kind) {
        case "persist":
          l.dirty = out.state;
          break;
        case "broadcast":
        case "relay":
          // Delivered once the sender's state is durable (#drain); alone: nobody to send to.
          this.#toAll(from, out.message);
          if (this.#o.onBroadcast && l.id !== "") {
            this.#queue.push({
              to: TO_NETWORK,
              from,
              input: { kind: "message", message: out.message },
            });
          }
          break;
        case "schedule":
          this.#addTimer(from, out.timeout, out.delayMs);
          break;
        case "request-value":
          l.request = { height: out.height, round: out.round };
          break;
        case "commit":
          l.parent.slot = Math.max(
            l.parent.slot,
            parsePayload(out.commit.block.payload)?.slot ?? 0,
          );
          if (out.commit.block.height > this.#lastCommitHeight) {
            this.#lastCommitHeight = out.commit.block.height;
            this.#commits.push(out.commit);
          }
          break;
        case "evidence":
          this.#evidence.note(out.evidence);
          break;
        case "sign-refused":
          this.#lastRefusal = `${l.id}: ${out.detail}`;
          break;
        case "rejected":
        case "peer-behind":
          break; // local engines are never behind one another; no peer to answer
      }
    }
  }

  #addTimer(to: number, timeout: TimeoutEvent, delayMs: number): void {
    const h = this.#locals[to].engine.status.height;
    this.#timers = this.#timers.filter((t) => t.to !== to || t.timeout.height >= h);
    if (this.#timers.length >= MAX_PENDING_TIMEOUTS) this.#timers.shift();
    this.#timers.push({ due: this.#now + delayMs, seq: this.#seq++, to, timeout });
  }
}
