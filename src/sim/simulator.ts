/**
 * The deterministic simulator (after TigerBeetle's VOPR): N validators in one process,
 * a simulated clock and network driven by one seeded PRNG — latency, drops,
 * duplicates, reordering, partitions that heal, crashes and restarts from the
 * in-memory signer state and block store, Byzantine validators — with the invariants
 * checked after every event. A run is a pure function of its options.
 * @module
 */
import { BftEngine } from "../consensus/bft/engine.ts";
import { simVerifier } from "../consensus/bft/signing.ts";
import {
  BFT_GENESIS_PARENT,
  type BftCommit,
  type BftMessage,
  type EngineInput,
  type EngineOutput,
} from "../consensus/bft/types.ts";
import { BftValidatorSet } from "../consensus/bft/validators.ts";
import { hashCanonical } from "../storage/hash.ts";
import { byzantineSends } from "./byzantine.ts";
import { InvariantChecker, livenessViolation } from "./invariants.ts";
import { castValidators, type SimNode } from "./cast.ts";
import type { SimResult, SimStats } from "./report.ts";

export type { SimResult, SimStats } from "./report.ts";
import { resolveSimOptions, type SimOptions } from "./options.ts";
import { Prng } from "./prng.ts";
import { EventQueue } from "./queue.ts";
import { type SimEvent, TraceRing } from "./trace.ts";

const TICK_MS = 500;
const GOSSIP_MS = 1000;
const CATCH_UP_BATCH = 16;

/**
 * Runs one simulation.
 *
 * @example
 * ```ts
 * import { runSimulation } from "./simulator.ts";
 * const r = runSimulation({ seed: 7, nodes: 4, heights: 5 });
 * r.violation; // null
 * ```
 */
export function runSimulation(options: Partial<SimOptions>): SimResult {
  return new Simulation(resolveSimOptions(options)).run();
}

class Simulation {
  readonly o: SimOptions;
  readonly prng: Prng;
  readonly worldId: string;
  readonly set: BftValidatorSet;
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<string, SimNode>();
  readonly queue = new EventQueue<SimEvent>();
  readonly checker: InvariantChecker;
  readonly trace: TraceRing;
  readonly stats: SimStats = {
    events: 0,
    messages: 0,
    commits: 0,
    maxRound: 0,
    crashes: 0,
    rejected: 0,
    evidence: 0,
    evidenceCommitted: 0,
    simTimeMs: 0,
  };
  readonly commitLog: { node: string; height: number; timeMs: number }[] = [];
  readonly behind = new Set<string>();
  now = 0;
  stable: boolean;
  gst = 0;
  partitionEndsAt = -1;
  violation: string | null = null;

  constructor(o: SimOptions) {
    this.o = o;
    this.prng = new Prng(o.seed);
    this.worldId = `sim-${o.seed}`;
    this.trace = new TraceRing(o.traceLines);
    const cast = castValidators(o, this.prng, this.worldId);
    this.set = cast.set;
    for (const node of cast.nodes) {
      this.nodes.push(node);
      this.byId.set(node.id, node);
    }
    this.checker = new InvariantChecker(this.worldId, this.set, simVerifier(this.worldId));
    this.stable = o.faults === null;
    const scriptedEnd = Math.max(0, ...o.partitions.map((p) => p.toMs));
    this.gst = scriptedEnd;
  }

  run(): SimResult {
    for (const n of this.nodes) this.boot(n);
    this.queue.push(TICK_MS, { type: "tick" });
    this.queue.push(GOSSIP_MS, { type: "gossip" });
    while (this.violation === null) {
      if (this.nodes.every((n) => n.byzantine !== null || n.blocks.length >= this.o.heights)) break;
      const ev = this.queue.pop();
      if (!ev) break;
      this.now = ev.time;
      this.stats.events++;
      if (this.stats.events > this.o.maxEvents) {
        this.violation = `liveness: event budget of ${this.o.maxEvents} exhausted`;
        break;
      }
      this.trace.push(this.now, ev.item);
      this.handle(ev.item);
    }
    this.stats.simTimeMs = this.now;
    this.stats.evidenceCommitted = this.checker.evidenceCommitted;
    const ids: string[] = [];
    for (let h = 1; this.checker.decided.has(h); h++) {
      ids.push(this.checker.decided.get(h) as string);
    }
    return {
      options: this.o,
      violation: this.violation,
      trace: this.violation === null ? [] : this.trace.lines(),
      stats: this.stats,
      digest: hashCanonical(ids),
      commits: this.commitLog,
      byzantine: this.nodes.filter((n) => n.byzantine).map((n) => `${n.id}:${n.byzantine}`),
    };
  }

