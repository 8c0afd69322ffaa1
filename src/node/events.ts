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
  error: { source: "execution" | "consensus"; height: number; message: string };
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
