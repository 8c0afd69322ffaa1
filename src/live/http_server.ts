/**
 * A small, bounded HTTP/1.1 server for the live node's API.
 *
 * Why not `Deno.serve`: in Deno 2.9 it offers no header, body or idle timeout and no
 * connection cap, so 200 clients that each send one header byte a second hold the
 * node's sockets for ever. Putting a TCP front before `Deno.serve` would still need
 * to parse the request head (to know when the header timeout ends) and would double
 * every socket; so this module accepts TCP itself (`Deno.listen`) and serves exactly
 * what the API needs, with a bound on every phase:
 *
 * - at most `maxConnections` open connections; one more is answered `503` and closed;
 * - the request head (request line + headers, ≤ `maxHeaderBytes`) must arrive within
 *   `headerTimeoutMs` (from accept, or from the first byte of a keep-alive request);
 * - a keep-alive connection waits at most `idleTimeoutMs` for its next request;
 * - a body (`Content-Length` or chunked, ≤ `maxBodyBytes`) must arrive within
 *   `bodyTimeoutMs` from its first read;
 * - every write must complete within `writeTimeoutMs` (a client that stops reading
 *   is dropped);
 * - responses are sent with `Content-Length`, except `text/event-stream` ones, which
 *   are streamed chunked and end the connection.
 *
 * A timeout closes the socket. A client that goes away mid-body makes the request's
 * body stream fail with {@link ClientGoneError}, which the API answers as a client
 * event, not as a server error.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import {
  cannedJsonResponse,
  HttpWireError,
  parseRequestHead,
  requestBodyLength,
  type RequestHead,
  responseHead,
  wantsKeepAlive,
} from "./http_wire.ts";

/** Limits of the bounded server (all durations in milliseconds). */
export interface HttpLimits {
  /** Open connections at most; one more gets `503` and is closed. */
  maxConnections: number;
  /** Time to receive a whole request head. */
  headerTimeoutMs: number;
  /** Time to receive a whole request body, from its first read. */
  bodyTimeoutMs: number;
  /** Time a keep-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** Time one write to the client may take. */
  writeTimeoutMs: number;
  /** Size of a request head at most (`431` beyond). */
  maxHeaderBytes: number;
  /** Declared request body size at most (`413` beyond, before reading it). */
  maxBodyBytes: number;
  /** At shutdown, how long requests in flight may finish before sockets are closed. */
  shutdownGraceMs: number;
}

/** Defaults of {@link HttpLimits}. */
export const defaultHttpLimits: Readonly<HttpLimits> = {
  maxConnections: 128,
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  writeTimeoutMs: 10_000,
  maxHeaderBytes: 16_384,
  maxBodyBytes: 1_048_576,
  shutdownGraceMs: 5_000,
};

/** Options of {@link serveBounded}. */
export interface BoundedServerOptions extends HttpLimits {
  hostname: string;
  port: number;
  logger: Logger;
}

/**
 * The request body could not be read: the client left (`HTTP_CLIENT_GONE`), was too
 * slow (`HTTP_BODY_TIMEOUT`), sent too much (`HTTP_BODY_TOO_LARGE`) or broke the
 * chunked framing (`HTTP_BAD_CHUNK`). None of these is a server failure.
 */
export class ClientGoneError extends AwrError {}

/** What a handler learns about the connection. */
export interface ConnInfo {
  readonly remoteAddr: Deno.NetAddr;
  /** Settles once the response is written or the connection is gone. */
  readonly completed: Promise<void>;
}

/** A request handler; it should answer errors itself (a throw becomes a bare `500`). */
export type BoundedHandler = (req: Request, info: ConnInfo) => Promise<Response> | Response;

/** A running bounded server. */
export interface BoundedServer {
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connectionCount: number;
  /** Stops accepting, lets requests in flight finish (bounded), closes every socket. */
  shutdown(): Promise<void>;
}

const CRLF2 = [13, 10, 13, 10];
const enc = new TextEncoder();

function indexOfBlankLine(buf: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i + 3 < buf.length; i++) {
    for (let j = 0; j < 4; j++) if (buf[i + j] !== CRLF2[j]) continue outer;
    return i;
  }
  return -1;
}

/** One accepted socket, serving requests one after another. */
class Connection {
  #buf: Uint8Array = new Uint8Array(0);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = "";
  #closed = false;
  /** Waiting for the first byte of a request (safe to close at shutdown). */
  idle = true;

