/**
 * Server-sent events for `GET /v1/events`: each client stream subscribes to the
 * node's {@link NodeEvents} and is torn down (listeners removed, ping timer cleared)
 * when the client goes away, falls too far behind, or the server shuts down.
 * @module
 */
import type { NodeEventMap, NodeEvents } from "../node/events.ts";
import { silentLogger } from "../logger.ts";
import type { Logger } from "../logger.ts";

/** Options of {@link SseHub}. */
export interface SseHubOptions {
  /** Interval of the keep-alive comment line (ms). */
  pingMs: number;
  /** Frames a client may have queued before it is dropped as too slow. */
  maxQueuedFrames: number;
  /** How long a browser waits before reconnecting (ms), sent as `retry:`. */
  retryMs: number;
  /** Open streams at most; `GET /v1/events` beyond is answered `503`. */
  maxClients: number;
  logger: Logger;
}

/** Defaults of {@link SseHubOptions}. */
export const defaultSseHubOptions: Readonly<SseHubOptions> = {
  pingMs: 15_000,
  maxQueuedFrames: 1024,
  retryMs: 2_000,
  maxClients: 32,
  logger: silentLogger,
};

/** `data` of an `event: commit` frame. */
export interface CommitEventJson {
  height: number;
  hash: string;
  slot: number;
  epoch: number;
  proposer: string;
  action_count: number;
  committed_at_unix_ms: number;
}

/** `data` of an `event: execution` frame. */
export interface ExecutionEventJson {
  execution_height: number;
  execution_block_hash: string;
  execution_state_root: string;
  node_block_hash: string;
  duration_ms: number;
}

/**
 * `data` of an `event: node-error` frame (not `error`, which browsers' EventSource
 * reserves for connection failures).
 */
export interface ErrorEventJson {
  source: string;
  height: number;
  message: string;
  /** Machine-readable code (e.g. `DRIVER_TIMEOUT`), or null. */
  code: string | null;
}

/** The JSON a commit event is sent as. */
export function commitEventJson(e: NodeEventMap["commit"]): CommitEventJson {
  const h = e.block.header;
  return {
    height: h.height,
    hash: e.block.hash,
    slot: h.slot,
    epoch: h.epoch,
    proposer: h.proposer,
    action_count: e.block.actions.length,
    committed_at_unix_ms: e.block.committedAtUnixMs,
  };
}

/** The JSON an execution event is sent as. */
export function executionEventJson(e: NodeEventMap["execution"]): ExecutionEventJson {
  return {
    execution_height: e.result.executionHeight,
    execution_block_hash: e.result.executionBlockHash,
    execution_state_root: e.result.executionStateRoot,
    node_block_hash: e.nodeBlockHash,
    duration_ms: e.durationMs,
  };
}

/** The JSON an error event is sent as. */
export function errorEventJson(e: NodeEventMap["error"]): ErrorEventJson {
  return { source: e.source, height: e.height, message: e.message, code: e.code ?? null };
}

/** One SSE frame: `event:` + one `data:` line (JSON never contains a raw newline). */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** One open stream: its subscriptions, its ping timer and how to end it. */
class SseClient {
  readonly #offs: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #done = false;

  constructor(
    readonly controller: ReadableStreamDefaultController<Uint8Array>,
    readonly onDone: (c: SseClient) => void,
  ) {}

  get done(): boolean {
    return this.#done;
  }

  track(off: () => void): void {
    this.#offs.push(off);
  }

  setTimer(timer: ReturnType<typeof setInterval>): void {
    this.#timer = timer;
  }

  /** Unsubscribes and stops the timer; true the first time only. */
  teardown(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#offs.forEach((off) => off());
    clearInterval(this.#timer);
    this.onDone(this);
    return true;
  }

  /** Tears down and ends the stream for the reader. */
  close(): void {
    if (!this.teardown()) return;
    try {
      this.controller.close();
    } catch {
      // Already cancelled by the reader.
    }
  }
}

/**
 * Opens and tracks event streams.
 *
 * @example
 * ```ts
 * import { NodeEvents } from "../node/events.ts";
 * import { SseHub } from "./sse.ts";
 * const hub = new SseHub(new NodeEvents());
 * const res = hub.open(new AbortController().signal);
 * hub.closeAll(); // ends every stream, e.g. at shutdown
 * await res.body?.cancel();
 * ```
 */
export class SseHub {
  readonly #events: NodeEvents;
  readonly #opts: SseHubOptions;
  readonly #clients = new Set<SseClient>();

  /** @param events the node's events @param options see {@link SseHubOptions} */
  constructor(events: NodeEvents, options: Partial<SseHubOptions> = {}) {
    this.#events = events;
    this.#opts = { ...defaultSseHubOptions, ...options };
  }

  /** Open streams. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Whether {@link SseHubOptions.maxClients} streams are open (a new one is refused). */
  get full(): boolean {
    return this.#clients.size >= this.#opts.maxClients;
  }

  /** A `text/event-stream` response body; it ends when `signal` aborts. */
  open(signal: AbortSignal): Response {
    const enc = new TextEncoder();
    const { logger, maxQueuedFrames, pingMs, retryMs } = this.#opts;
    let client: SseClient | null = null;
    const onAbort = () => client?.close();
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const c = new SseClient(controller, (done) => {
          this.#clients.delete(done);
          signal.removeEventListener("abort", onAbort);
        });
        client = c;
        const send = (text: string) => {
          if (c.done) return;
          if ((controller.desiredSize ?? 0) < -maxQueuedFrames) {
            logger.warn("event stream client too slow; dropping it");
            c.close();
            return;
          }
          controller.enqueue(enc.encode(text));
        };
        this.#clients.add(c);
        c.track(this.#events.on("commit", (e) => send(sseFrame("commit", commitEventJson(e)))));
        c.track(
          this.#events.on("execution", (e) => send(sseFrame("execution", executionEventJson(e)))),
        );
        c.track(this.#events.on("error", (e) => send(sseFrame("node-error", errorEventJson(e)))));
        c.setTimer(setInterval(() => send(": ping\n\n"), pingMs));
        signal.addEventListener("abort", onAbort);
        send(`retry: ${retryMs}\n: connected\n\n`);
        if (signal.aborted) c.close();
      },
      // The reader went away: unsubscribe; the stream itself is already done.
      cancel: () => void client?.teardown(),
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        // Tells reverse proxies not to buffer the stream.
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every open stream (server shutdown). */
  closeAll(): void {
    for (const c of [...this.#clients]) c.close();
  }
}
