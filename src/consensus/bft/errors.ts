/**
 * Error class of the BFT modules (codes name the field or rule that failed).
 * @module
 */
import { AwrError } from "../../errors.ts";
import type { ErrorCode } from "../../errors.ts";

/**
 * An error raised by the BFT engine, genesis parser or signer-state guard.
 *
 * @example
 * ```ts
 * import { BftError } from "./errors.ts";
 * throw new BftError("GENESIS_FIELD", "validators[0].stake must be a positive integer", {});
 * ```
 */
export class BftError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}