  constructor(
    readonly conn: Deno.TcpConn,
    readonly opts: BoundedServerOptions,
    readonly handler: BoundedHandler,
    readonly baseUrl: string,
    readonly stopping: () => boolean,
  ) {}

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  #arm(ms: number, why: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timedOut = why;
      this.close();
    }, ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
  }

  /** Reads more bytes into the buffer; false at end of stream or a closed socket. */
  async #readMore(): Promise<boolean> {
    if (this.#closed) return false;
    const chunk = new Uint8Array(16_384);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      return false;
    }
    if (n === null || n === 0) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    this.#arm(this.opts.writeTimeoutMs, "write");
    try {
      let at = 0;
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
    } finally {
      this.#disarm();
    }
  }

  /** The next request head, or null when the client left or timed out first. */
  async #readHead(first: boolean): Promise<RequestHead | null> {
    const { headerTimeoutMs, idleTimeoutMs, maxHeaderBytes } = this.opts;
    // Bare CRLFs between requests are allowed (RFC 9112 §2.2).
    while (this.#buf.length >= 2 && this.#buf[0] === 13 && this.#buf[1] === 10) {
      this.#buf = this.#buf.subarray(2);
    }
    if (this.#buf.length === 0) {
      this.idle = true;
      this.#arm(first ? headerTimeoutMs : idleTimeoutMs, first ? "header" : "idle");
      if (this.stopping() || !(await this.#readMore())) return null;
    }
    this.idle = false;
    if (!first) this.#arm(headerTimeoutMs, "header");
    let searched = 0;
    for (;;) {
      const at = indexOfBlankLine(this.#buf, searched - 3);
      if (at >= 0) {
        if (at > maxHeaderBytes) break;
        this.#disarm();
        const text = new TextDecoder("latin1").decode(this.#buf.subarray(0, at));
        this.#buf = this.#buf.subarray(at + 4);
        return parseRequestHead(text);
      }
      if (this.#buf.length > maxHeaderBytes) break;
      searched = this.#buf.length;
      if (!(await this.#readMore())) return null;
    }
    throw new HttpWireError(
      431,
      "HTTP_HEADER_TOO_LARGE",
      `request head is larger than ${maxHeaderBytes} bytes`,
    );
  }

  /** Makes at least `n` bytes available; false when the client left first. */
  async #ensure(n: number): Promise<boolean> {
    while (this.#buf.length < n) if (!(await this.#readMore())) return false;
    return true;
  }

  /** One CRLF-terminated line of at most `max` bytes (chunked framing), or null. */
  async #line(max: number): Promise<string | null> {
    for (;;) {
      const at = this.#buf.indexOf(10);
      if (at >= 0 && at <= max) {
        const line = new TextDecoder("latin1").decode(this.#buf.subarray(0, at));
        this.#buf = this.#buf.subarray(at + 1);
        return line.replace(/\r$/, "");
      }
      if (at > max || this.#buf.length > max) {
        throw new ClientGoneError("HTTP_BAD_CHUNK", "malformed chunked request body");
      }
      if (!(await this.#readMore())) return null;
    }
  }

  #gone(remaining: number | "chunked"): ClientGoneError {
    return this.#timedOut === "body"
      ? new ClientGoneError(
        "HTTP_BODY_TIMEOUT",
        `request body not received within ${this.opts.bodyTimeoutMs} ms`,
      )
      : new ClientGoneError("HTTP_CLIENT_GONE", "client closed the connection mid-body", {
        missing_bytes: remaining,
      });
  }

  /**
   * The request body as a stream: exactly `length` bytes, or a chunked body of at
   * most `maxBodyBytes`; `state.done` once all of it was read.
   */
  #body(
    head: RequestHead,
    length: number | "chunked",
    state: { done: boolean },
  ): ReadableStream<Uint8Array> {
    const { bodyTimeoutMs, maxBodyBytes } = this.opts;
    let remaining = length === "chunked" ? 0 : length;
    let total = 0;
    let started = false;
    const finish = (ctl: ReadableStreamDefaultController<Uint8Array>) => {
      this.#disarm();
      state.done = true;
      ctl.close();
    };
    return new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        if (!started) {
          started = true;
          this.#arm(bodyTimeoutMs, "body");
          if (/100-continue/i.test(head.headers.get("expect") ?? "") && this.#buf.length === 0) {
            await this.#writeAll(enc.encode("HTTP/1.1 100 Continue\r\n\r\n"));
            this.#arm(bodyTimeoutMs, "body");
          }
        }
        if (length === "chunked" && remaining === 0) {
          // Between chunks: the size line (a CRLF ends the previous chunk's data).
          let line = await this.#line(1024);
          if (line === "" && total > 0) line = await this.#line(1024);
          if (line === null) return ctl.error(this.#gone(length));
          const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(line);
          if (!size) return ctl.error(new ClientGoneError("HTTP_BAD_CHUNK", "bad chunk size"));
          remaining = parseInt(size[1], 16);
          if (remaining === 0) {
            // Trailers, ignored, up to the blank line.
            for (let i = 0;; i++) {
              const t = await this.#line(this.opts.maxHeaderBytes);
              if (t === null) return ctl.error(this.#gone(length));
              if (t === "") return finish(ctl);
              if (i > 64) {
                return ctl.error(new ClientGoneError("HTTP_BAD_CHUNK", "too many trailers"));
              }
            }
          }
          if (total + remaining > maxBodyBytes) {
            return ctl.error(
              new ClientGoneError(
                "HTTP_BODY_TOO_LARGE",
                `request body is larger than ${maxBodyBytes} bytes`,
              ),
            );
          }
        }
        if (!(await this.#ensure(1))) return ctl.error(this.#gone(remaining));
        const take = Math.min(this.#buf.length, remaining);
        ctl.enqueue(this.#buf.slice(0, take));
        this.#buf = this.#buf.subarray(take);
        remaining -= take;
        total += take;
        if (remaining === 0 && length !== "chunked") finish(ctl);
      },
    }, { highWaterMark: 0 });
  }

  /** Serves one request; true when the connection stays open for another. */
  async serveOne(first: boolean): Promise<boolean> {
    let head: RequestHead | null;
    let length: number | "chunked";
    try {
      head = await this.#readHead(first);
      if (!head) return false;
      length = requestBodyLength(head.headers);
      if (length !== "chunked" && length > this.opts.maxBodyBytes) {
        throw new HttpWireError(
          413,
          "HTTP_BODY_TOO_LARGE",
          `request body is larger than ${this.opts.maxBodyBytes} bytes`,
        );
      }
    } catch (err) {
      if (!(err instanceof HttpWireError)) throw err;
      await this.#writeAll(cannedJsonResponse(err.status, err.code, err.message));
      return false;
    }
    const state = { done: length === 0 };
    const completed = Promise.withResolvers<void>();
    let res: Response;
    try {
      const hasBody = length !== 0 && head.method !== "GET" && head.method !== "HEAD";
      const req = new Request(this.baseUrl + head.target, {
        method: head.method,
        headers: head.headers,
        body: hasBody ? this.#body(head, length, state) : null,
      });
      res = await this.handler(req, {
        remoteAddr: this.conn.remoteAddr as Deno.NetAddr,
        completed: completed.promise,
      });
    } catch (err) {
      this.opts.logger.error("http handler failed", { error: errorMessage(err) });
      res = new Response(null, { status: 500 });
    }
    // A body the handler left unread makes the connection unusable for another request.
    const keep = wantsKeepAlive(head) && state.done && !this.stopping();
    try {
      return await this.#writeResponse(res, head.method === "HEAD", keep) && keep;
    } finally {
      completed.resolve();
    }
  }

  /** Writes `res`; false when the connection must end after it. */
  async #writeResponse(res: Response, headOnly: boolean, keep: boolean): Promise<boolean> {
    const streaming = /^text\/event-stream/i.test(res.headers.get("content-type") ?? "");
    const connection = keep && !streaming ? "keep-alive" : "close";
    if (!streaming || !res.body) {
      const body = res.body ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array(0);
      const head = responseHead(res.status, res.headers, {
        "content-length": String(body.length),
        connection,
      });
      await this.#writeAll(headOnly ? enc.encode(head) : concat(enc.encode(head), body));
      return connection === "keep-alive";
    }
    await this.#writeAll(
      enc.encode(
        responseHead(res.status, res.headers, { "transfer-encoding": "chunked", connection }),
      ),
    );
    const reader = res.body.getReader();
    if (headOnly) {
      await reader.cancel();
      return false;
    }
    // The client sends nothing more on a stream; end of input means it went away.
    const gone = this.#readMore().then(() => reader.cancel(), () => reader.cancel());
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.#closed) break;
        if (value.length === 0) continue;
        await this.#writeAll(
          concat(enc.encode(value.length.toString(16) + "\r\n"), value, enc.encode("\r\n")),
        );
      }
      if (!this.#closed) await this.#writeAll(enc.encode("0\r\n\r\n"));
    } finally {
      this.close();
      await reader.cancel().catch(() => {});
      await gone.catch(() => {});
    }
    return false;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checkLimits(opts: HttpLimits): void {
  for (const [name, value] of Object.entries(opts)) {
    if (name in defaultHttpLimits && (!Number.isSafeInteger(value) || (value as number) < 1)) {
      throw new AwrError("HTTP_OPTIONS", `HTTP limit ${name} must be a positive integer`, {
        [name]: value,
      });
    }
  }
}

/**
 * Serves `handler` on `hostname:port` with the limits of {@link HttpLimits}. Throws
 * synchronously (`Deno.listen`'s error) when the address cannot be bound.
 *
 * @example
 * ```ts ignore
 * import { defaultHttpLimits, serveBounded } from "./http_server.ts";
 * import { silentLogger } from "../logger.ts";
 * const s = serveBounded(() => new Response("hi"), {
 *   ...defaultHttpLimits, hostname: "127.0.0.1", port: 0, logger: silentLogger,
 * });
 * await s.shutdown();
 * ```
 */
export function serveBounded(
  handler: BoundedHandler,
  options: Partial<BoundedServerOptions> & { hostname: string; port: number },
): BoundedServer {
  const opts: BoundedServerOptions = { ...defaultHttpLimits, logger: silentLogger, ...options };
  checkLimits(opts);
  const listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const baseUrl = `http://${host}:${addr.port}`;
  const conns = new Set<Connection>();
  const tasks = new Set<Promise<void>>();
  let stopping = false;
  let backoff: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;
  const track = (p: Promise<void>) => {
    tasks.add(p);
    p.finally(() => tasks.delete(p));
  };
  const refuse = async (conn: Deno.TcpConn) => {
    const timer = setTimeout(() => conn.close(), opts.writeTimeoutMs);
    try {
      await conn.write(
        cannedJsonResponse(
          503,
          "HTTP_TOO_MANY_CONNECTIONS",
          `the server holds ${opts.maxConnections} connections already; retry later`,
        ),
      );
    } catch {
      // The client left already.
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed by the timer.
      }
    }
  };
  const accepting = (async () => {
    while (!stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopping) break;
        // E.g. out of file descriptors: say so, and do not spin.
        opts.logger.warn("http accept failed", { error: errorMessage(err) });
        await new Promise<void>((wake) => backoff = { timer: setTimeout(wake, 100), wake });
        backoff = undefined;
        continue;
      }
      if (stopping) {
        conn.close();
        break;
      }
      if (conns.size >= opts.maxConnections) {
        opts.logger.debug("http connection refused: at the connection cap", {
          max_connections: opts.maxConnections,
        });
        track(refuse(conn));
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // Not fatal: only latency.
      }
      const c = new Connection(conn, opts, handler, baseUrl, () => stopping);
      conns.add(c);
      track((async () => {
        try {
          let first = true;
          while (await c.serveOne(first)) first = false;
        } catch (err) {
          opts.logger.debug("http connection ended", { error: errorMessage(err) });
        } finally {
          c.close();
          conns.delete(c);
        }
      })());
    }
  })();
  let stopped: Promise<void> | null = null;
  return {
    addr,
    get connectionCount() {
      return conns.size;
    },
    shutdown: () =>
      stopped ??= (async () => {
        stopping = true;
        listener.close();
        if (backoff) {
          clearTimeout(backoff.timer);
          backoff.wake();
        }
        await accepting;
        for (const c of conns) if (c.idle) c.close();
        let grace: ReturnType<typeof setTimeout> | undefined;
        const graceOver = new Promise<void>((r) => grace = setTimeout(r, opts.shutdownGraceMs));
        await Promise.race([Promise.allSettled([...tasks]), graceOver]);
        clearTimeout(grace);
        for (const c of conns) c.close();
        await Promise.allSettled([...tasks]);
      })(),
  };
}
