/**
 * The error every execution path raises on purpose, with a machine-readable code:
 * `CONFLICTING_BLOCK`, `BLOCK_MISSING`, `RECORD_MISSING`, `RECORD_CHAIN_BROKEN`,
 * `RECORD_DIVERGED`, `WORLD_MISMATCH`, `STATE_INVALID`, `CORE_CLOSED`, `BAD_HEIGHT`.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/**
 * An execution failure; `context` holds the heights and hashes involved.
 *
 * @example
 * ```ts
 * import { ExecutionError } from "./execution_error.ts";
 * const e = new ExecutionError("BLOCK_MISSING", "no block at height 3", { height: 3 });
 * e.code; // "BLOCK_MISSING"
 * ```
 */
export class ExecutionError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}
