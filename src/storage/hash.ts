/**
 * The one named hash that serves every address in the project: BLAKE3-256 from
 * `@noble/hashes`, rendered as lowercase hex. Records name it (`hash: "blake3"`),
 * and an operator can check a CAS blob with `b3sum`.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { blake3 } from "npm:@noble/hashes@2.4.0/blake3.js";
import { encodeCanonical } from "./cbor.ts";
import { AwrError } from "../errors.ts";

/** Name recorded in files next to every hash. */
export const HASH_NAME = "blake3";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** Bytes of a hex string; throws on odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new AwrError("HEX_INVALID", `not a hex string: ${hex.slice(0, 80)}`, {
      length: hex.length,
    });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * BLAKE3-256 of `bytes` as hex.
 *
 * @example
 * ```ts
 * import { hashHex } from "./hash.ts";
 * hashHex(new Uint8Array()); // "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
 * ```
 */
export function hashHex(bytes: Uint8Array): string {
  return toHex(blake3(bytes));
}

/** BLAKE3-256 of `bytes` as raw bytes. */
export function hashBytes(bytes: Uint8Array): Uint8Array {
  return blake3(bytes);
}

/**
 * Hash of a value's canonical CBOR encoding: the way every structured value in the
 * project (block headers, execution block preimages) is hashed.
 *
 * @example
 * ```ts
 * import { hashCanonical } from "./hash.ts";
 * const id = hashCanonical({ height: 1, parent: "genesis" });
 * ```
 */
export function hashCanonical(value: unknown): string {
  return hashHex(encodeCanonical(value));
}
