/**
 * Private helper shared by the consensus modules.
 * @module
 */

/**
 * True for a non-negative safe integer: the only kind of number consensus hashes.
 *
 * @example
 * ```ts
 * import { isUint } from "./_uint.ts";
 * isUint(3); // true
 * isUint(1.5); // false
 * ```
 */
export function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
