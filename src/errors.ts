/**
 * The project's error base: a machine-readable `code` from the registry in
 * `error_codes.ts`, the typed context that caused it, and the `cause` it wraps, so
 * callers branch on codes and operators read a precise message.
 * @module
 */
import type { ErrorCode, ErrorFields } from "./error_codes.ts";

export type { ErrorCode, ErrorFields } from "./error_codes.ts";
export { ERROR_CODES, ERROR_REGISTRY, isErrorCode } from "./error_codes.ts";

/**
 * The arguments after `code` and `message`: the context (optional when the code's
 * fields are all optional) and ES2022 error options (`{ cause }`).
 */
export type ErrorArgs<C extends ErrorCode> = Record<never, never> extends ErrorFields[C]
  ? [context?: ErrorFields[C], options?: ErrorOptions]
  : [context: ErrorFields[C], options?: ErrorOptions];

/**
 * The context type of an error with code `C`: the code's fields (exact once the code
 * is known, e.g. after {@link hasCode}); any other field reads as `unknown`.
 */
export type ErrorContext<C extends ErrorCode> =
  & Readonly<ErrorFields[C]>
  & Readonly<Record<string, unknown>>;

/**
 * Base class of every error the runtime raises on purpose. The code picks the
 * context's type: `new AwrError("BLOCK_MISSING", msg, { height })` compiles, an
 * unknown code or a missing/wrong field does not.
 *
 * @example
 * ```ts
 * import { AwrError } from "./errors.ts";
 * try {
 *   await Deno.readFile("/nonexistent");
 * } catch (cause) {
 *   const e = new AwrError("FILE_READ", "cannot read /nonexistent", { path: "/nonexistent" }, {
 *     cause,
 *   });
 *   console.log(e.code, e.context.path, e.cause);
 * }
 * ```
 */
export class AwrError<C extends ErrorCode = ErrorCode> extends Error {
  /** Stable machine-readable code (see `ERROR_CODES`). */
  readonly code: C;
  /** The values that led to the error. */
  readonly context: ErrorContext<C>;

  /**
   * @param code machine-readable code, e.g. `SNAPSHOT_FIELD_TYPE`
   * @param message one line for people
   * @param args the context (typed by `code`), then `{ cause }` when wrapping an error
   */
  constructor(code: C, message: string, ...args: ErrorArgs<C>) {
    const [context, options] = args;
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = (context ?? {}) as ErrorContext<C>;
  }
}

/**
 * True when `err` is an {@link AwrError} with this code; narrows its context type.
 *
 * @example
 * ```ts
 * import { AwrError, hasCode } from "./errors.ts";
 * const err: unknown = new AwrError("BLOCK_MISSING", "no block 3", { height: 3 });
 * if (hasCode(err, "BLOCK_MISSING")) console.log(err.context.height);
 * ```
 */
export function hasCode<C extends ErrorCode>(err: unknown, code: C): err is AwrError<C> {
  return err instanceof AwrError && err.code === code;
}

/**
 * The machine-readable code of a thrown value (an {@link AwrError}'s, or a `code`
 * string property such as a Deno error's), or null.
 *
 * @example
 * ```ts
 * import { AwrError, errorCode } from "./errors.ts";
 * errorCode(new AwrError("DRIVER_TIMEOUT", "late")); // "DRIVER_TIMEOUT"
 * ```
 */
export function errorCode(err: unknown): string | null {
  if (err instanceof AwrError) return err.code;
  if (err !== null && typeof err === "object" && "code" in err && typeof err.code === "string") {
    return err.code;
  }
  return null;
}

/** Returns a one-line description of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** How many `cause` links {@link errorJson} and {@link errorChain} follow (cycles end there). */
export const MAX_CAUSE_DEPTH = 4;

/** The JSON shape of an error: what logs and `--json` output print. */
export interface ErrorJson {
  /** One line for people. */
  readonly message: string;
  /** Machine-readable code, when the error has one. */
  readonly code?: string;
  /** The error's context fields (an {@link AwrError}'s). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** The wrapped error, rendered the same way. */
  readonly cause?: ErrorJson;
}

/**
 * An error (and its `cause` chain, at most {@link MAX_CAUSE_DEPTH} links) as JSON.
 *
 * @example
 * ```ts
 * import { AwrError, errorJson } from "./errors.ts";
 * const e = new AwrError("FILE_READ", "cannot read a", { path: "a" }, { cause: new Error("EIO") });
 * errorJson(e).cause?.message; // "EIO"
 * ```
 */
export function errorJson(err: unknown, depth = 0): ErrorJson {
  const code = errorCode(err) ?? undefined;
  const context = err instanceof AwrError && Object.keys(err.context).length > 0
    ? err.context as Readonly<Record<string, unknown>>
    : undefined;
  const cause = err instanceof Error && err.cause !== undefined && depth < MAX_CAUSE_DEPTH
    ? errorJson(err.cause, depth + 1)
    : undefined;
  return {
    message: errorMessage(err),
    ...(code !== undefined ? { code } : {}),
    ...(context ? { context } : {}),
    ...(cause ? { cause } : {}),
  };
}

/**
 * The error's message followed by each cause's (`a; caused by: [CODE] b`), for one-line
 * logs and operator messages. A cause whose message the line already holds (a wrapper
 * that quoted it) adds nothing.
 *
 * @example
 * ```ts
 * import { AwrError, errorChain } from "./errors.ts";
 * const e = new AwrError("FILE_READ", "cannot read a", { path: "a" }, { cause: new Error("EIO") });
 * errorChain(e); // "cannot read a; caused by: EIO"
 * ```
 */
export function errorChain(err: unknown): string {
  let out = errorMessage(err);
  let at: unknown = err;
  for (let i = 0; i < MAX_CAUSE_DEPTH && at instanceof Error && at.cause !== undefined; i++) {
    at = at.cause;
    const code = errorCode(at);
    const message = errorMessage(at);
    if (!out.includes(message)) out += `; caused by: ${code ? `[${code}] ` : ""}${message}`;
  }
  return out;
}
