/**
 * `awr cluster`: N `awr live` child processes on loopback, one network. The cluster
 * owns its children: it prints their output prefixed with their id, polls their
 * `/v1/status` for one combined line, stops them all on {@link Cluster.stop} (SIGTERM,
 * then SIGKILL after a bound, saying so), and reports the first child that exits
 * on its own.
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { GenesisInit } from "./genesis_init.ts";
import {
  childArgs,
  type ClusterOptions,
  type NodeStatusEntry,
  statusEntry,
} from "./cluster_plan.ts";

/** Longest child output line forwarded (longer lines are cut). */
export const MAX_FORWARDED_LINE = 4096;
/** Largest `/v1/status` body read from a child. */
export const MAX_STATUS_BYTES = 1 << 20;

/** Where the cluster writes. */
export interface ClusterIo {
  out(line: string): void;
  err(line: string): void;
}

/** A child that exited while the cluster was not stopping it. */
export interface ChildExit {
  readonly id: string;
  readonly pid: number;
  readonly code: number;
  readonly signal: string | null;
}

interface Child {
  readonly id: string;
  readonly httpPort: number;
  readonly process: Deno.ChildProcess;
  readonly drained: Promise<void>;
  exited: boolean;
}

/**
 * `n` distinct free TCP ports on 127.0.0.1 (all held open together, then released).
 *
 * @example
 * ```ts
 * import { freeLoopbackPorts } from "./cluster.ts";
 * const [a, b] = freeLoopbackPorts(2);
 * ```
 */
export function freeLoopbackPorts(n: number): number[] {
  const listeners: Deno.Listener[] = [];
  try {
    for (let i = 0; i < n; i++) listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    return listeners.map((l) => (l.addr as Deno.NetAddr).port);
  } finally {
    for (const l of listeners) l.close();
  }
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  write: (line: string) => void,
  prefix: string,
): Promise<void> {
  let rest = "";
  const emit = (line: string) =>
    write(
      prefix + (line.length > MAX_FORWARDED_LINE ? line.slice(0, MAX_FORWARDED_LINE) + "…" : line),
    );
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    // A child that never ends a line must not grow our buffer without bound.
    if (rest.length > MAX_FORWARDED_LINE) {
      emit(rest);
      rest = "";
    }
    parts.forEach(emit);
  }
  if (rest) emit(rest);
}

/** Reads at most `max` bytes of a response body as text; null when it is larger. */
async function boundedText(res: Response, max: number): Promise<string | null> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) return null;
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * A running local cluster.
 *
 * @example
 * ```ts ignore
 * const cluster = await Cluster.start(net, options, io);
 * const exit = await Promise.race([cluster.unexpectedExit, signal]);
 * await cluster.stop();
 * ```
 */
export class Cluster {
  readonly #o: ClusterOptions;
  readonly #io: ClusterIo;
  readonly #children: Child[];
  #stopping: Promise<void> | null = null;
  readonly #unexpected = Promise.withResolvers<ChildExit>();

  private constructor(o: ClusterOptions, io: ClusterIo, children: Child[]) {
    this.#o = o;
    this.#io = io;
    this.#children = children;
  }

  /** Spawns one `awr live` per node of `net`, each on its own free loopback HTTP port. */
  static async start(net: GenesisInit, o: ClusterOptions, io: ClusterIo): Promise<Cluster> {
    const ports = freeLoopbackPorts(net.nodes.length);
    const children: Child[] = [];
    const cluster = new Cluster(o, io, children);
    const [program, ...lead] = o.awr;
    try {
      net.nodes.forEach((node, i) => {
        const process = new Deno.Command(program, {
          args: [...lead, ...childArgs(net, i, ports[i], o)],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const prefix = `[${node.id}] `;
        const drained = Promise.all([
          forwardLines(process.stdout, io.out, prefix),
          forwardLines(process.stderr, io.err, prefix),
        ]).then(() => {}, () => {});
        const child: Child = { id: node.id, httpPort: ports[i], process, drained, exited: false };
        children.push(child);
        process.status.then((st) => {
          child.exited = true;
          if (cluster.#stopping === null) {
            cluster.#unexpected.resolve({
              id: node.id,
              pid: process.pid,
              code: st.code,
              signal: st.signal,
            });
          }
        });
      });
    } catch (err) {
      // A spawn failed part-way: take down what started, then report.
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Each child: id, pid and HTTP URL. */
  get nodes(): { id: string; pid: number; url: string }[] {
    return this.#children.map((c) => ({
      id: c.id,
      pid: c.process.pid,
      url: `http://127.0.0.1:${c.httpPort}/`,
    }));
  }

  /** Settles with the first child that exits while the cluster is not stopping. */
  get unexpectedExit(): Promise<ChildExit> {
    return this.#unexpected.promise;
  }

  /** Every node's `/v1/status` (each bounded by the status timeout), in node order. */
  async status(): Promise<NodeStatusEntry[]> {
    return await Promise.all(this.#children.map(async (c): Promise<NodeStatusEntry> => {
      if (c.exited) return { id: c.id, error: "exited" };
      try {
        const res = await fetch(`http://127.0.0.1:${c.httpPort}/v1/status`, {
          signal: AbortSignal.timeout(this.#o.statusTimeoutMs),
        });
        const text = await boundedText(res, MAX_STATUS_BYTES);
        if (!res.ok) return { id: c.id, error: `HTTP ${res.status}` };
        if (text === null) return { id: c.id, error: "status too large" };
        return statusEntry(c.id, JSON.parse(text));
      } catch (err) {
        const name = err instanceof DOMException ? err.name : "";
        if (name === "TimeoutError") return { id: c.id, error: "timeout" };
        if (err instanceof TypeError) return { id: c.id, error: "starting" };
        return { id: c.id, error: errorMessage(err).slice(0, 80) };
      }
    }));
  }

  /**
   * Stops every child: SIGTERM, a bounded wait (the stop timeout), then SIGKILL with a
   * line naming each child killed. Waits for all of them and their output. Safe to
   * call twice.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#stopAll();
  }

  async #stopAll(): Promise<void> {
    const signal = (c: Child, sig: Deno.Signal) => {
      try {
        if (!c.exited) c.process.kill(sig);
      } catch { /* exited meanwhile */ }
    };
    this.#children.forEach((c) => signal(c, "SIGTERM"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const all = Promise.all(this.#children.map((c) => c.process.status));
    const late = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), this.#o.stopTimeoutMs)),
    ]);
    clearTimeout(timer);
    if (late) {
      for (const c of this.#children.filter((c) => !c.exited)) {
        this.#io.err(
          `awr cluster: node ${c.id} (pid ${c.process.pid}) still running ` +
            `${this.#o.stopTimeoutMs} ms after SIGTERM; sending SIGKILL`,
        );
        signal(c, "SIGKILL");
      }
      await all;
    }
    await Promise.all(this.#children.map((c) => c.drained));
  }
}
