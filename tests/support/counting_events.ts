/**
 * {@link NodeEvents} that counts its listeners, for leak checks in HTTP tests.
 * @module
 */
import { NodeEvents } from "../../src/node/events.ts";
import type { NodeEventMap } from "../../src/node/events.ts";

/** {@link NodeEvents} that knows how many listeners are subscribed (leak checks). */
export class CountingEvents extends NodeEvents {
  readonly #counts = new Map<keyof NodeEventMap, number>();

  /** Listeners currently subscribed to `name`, or to any event. */
  listenerCount(name?: keyof NodeEventMap): number {
    if (name) return this.#counts.get(name) ?? 0;
    return [...this.#counts.values()].reduce((a, b) => a + b, 0);
  }

  override on<K extends keyof NodeEventMap>(
    name: K,
    listener: (event: NodeEventMap[K]) => void,
  ): () => void {
    const off = super.on(name, listener);
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      this.#counts.set(name, (this.#counts.get(name) ?? 1) - 1);
      off();
    };
  }
}
