/**
 * One accepted socket of the bounded HTTP server: reads request heads and bodies
 * under the timeouts and sizes of `HttpLimits`, calls the handler, and writes
 * responses (with `Content-Length`, or chunked for event streams). Every timeout
 * closes the socket.
 * @module
 */
import { errorChain, errorMessage } from "../errors.ts";
import { type BoundedHandler, type BoundedServerOptions, ClientGoneError } from "./http_limits.ts";
import {
  cannedJsonResponse,
  HttpWireError,
  parseRequestHead,
  requestBodyLength,
  type RequestHead,
  responseHead,
  wantsKeepAlive,
} from "./http_wire.ts";

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
export class HttpConnection {
  #buf: Uint8Array = new Uint8Array(0);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = "";
  #closed = false;
  /** Not inside a request (waiting for or reading a head): safe to close at shutdown. */
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
    this.idle = true;
    if (this.#buf.length === 0) {
      this.#arm(first ? headerTimeoutMs : idleTimeoutMs, first ? "header" : "idle");
      if (this.stopping() || !(await this.#readMore())) return null;
    }
    if (!first) this.#arm(headerTimeoutMs, "header");
    let searched = 0;
    for (;;) {
      const at = indexOfBlankLine(this.#buf, searched - 3);
      if (at >= 0) {
        if (at > maxHeaderBytes) break;
        this.#disarm();
        this.idle = false;
        const text = new TextDecoder("latin1").decode(this.#buf.subarray(0, at));
        this.#buf = this.#buf.subarray(at + 4);
        return parseRequestHead(text);
      }
      if (this.#buf.length > maxHeaderBytes) break;
      searched = this.#buf.length;
      if (this.stopping() || !(await this.#readMore())) return null;
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
    const hasBody = length !== 0 && head.method !== "GET" && head.method !== "HEAD";
    let req: Request;
    try {
      req = new Request(this.baseUrl + head.target, {
        method: head.method,
        headers: head.headers,
        body: hasBody ? this.#body(head, length, state) : null,
      });
    } catch (err) {
      // E.g. a method fetch forbids (CONNECT, TRACE) or a target that is no URL path.
      await this.#writeAll(
        cannedJsonResponse(
          400,
          "HTTP_BAD_REQUEST",
          `cannot serve this request: ${errorMessage(err)}`,
        ),
      );
      return false;
    }
    let res: Response;
    try {
      res = await this.handler(req, {
        remoteAddr: this.conn.remoteAddr as Deno.NetAddr,
        completed: completed.promise,
      });
    } catch (err) {
      this.opts.logger.error("http handler failed", { error: errorChain(err) });
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