  handle(ev: SimEvent): void {
    switch (ev.type) {
      case "deliver": {
        const n = this.byId.get(ev.to) as SimNode;
        if (n.engine) this.feed(n, { kind: "message", message: ev.message });
        return;
      }
      case "timeout": {
        const n = this.byId.get(ev.node) as SimNode;
        if (n.engine && n.incarnation === ev.incarnation) {
          this.feed(n, { kind: "timeout", timeout: ev.timeout });
        }
        return;
      }
      case "value": {
        const n = this.byId.get(ev.node) as SimNode;
        if (!n.engine || n.incarnation !== ev.incarnation) return;
        const payload = { by: n.id, incarnation: n.incarnation, nonce: this.prng.next() };
        this.feed(n, { kind: "value", height: ev.height, round: ev.round, payload });
        return;
      }
      case "restart": {
        const n = this.byId.get(ev.node) as SimNode;
        if (!n.engine) this.boot(n);
        return;
      }
      case "tick":
        return this.tick();
      case "gossip": {
        this.queue.push(this.now + GOSSIP_MS, { type: "gossip" });
        this.flushCatchUp();
        for (const n of this.nodes) if (n.engine) this.feed(n, { kind: "gossip" });
        return;
      }
    }
  }

  /** Starts (or restarts) a node from its block store and persisted signer state. */
  boot(n: SimNode): void {
    const last = n.blocks[n.blocks.length - 1];
    const forget = this.o.forgetSignerStateOnRestart && n.incarnation > 0;
    n.engine = new BftEngine({
      worldId: this.worldId,
      validators: this.set,
      verifier: simVerifier(this.worldId),
      self: n.id,
      signer: n.signer,
      height: n.blocks.length + 1,
      lastBlockId: last ? last.blockId : BFT_GENESIS_PARENT,
      signerState: forget ? null : n.store.current,
      unsafeDisableLocking: this.o.unsafeDisableLocking,
    });
    n.lastCommitAt = Math.max(n.lastCommitAt, this.now);
    this.feed(n, { kind: "start" });
  }

  crash(n: SimNode): void {
    n.engine = null;
    n.incarnation++;
    this.stats.crashes++;
    this.trace.note(this.now, `crash ${n.id}`);
    this.queue.push(this.now + 1000 + this.prng.int(4000), { type: "restart", node: n.id });
  }

  unstableFaults() {
    return this.stable ? null : this.o.faults;
  }

  feed(n: SimNode, input: EngineInput): void {
    const outs = (n.engine as BftEngine).step(input);
    const st = (n.engine as BftEngine).status;
    if (st.round > this.stats.maxRound) this.stats.maxRound = st.round;
    this.perform(n, outs);
  }

  perform(n: SimNode, outs: EngineOutput[]): void {
    const f = this.unstableFaults();
    for (const o of outs) {
      if (this.violation !== null) return;
      // A crash between two outputs: after persisting, before sending (or before persisting).
      if (
        f && n.byzantine === null && this.prng.chance(f.midStepCrashRate) && this.allOthersUp(n)
      ) {
        return this.crash(n);
      }
      switch (o.kind) {
        case "persist":
          if (n.byzantine === null) n.store.current = o.state;
          break;
        case "broadcast":
          this.broadcast(n, o.message);
          break;
        case "relay":
          for (const m of this.nodes) if (m !== n) this.send(n, m.id, o.message);
          break;
        case "schedule":
          this.queue.push(this.now + o.delayMs, {
            type: "timeout",
            node: n.id,
            incarnation: n.incarnation,
            timeout: o.timeout,
          });
          break;
        case "request-value":
          this.queue.push(this.now, {
            type: "value",
            node: n.id,
            incarnation: n.incarnation,
            height: o.height,
            round: o.round,
          });
          break;
        case "commit":
          this.onCommit(n, o.commit);
          break;
        case "evidence":
          this.stats.evidence++;
          break;
        case "peer-behind":
          this.sendCommit(n, o.peer, o.height);
          break;
        case "rejected":
        case "sign-refused":
          this.stats.rejected++;
          break;
      }
    }
  }

  allOthersUp(n: SimNode): boolean {
    return this.nodes.every((m) => m === n || m.engine !== null);
  }

  onCommit(n: SimNode, commit: BftCommit): void {
    n.blocks.push(commit);
    n.lastCommitAt = this.now;
    if (n.byzantine !== null) return;
    this.stats.commits++;
    this.commitLog.push({ node: n.id, height: commit.block.height, timeMs: this.now });
    this.violation ??= this.checker.onCommit(n.id, n.blocks.length, commit);
    const maxH = Math.max(...this.nodes.map((m) => (m.byzantine ? 0 : m.blocks.length)));
    if (!this.stable && maxH >= Math.ceil(this.o.heights / 2)) this.stabilise();
  }

