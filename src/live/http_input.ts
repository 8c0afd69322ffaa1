/**
 * Checks of what clients send the HTTP API: `:height` path segments, the bearer
 * token, and `POST /v1/actions` bodies. Each refusal is an {@link HttpError}
 * carrying its status, or the {@link ActionError} of the offending action.
 * @module
 */
import { AwrError, errorJson, errorMessage } from "../errors.ts";
import type { ErrorArgs, ErrorCode } from "../errors.ts";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../node/mempool.ts";
import { ActionError, parseAction } from "../world/actions.ts";
import type { WorldAction } from "../world/actions.ts";

/** Largest accepted `POST /v1/actions` body. */
export const MAX_ACTIONS_BODY_BYTES = 64 * 1024;
/** Most actions one `POST /v1/actions` may carry. */
export const MAX_ACTIONS_PER_REQUEST = 256;

/**
 * The request's `Idempotency-Key` header, or null without one. Refuses (400) a key
 * that is empty, longer than {@link MAX_IDEMPOTENCY_KEY_LENGTH} or not visible ASCII.
 *
 * @example
 * ```ts
 * import { parseIdempotencyKey } from "./http_input.ts";
 * parseIdempotencyKey(new Request("http://x/", { headers: { "idempotency-key": "k-1" } })); // "k-1"
 * ```
 */
export function parseIdempotencyKey(req: Request): string | null {
  const key = req.headers.get("idempotency-key");
  if (key === null) return null;
  if (!/^[\x21-\x7e]+$/.test(key) || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new HttpError(
      400,
      "HTTP_BAD_IDEMPOTENCY_KEY",
      `Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`,
    );
  }
  return key;
}

/**
 * Checks an `:id` path segment of `GET /v1/actions/:id`: 32 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { parseActionId } from "./http_input.ts";
 * parseActionId("0123456789abcdef0123456789abcdef"); // the same id; "xyz" throws (400)
 * ```
 */
export function parseActionId(text: string): string {
  if (!/^[0-9a-f]{32}$/.test(text)) {
    throw new HttpError(
      400,
      "HTTP_BAD_ACTION_ID",
      `action id must be 32 lowercase hex digits, got ${quoted(text)}`,
    );
  }
  return text;
}

/** A request the server refuses, with its HTTP status. */
export class HttpError<C extends ErrorCode = ErrorCode> extends AwrError<C> {
  /** HTTP status code of the answer. */
  readonly status: number;
  /**
   * @param status HTTP status @param code machine-readable code @param message the
   * client-facing message @param args extra JSON fields of the answer, then `{ cause }`
   */
  constructor(status: number, code: C, message: string, ...args: ErrorArgs<C>) {
    super(code, message, ...args);
    this.status = status;
  }
}

/** `{ cause }` (as {@link errorJson}) when `err` wraps another error, else `{}`. */
export function causeField(err: unknown): { cause?: ReturnType<typeof errorJson> } {
  return err instanceof Error && err.cause !== undefined ? { cause: errorJson(err.cause) } : {};
}

/** The JSON answer of a refused request: context fields, message, code, and its cause. */
export function errorBody(err: AwrError): Record<string, unknown> {
  return { ...err.context, error: err.message, code: err.code, ...causeField(err) };
}

/** `text` as a JSON string, cut at 40 characters (for messages). */
export function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text);
}

/**
 * Parses a `:height` path segment: a positive decimal integer.
 *
 * @example
 * ```ts
 * import { parseHeightParam } from "./http_input.ts";
 * parseHeightParam("12"); // 12; "abc", "-1", "1.5" and "0" throw HttpError (400)
 * ```
 */
export function parseHeightParam(text: string): number {
  if (text === "") throw new HttpError(400, "HTTP_BAD_HEIGHT", "missing height in the path");
  if (!/^[0-9]+$/.test(text)) {
    throw new HttpError(
      400,
      "HTTP_BAD_HEIGHT",
      `height must be a positive integer in decimal, got ${quoted(text)}`,
    );
  }
  const height = Number(text);
  if (!Number.isSafeInteger(height)) {
    throw new HttpError(400, "HTTP_BAD_HEIGHT", `height ${quoted(text)} is too large`);
  }
  if (height < 1) {
    throw new HttpError(400, "HTTP_BAD_HEIGHT", `height must be at least 1 (heights start at 1)`);
  }
  return height;
}

