/**
 * A TCP proxy on 127.0.0.1:0 that forwards to one port, for link-cut tests: `cut()`
 * closes every proxied connection and refuses new ones until `restore()`. Bounded:
 * at most {@link MAX_PROXY_CONNECTIONS} connections at once (more are refused).
 * @module
 */

/** Most connections one proxy carries at once. */
export const MAX_PROXY_CONNECTIONS = 32;
const CHUNK = 64 * 1024;

/** One proxied connection: the accepted side and the dialled side. */
interface Pair {
  readonly inbound: Deno.Conn;
  outbound: Deno.Conn | null;
  closed: boolean;
}

/**
 * A link proxy.
 *
 * @example
 * ```ts ignore
 * const p = LinkProxy.start(26656);
 * p.cut(); p.restore(); await p.close();
 * ```
 */
export class LinkProxy {
  /** The port the proxy listens on. */
  readonly port: number;
  readonly #listener: Deno.Listener;
  readonly #target: number;
  readonly #pairs = new Set<Pair>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #cut = false;
  /** Connections accepted and refused (cut or full) since start. */
  readonly counts = { accepted: 0, refused: 0 };

  private constructor(target: number) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#loop = this.#accept();
  }

  /** Starts a proxy forwarding to 127.0.0.1:`targetPort`. */
  static start(targetPort: number): LinkProxy {
    return new LinkProxy(targetPort);
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Closes every proxied connection and refuses new ones. */
  cut(): void {
    this.#cut = true;
    for (const p of [...this.#pairs]) this.#closePair(p);
  }

  /** Accepts connections again. */
  restore(): void {
    this.#cut = false;
  }

  /** Stops listening and closes everything; resolves when every task ended. */
  async close(): Promise<void> {
    this.#listener.close();
    this.cut();
    await this.#loop;
    await Promise.all([...this.#tasks]);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#cut || this.#pairs.size >= MAX_PROXY_CONNECTIONS) {
          this.counts.refused++;
          conn.close();
          continue;
        }
        this.counts.accepted++;
        const pair: Pair = { inbound: conn, outbound: null, closed: false };
        this.#pairs.add(pair);
        this.#track(this.#forward(pair));
      }
    } catch {
      // listener closed
    }
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  async #forward(pair: Pair): Promise<void> {
    try {
      const out = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
      if (pair.closed) {
        out.close();
        return;
      }
      pair.outbound = out;
    } catch {
      this.#closePair(pair);
      return;
    }
    await Promise.all([
      this.#pump(pair, pair.inbound, pair.outbound),
      this.#pump(pair, pair.outbound, pair.inbound),
    ]);
  }

  async #pump(pair: Pair, from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(CHUNK);
    try {
      while (!pair.closed) {
        const n = await from.read(buf);
        if (n === null) break;
        let at = 0;
        while (at < n) at += await to.write(buf.subarray(at, n));
      }
    } catch {
      // closed by cut() or by the other side
    } finally {
      this.#closePair(pair);
    }
  }

  #closePair(pair: Pair): void {
    if (pair.closed) return;
    pair.closed = true;
    this.#pairs.delete(pair);
    for (const c of [pair.inbound, pair.outbound]) {
      try {
        c?.close();
      } catch { /* already closed */ }
    }
  }
}