  /** The network stabilises: partitions heal, crashed nodes restart, no more drops. */
  stabilise(): void {
    this.stable = true;
    this.gst = Math.max(this.gst, this.now);
    for (const m of this.nodes) m.group = 0;
    for (const m of this.nodes) {
      if (!m.engine) this.queue.push(this.now, { type: "restart", node: m.id });
    }
    this.trace.note(this.now, "stabilised");
  }

  /** Notes that `peer` is behind; commits go out on the next gossip tick (like a
   * gossip routine that wakes periodically), at most one per (peer, height) per tick. */
  sendCommit(n: SimNode, peer: string, height: number): void {
    if (n.blocks[height - 1] === undefined) return;
    if (this.behind.size >= 10_000) return;
    this.behind.add(`${n.id}\n${peer}\n${height}`);
  }

  flushCatchUp(): void {
    const pending = [...this.behind];
    this.behind.clear();
    for (const key of pending) {
      const [from, peer, h] = key.split("\n");
      const n = this.byId.get(from) as SimNode;
      // The asked height and the next ones (the engine keeps up to maxCommitsAhead = 16).
      for (let k = Number(h); k < Number(h) + CATCH_UP_BATCH; k++) {
        const c = n.blocks[k - 1];
        if (!n.engine || !c) break;
        this.send(n, peer, { kind: "commit", block: c.block, certificate: c.certificate });
      }
    }
  }

  broadcast(n: SimNode, message: BftMessage): void {
    const peers = this.nodes.filter((m) => m !== n).map((m) => m.id);
    if (n.byzantine !== null) {
      for (
        const s of byzantineSends(n.byzantine, this.prng, this.worldId, n.signer, message, peers)
      ) {
        this.send(n, s.to, s.message);
      }
      return;
    }
    this.violation ??= this.checker.onSigned(n.id, message);
    for (const to of peers) this.send(n, to, message);
  }

  connected(a: SimNode, b: SimNode): boolean {
    if (a.group !== b.group) return false;
    for (const p of this.o.partitions) {
      if (
        this.now >= p.fromMs && this.now < p.toMs &&
        p.isolated.includes(a.id) !== p.isolated.includes(b.id)
      ) {
        return false;
      }
    }
    return true;
  }

  send(from: SimNode, to: string, message: unknown): void {
    this.stats.messages++;
    const target = this.byId.get(to) as SimNode;
    if (!this.connected(from, target)) return;
    const f = this.unstableFaults();
    if (f && this.prng.chance(f.dropRate)) return;
    const copies = f && this.prng.chance(f.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const latency = f
        ? f.minLatencyMs + this.prng.int(f.maxLatencyMs - f.minLatencyMs + 1)
        : 1 + this.prng.int(this.o.stableMaxLatencyMs);
      this.queue.push(this.now + latency, { type: "deliver", from: from.id, to, message });
    }
  }

  tick(): void {
    this.queue.push(this.now + TICK_MS, { type: "tick" });
    const f = this.unstableFaults();
    if (f) {
      if (this.partitionEndsAt >= 0 && this.now >= this.partitionEndsAt) {
        for (const m of this.nodes) m.group = 0;
        this.partitionEndsAt = -1;
        this.trace.note(this.now, "partition healed");
      } else if (this.partitionEndsAt < 0 && this.prng.chance(f.partitionRate)) {
        const size = 1 + this.prng.int(Math.floor(this.nodes.length / 2));
        const isolated: string[] = [];
        for (let i = 0; i < size; i++) {
          const m = this.prng.pick(this.nodes);
          m.group = 1;
          isolated.push(m.id);
        }
        this.partitionEndsAt = this.now + 2000 + this.prng.int(8000);
        this.trace.note(this.now, `partition ${isolated.join(",")} until ${this.partitionEndsAt}`);
      }
      const honestUp = this.nodes.filter((m) => m.byzantine === null && m.engine !== null);
      if (
        honestUp.length === this.nodes.filter((m) => m.byzantine === null).length &&
        this.prng.chance(f.crashRate)
      ) {
        this.crash(this.prng.pick(honestUp));
      }
    }
    // Liveness: after stabilisation every honest node commits within the bound.
    if (this.now <= this.gst || (!this.stable)) return;
    this.violation ??= livenessViolation(this.nodes, this.now, this.gst, this.o);
  }
}
