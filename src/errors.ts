/**
 * The project's error base: a machine-readable `code` plus the context that caused
 * it, so callers branch on codes and operators read a precise message.
 * @module
 */

/**
 * Base class of every error the runtime raises on purpose.
 *
 * @example
 * ```ts
 * import { AwrError } from "./errors.ts";
 * const e = new AwrError("EXAMPLE", "something broke", { height: 3 });
 * console.log(e.code, e.context.height);
 * ```
 */
export class AwrError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  /** The values that led to the error. */
  readonly context: Readonly<Record<string, unknown>>;

  /**
   * @param code machine-readable code, e.g. `SNAPSHOT_FIELD_TYPE`
   * @param message one line for people
   * @param context the values behind the error
   */
  constructor(code: string, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
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
