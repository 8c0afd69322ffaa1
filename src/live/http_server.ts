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
import { AwrError, errorChain } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import { HttpConnection } from "./http_connection.ts";
import {
  type BoundedHandler,
  type BoundedServerOptions,
  defaultHttpLimits,
  type HttpLimits,
} from "./http_limits.ts";
import { cannedJsonResponse } from "./http_wire.ts";

export {
  type BoundedHandler,
  type BoundedServerOptions,
  ClientGoneError,
  type ConnInfo,
  defaultHttpLimits,
  type HttpLimits,
} from "./http_limits.ts";

/** A running bounded server. */
export interface BoundedServer {
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connectionCount: number;
  /** Stops accepting, lets requests in flight finish (bounded), closes every socket. */
  shutdown(): Promise<void>;
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
  const conns = new Set<HttpConnection>();
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
        opts.logger.warn("http accept failed", { error: errorChain(err) });
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
      const c = new HttpConnection(conn, opts, handler, baseUrl, () => stopping);
      conns.add(c);
      track((async () => {
        try {
          let first = true;
          while (await c.serveOne(first)) first = false;
        } catch (err) {
          opts.logger.debug("http connection ended", { error: errorChain(err) });
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
        const settled = async (ms: number) => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const over = new Promise<void>((r) => timer = setTimeout(r, ms));
          await Promise.race([Promise.allSettled([...tasks]), over]);
          clearTimeout(timer);
        };
        await settled(opts.shutdownGraceMs);
        for (const c of conns) c.close();
        // Closed sockets end their tasks at once, except one whose handler hangs:
        // that one must not hold the node's stop (it ends whenever the handler does).
        await settled(Math.min(1_000, opts.shutdownGraceMs));
      })(),
  };
}
