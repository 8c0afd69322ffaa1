/**
 * Simulator events and the bounded trace printed when an invariant fails: the last
 * `capacity` events, formatted only on failure.
 * @module
 */
import type { TimeoutEvent } from "../consensus/bft/types.ts";

/** An event of the simulation queue. */
export type SimEvent =
  | {
    readonly type: "deliver";
    readonly from: string;
    readonly to: string;
    readonly message: unknown;
  }
  | {
    readonly type: "timeout";
    readonly node: string;
    readonly incarnation: number;
    readonly timeout: TimeoutEvent;
  }
  | {
    readonly type: "value";
    readonly node: string;
    readonly incarnation: number;
    readonly height: number;
    readonly round: number;
  }
  | { readonly type: "restart"; readonly node: string }
  | { readonly type: "tick" }
  | { readonly type: "gossip" };

function short(v: unknown): string {
  return typeof v === "string" ? v.slice(0, 8) : String(v);
}

/** One line for an event (messages summarised by kind, height, round, block). */
export function describeEvent(ev: SimEvent | string): string {
  if (typeof ev === "string") return ev;
  switch (ev.type) {
    case "deliver": {
      const m = ev.message as Record<string, Record<string, unknown>> | null;
      let what = "junk";
      if (m && m.kind as unknown === "vote" && m.vote) {
        const v = m.vote;
        what = `${v.type} h=${v.height} r=${v.round} ${short(v.block ?? "nil")} by ${v.validator}`;
      } else if (m && m.kind as unknown === "proposal" && m.proposal) {
        const p = m.proposal;
        what = `proposal h=${p.height} r=${p.round} vr=${p.validRound} by ${p.proposer}`;
      } else if (m && m.kind as unknown === "commit" && m.certificate) {
        what = `commit h=${m.certificate.height} ${short(m.certificate.block)}`;
      }
      return `deliver ${ev.from}->${ev.to} ${what}`;
    }
    case "timeout":
      return `timeout ${ev.node} ${ev.timeout.step} h=${ev.timeout.height} r=${ev.timeout.round}`;
    case "value":
      return `value ${ev.node} h=${ev.height} r=${ev.round}`;
    case "restart":
      return `restart ${ev.node}`;
    case "tick":
      return "tick";
    case "gossip":
      return "gossip";
  }
}

/**
 * A ring buffer of the last events.
 *
 * @example
 * ```ts
 * import { TraceRing } from "./trace.ts";
 * const t = new TraceRing(2);
 * t.note(1, "a"); t.note(2, "b"); t.note(3, "c");
 * t.lines(); // ["t=2 b", "t=3 c"]
 * ```
 */
export class TraceRing {
  readonly #times: number[] = [];
  readonly #events: (SimEvent | string)[] = [];
  #next = 0;
  /** @param capacity events kept */
  constructor(readonly capacity: number) {}

  /** Records an event (formatted lazily). */
  push(time: number, ev: SimEvent): void {
    if (ev.type === "tick" || ev.type === "gossip") return;
    this.#put(time, ev);
  }

  /** Records a free-text note (crash, partition). */
  note(time: number, text: string): void {
    this.#put(time, text);
  }

  #put(time: number, ev: SimEvent | string): void {
    if (this.capacity <= 0) return;
    this.#times[this.#next] = time;
    this.#events[this.#next] = ev;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** The kept events, oldest first, as lines. */
  lines(): string[] {
    const out: string[] = [];
    const n = this.#events.length;
    for (let i = 0; i < n; i++) {
      const k = (this.#next + i) % n;
      out.push(`t=${this.#times[k]} ${describeEvent(this.#events[k])}`);
    }
    return out;
  }
}