/**
 * Compares a presented token with the expected one in time that depends only on the
 * lengths, never on where they differ. An empty expected token matches nothing.
 *
 * @example
 * ```ts
 * import { tokenMatches } from "./http_input.ts";
 * tokenMatches("s3cret", "s3cret"); // true
 * ```
 */
export function tokenMatches(expected: string, presented: string): boolean {
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(presented);
  let diff = a.length ^ b.length;
  // Always walks the whole expected token, whatever was presented.
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ (i < b.length ? b[i] : 0);
  return a.length > 0 && diff === 0;
}

/**
 * Throws a 401 {@link HttpError} unless `req` carries `Authorization: Bearer <token>`.
 *
 * @example
 * ```ts
 * import { requireBearerToken } from "./http_input.ts";
 * const req = new Request("http://x/", { headers: { authorization: "Bearer t0k" } });
 * requireBearerToken(req, "t0k"); // passes
 * ```
 */
export function requireBearerToken(req: Request, token: string): void {
  const header = req.headers.get("authorization") ?? "";
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m || !tokenMatches(token, m[1])) {
    throw new HttpError(
      401,
      "HTTP_UNAUTHORIZED",
      m ? "wrong bearer token" : "missing bearer token: send `Authorization: Bearer <token>`",
    );
  }
}

/**
 * Reads `req`'s body as UTF-8 text, refusing (413) more than `limit` bytes whether
 * or not a content-length was declared.
 *
 * @example
 * ```ts
 * import { readBodyText } from "./http_input.ts";
 * await readBodyText(new Request("http://x/", { method: "POST", body: "{}" }), 1024); // "{}"
 * ```
 */
export async function readBodyText(req: Request, limit: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, "HTTP_BODY_TOO_LARGE", `request body is larger than ${limit} bytes`);
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await req.body?.cancel();
    throw tooLarge();
  }
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) bytes.set(c, (at += c.byteLength) - c.byteLength);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "HTTP_BAD_JSON", "request body is not valid UTF-8");
  }
}

/**
 * Checks a `POST /v1/actions` body: one action object or `{"actions": [...]}`.
 * Throws {@link HttpError} (400/413) or the {@link ActionError} of the first bad
 * action, its message prefixed with `actions[i]: ` in a batch.
 *
 * @example
 * ```ts
 * import { parseActionsBody } from "./http_input.ts";
 * parseActionsBody('{"kind":"register","agent":"ada"}').length; // 1
 * ```
 */
export function parseActionsBody(text: string): WorldAction[] {
  if (text.trim() === "") {
    throw new HttpError(400, "HTTP_BAD_JSON", 'empty body: send one action or {"actions": [...]}');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "HTTP_BAD_JSON", `malformed JSON: ${errorMessage(err)}`, {}, {
      cause: err,
    });
  }
  const isBatch = json !== null && typeof json === "object" && !Array.isArray(json) &&
    Object.hasOwn(json, "actions") && !Object.hasOwn(json, "kind");
  if (!isBatch) return [parseAction(json)];
  const list = (json as { actions: unknown }).actions;
  if (!Array.isArray(list)) {
    throw new HttpError(400, "HTTP_BAD_ACTIONS", `"actions" must be an array`);
  }
  if (list.length === 0) throw new HttpError(400, "HTTP_BAD_ACTIONS", `"actions" is empty`);
  if (list.length > MAX_ACTIONS_PER_REQUEST) {
    throw new HttpError(
      413,
      "HTTP_TOO_MANY_ACTIONS",
      `${list.length} actions in one request; at most ${MAX_ACTIONS_PER_REQUEST} are allowed`,
    );
  }
  return list.map((item, i) => {
    try {
      return parseAction(item);
    } catch (err) {
      if (!(err instanceof ActionError)) throw err;
      throw new ActionError(err.code, `actions[${i}]: ${err.message}`, {
        ...err.context,
        index: i,
      }, { cause: err });
    }
  });
}
