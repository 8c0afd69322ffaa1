/**
 * The limits of the bounded HTTP server and the types its connections share with
 * the API layer (see {@link ./http_server.ts} for why the server is our own).
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { Logger } from "../logger.ts";

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
export class ClientGoneError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** What a handler learns about the connection. */
export interface ConnInfo {
  readonly remoteAddr: Deno.NetAddr;
  /** Settles once the response is written or the connection is gone. */
  readonly completed: Promise<void>;
}

/** A request handler; it should answer errors itself (a throw becomes a bare `500`). */
export type BoundedHandler = (req: Request, info: ConnInfo) => Promise<Response> | Response;
