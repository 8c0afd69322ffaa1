/**
 * How the live API answers a thrown error: client-facing node codes map to their
 * HTTP status, a client that left is not a failure, anything else is a logged 500.
 * Every answer is JSON `{"error": "...", "code": "..."}`.
 * @module
 */
import { AwrError, errorChain } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ActionError } from "../world/actions.ts";
import { causeField, errorBody, HttpError } from "./http_input.ts";
import { jsonResponse } from "./http_routes.ts";
import { ClientGoneError } from "./http_server.ts";

/** Codes of {@link AwrError}s a handler may let through, and their HTTP status. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  NODE_HALTED: 503,
  NODE_NOT_RUNNING: 503,
  MEMPOOL_FULL: 503,
  MEMPOOL_IO: 503,
  IDEMPOTENCY_KEY_REUSED: 409,
  MEMPOOL_BATCH_TOO_LARGE: 413,
  MEMPOOL_BAD_KEY: 400,
  NOT_PROVIDED_BY_DRIVER: 501,
};

/**
 * HTTP status of an error the node raised, or null when it is not a client-facing code.
 *
 * @example
 * ```ts
 * import { statusOfCode } from "./http_errors.ts";
 * statusOfCode("MEMPOOL_FULL"); // 503
 * ```
 */
export function statusOfCode(code: string): number | null {
  return Object.hasOwn(STATUS_OF_CODE, code) ? STATUS_OF_CODE[code] : null;
}

/** The JSON answer to `err`, thrown while serving `path`. */
export function errorResponse(err: unknown, logger: Logger, path: string): Response {
  // The client left (or dripped its body too slowly): nothing failed on our side.
  const gone = err instanceof ClientGoneError ? err : (err as Error | null)?.cause;
  if (gone instanceof ClientGoneError) {
    logger.debug("request body not received", { path, reason: gone.message });
    const status = gone.code === "HTTP_BODY_TIMEOUT"
      ? 408
      : gone.code === "HTTP_BODY_TOO_LARGE"
      ? 413
      : 400;
    return jsonResponse(status, { error: gone.message, code: gone.code });
  }
  const mapped = err instanceof AwrError && !(err instanceof HttpError)
    ? statusOfCode(err.code)
    : null;
  if (mapped !== null && err instanceof AwrError) {
    // 501: a view the driver does not offer (the viewer polls it); not worth a warning.
    if (mapped >= 500 && mapped !== 501) {
      logger.warn("write refused", { path, code: err.code, error: err.message });
    }
    // A refusal the client can retry later: say when (the node resumes by itself).
    const headers: Record<string, string> = mapped === 503 ? { "retry-after": "1" } : {};
    return jsonResponse(mapped, errorBody(err), headers);
  }
  if (err instanceof HttpError || err instanceof ActionError) {
    const status = err instanceof HttpError ? err.status : 400;
    const headers: Record<string, string> = status === 401
      ? { "www-authenticate": 'Bearer realm="awr"' }
      : status === 405
      ? { allow: String(err.context.allow) }
      : {};
    return jsonResponse(status, errorBody(err), headers);
  }
  logger.error("request failed", { path, error: errorChain(err) });
  return jsonResponse(500, {
    error: `internal error: ${errorChain(err)}`,
    code: "HTTP_INTERNAL",
    ...causeField(err),
  });
}
