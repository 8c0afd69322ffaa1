/**
 * HTTP/1.1 wire format for the bounded server ({@link ./http_server.ts}): parsing one
 * request head (request line + headers, already cut at the blank line and bounded in
 * size by the caller) and writing a response head. Pure functions, no I/O.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorArgs } from "../errors.ts";

/** The codes of a malformed request head (each carries the HTTP `status` answered). */
export type WireCode =
  | "HTTP_VERSION"
  | "HTTP_BAD_REQUEST_LINE"
  | "HTTP_BAD_TARGET"
  | "HTTP_BAD_HEADER"
  | "HTTP_NO_HOST"
  | "HTTP_TRANSFER_CODING"
  | "HTTP_BAD_FRAMING"
  | "HTTP_BAD_CONTENT_LENGTH"
  | "HTTP_HEADER_TOO_LARGE"
  | "HTTP_BODY_TOO_LARGE";

/** A parsed request head. */
export interface RequestHead {
  method: string;
  /** Origin-form target, e.g. `/v1/status?x=1`. */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  headers: Headers;
}

/** A malformed request head; `status` is what the client is answered. */
export class HttpWireError<C extends WireCode = WireCode> extends AwrError<C> {
  /** HTTP status to answer (400, 431, 501, 505). */
  readonly status: number;
  /**
   * @param status HTTP status to answer
   * @param code machine-readable code
   * @param message one line for the client
   */
  constructor(status: number, code: C, message: string) {
    // Every WireCode carries `{ status }`; TypeScript cannot see that through C.
    super(code, message, ...([{ status }] as unknown as ErrorArgs<C>));
    this.status = status;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses a request head (the bytes before `\r\n\r\n`, as latin-1 text). Throws
 * {@link HttpWireError} for anything this server does not accept.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from "./http_wire.ts";
 * const head = parseRequestHead("GET /v1/status HTTP/1.1\r\nHost: localhost");
 * head.headers.get("host"); // "localhost"
 * ```
 */
export function parseRequestHead(text: string): RequestHead {
  const lines = text.split("\r\n");
  const m = /^([A-Z]{1,16}) (\S{1,8192}) (HTTP\/1\.[01])$/.exec(lines[0]);
  if (!m) {
    if (/^\S+ \S+ HTTP\/\d/.test(lines[0])) {
      throw new HttpWireError(505, "HTTP_VERSION", "only HTTP/1.0 and HTTP/1.1 are served");
    }
    throw new HttpWireError(400, "HTTP_BAD_REQUEST_LINE", "malformed request line");
  }
  const [, method, target, version] = m;
  if (!target.startsWith("/")) {
    throw new HttpWireError(400, "HTTP_BAD_TARGET", "the request target must start with /");
  }
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw new HttpWireError(400, "HTTP_BAD_HEADER", "malformed header line");
    }
    try {
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new HttpWireError(400, "HTTP_BAD_HEADER", `malformed value of header ${name}`);
    }
  }
  if (version === "HTTP/1.1" && !headers.has("host")) {
    throw new HttpWireError(400, "HTTP_NO_HOST", "HTTP/1.1 requests need a Host header");
  }
  return { method, target, version, headers };
}

/**
 * The declared body length: 0 without a body, `"chunked"` for a chunked body, or a
 * {@link HttpWireError} for a body this server does not read (another transfer
 * coding, a bad `Content-Length`, both headers at once).
 */
export function requestBodyLength(headers: Headers): number | "chunked" {
  const te = headers.get("transfer-encoding");
  if (te !== null) {
    if (te.trim().toLowerCase() !== "chunked") {
      throw new HttpWireError(501, "HTTP_TRANSFER_CODING", `transfer coding ${te} is not accepted`);
    }
    if (headers.has("content-length")) {
      throw new HttpWireError(400, "HTTP_BAD_FRAMING", "both Transfer-Encoding and Content-Length");
    }
    return "chunked";
  }
  const cl = headers.get("content-length");
  if (cl === null) return 0;
  if (!/^\d{1,15}$/.test(cl)) {
    throw new HttpWireError(400, "HTTP_BAD_CONTENT_LENGTH", "malformed Content-Length");
  }
  return Number(cl);
}

/** Whether the client lets the connection be reused after this request. */
export function wantsKeepAlive(head: RequestHead): boolean {
  const c = (head.headers.get("connection") ?? "").toLowerCase();
  if (head.version === "HTTP/1.0") return /\bkeep-alive\b/.test(c);
  return !/\bclose\b/.test(c);
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  421: "Misdirected Request",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** The reason phrase of a status (a generic one for codes not listed). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 400 ? "OK" : "Error");
}

/**
 * A response head: status line, `headers` (hop-by-hop ones replaced by `framing`),
 * and the blank line.
 */
export function responseHead(
  status: number,
  headers: Headers,
  framing: Record<string, string>,
): string {
  let out = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const [k, v] of headers) {
    if (k === "content-length" || k === "transfer-encoding" || k === "connection") continue;
    out += `${k}: ${v}\r\n`;
  }
  for (const [k, v] of Object.entries(framing)) out += `${k}: ${v}\r\n`;
  return out + "\r\n";
}

/** A complete small JSON response as bytes (for refusals written before any handler runs). */
export function cannedJsonResponse(status: number, code: string, message: string): Uint8Array {
  const body = JSON.stringify({ error: message, code }) + "\n";
  const head = responseHead(
    status,
    new Headers({ "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }),
    { "content-length": String(new TextEncoder().encode(body).byteLength), connection: "close" },
  );
  return new TextEncoder().encode(head + body);
}
