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

/** Returns a one-line description of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
