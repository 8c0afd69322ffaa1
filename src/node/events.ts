/**
 * Typed notifications from a running node: the live viewer, metrics and tests
 * subscribe; the node never waits on a listener.
 * @module
 */
import type { CommittedBlock } from "../consensus/types.ts";
import type { NodeExecutionCommitResult } from "./execution_hook.ts";

/** Payload of each node event. */
export interface NodeEventMap {
  /** After each tick: how late it started and how long it took (ms). */
  tick: { tickCount: number; latenessMs: number; durationMs: number };
  /** After a block is committed and persisted. */
  commit: { block: CommittedBlock };
  /** After the execution hook reports a height. */
  execution: { result: NodeExecutionCommitResult; nodeBlockHash: string; durationMs: number };
  /** A failure that did not stop the node (or, for `consensus`, that halted it). */
  error: {
    source: "execution" | "consensus";
    height: number;
    message: string;
    /** Machine-readable code when known (e.g. `DRIVER_TIMEOUT`, `DRIVER_CRASHED`). */
    code?: string | null;
  };
  /** A write failed: the node stopped committing and retries it (`code` e.g. `ENOSPC`). */
  halt: { height: number; code: string; reason: string };
  /** The failed write succeeded on retry `retries`; commits resume. */
  resume: { height: number; retries: number; haltedMs: number };
  /** Proposals paused (`engaged`) or resumed because of the execution lag bound. */
  lag_limit: { engaged: boolean; lag: number; limit: number };
  /**
   * The lag grew over `ticks` ticks from `from` to `lag` (`growing`), or stopped
   * growing: an early warning before the lag bound.
   */
  lag_growing: { growing: boolean; lag: number; from: number; ticks: number };
}

type Listener<K extends keyof NodeEventMap> = (event: NodeEventMap[K]) => void;

/**
 * A minimal typed event emitter.
 *
 * @example
 * ```ts
 * import { NodeEvents } from "./events.ts";
 * const events = new NodeEvents();
 * const off = events.on("commit", ({ block }) => console.log(block.header.height));
 * off();
 * ```
 */
export class NodeEvents {
  readonly #listeners = new Map<keyof NodeEventMap, Set<(e: unknown) => void>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof NodeEventMap>(name: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, set = new Set());
    const fn = listener as (e: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Notifies listeners; a throwing listener cannot break the node. */
  emit<K extends keyof NodeEventMap>(name: K, event: NodeEventMap[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(event);
      } catch {
        // Listener faults are the listener's problem, never consensus's.
      }
    }
  }
}
