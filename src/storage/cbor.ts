/**
 * The one CBOR codec every file, wire message and hash input goes through.
 *
 * Output is deterministic (RFC 8949 §4.2.1 core deterministic encoding): integers
 * and lengths use the shortest
 * head, map keys are sorted by their encoded bytes, byte strings are plain major
 * type 2 (no typed-array tags), and no cbor-x record/structure extensions are used.
 * So an independent decoder reads every file and recomputes every hash. Numbers must
 * be safe integers: a float, NaN or Infinity is refused (`CBOR_VALUE`, naming the
 * path of the value, e.g. `$.agents[3].x`), because float encodings differ between
 * writers and the contract forbids them in hashed data.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { Decoder, Encoder } from "npm:cbor-x@1.6.9";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/** A value the canonical encoder accepts. */
export type CborValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CborValue[]
  | { [key: string]: CborValue | undefined };

const encoder = new Encoder(
  {
    useRecords: false,
    mapsAsObjects: true,
    useTag259ForMaps: false,
    tagUint8Array: false,
    variableMapSize: true,
    pack: false,
    structuredClone: false,
    useFloat32: 0,
  } as ConstructorParameters<typeof Encoder>[0],
);

const decoder = new Decoder(
  {
    useRecords: false,
    mapsAsObjects: true,
    int64AsNumber: true,
  } as ConstructorParameters<typeof Decoder>[0],
);

const textEncoder = new TextEncoder();
const TWO_32 = 2 ** 32;

/** Error raised for values the canonical codec refuses, and for undecodable bytes. */
export class CborError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// Encoded form of a text-string key, used only for ordering (head + UTF-8 bytes).
function keyOrderBytes(key: string): Uint8Array {
  const utf8 = textEncoder.encode(key);
  const n = utf8.length;
  const head = n < 24
    ? [0x60 | n]
    : n < 0x100
    ? [0x78, n]
    : n < 0x10000
    ? [0x79, n >> 8, n & 0xff]
    : [0x7a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(utf8, head.length);
  return out;
}

const keyOrderCache = new Map<string, Uint8Array>();
function cachedKeyBytes(key: string): Uint8Array {
  let bytes = keyOrderCache.get(key);
  if (!bytes) {
    bytes = keyOrderBytes(key);
    if (keyOrderCache.size < 4096) keyOrderCache.set(key, bytes);
  }
  return bytes;
}

function prepare(value: unknown, path: string): unknown {
  switch (typeof value) {
    case "number":
      if (!Number.isInteger(value)) {
        throw new CborError(
          "CBOR_VALUE",
          `cannot encode ${value} at ${path}: only integers are allowed in canonical data`,
          { path, value: String(value) },
        );
      }
      if (Number.isInteger(value) && Math.abs(value) >= TWO_32) {
        if (!Number.isSafeInteger(value)) {
          throw new CborError("CBOR_VALUE", `integer at ${path} is outside the safe range`, {
            path,
          });
        }
        return BigInt(value);
      }
      return Object.is(value, -0) ? 0 : value;
    case "bigint":
      // cbor-x writes -2^64 as a tag-3 bignum rather than major type 1; refuse the
      // range edge instead of emitting non-canonical bytes.
      if (value < -(2n ** 64n) + 1n || value >= 2n ** 64n) {
        throw new CborError("CBOR_VALUE", `integer at ${path} is outside the 64-bit range`, {
          path,
        });
      }
      return value > -BigInt(TWO_32) && value < BigInt(TWO_32) ? Number(value) : value;
    case "string":
    case "boolean":
      return value;
    case "undefined":
      throw new CborError("CBOR_VALUE", `cannot encode undefined at ${path}`, { path });
    case "object": {
      if (value === null) return null;
      if (value instanceof Uint8Array) {
        // A Buffer or a view into a larger buffer is copied into a plain byte string.
        return value.constructor === Uint8Array ? value : new Uint8Array(value);
      }
      if (Array.isArray(value)) return value.map((v, i) => prepare(v, `${path}[${i}]`));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CborError("CBOR_VALUE", `cannot encode ${proto?.constructor?.name} at ${path}`, {
          path,
        });
      }
      const keys = Object.keys(value).filter((k) =>
        (value as Record<string, unknown>)[k] !== undefined
      );
      keys.sort((a, b) => compareBytes(cachedKeyBytes(a), cachedKeyBytes(b)));
      const map = new Map<string, unknown>();
      for (const k of keys) {
        map.set(k, prepare((value as Record<string, unknown>)[k], `${path}.${k}`));
      }
      return map;
    }
    default:
      throw new CborError("CBOR_VALUE", `cannot encode ${typeof value} at ${path}`, { path });
  }
}

/**
 * Encodes `value` to deterministic CBOR. Object properties whose value is
 * `undefined` are left out; `undefined` elsewhere is an error.
 *
 * @example
 * ```ts
 * import { encodeCanonical } from "./cbor.ts";
 * encodeCanonical({ b: 1, a: [2, 3] }); // keys come out as "a", "b"
 * ```
 */
export function encodeCanonical(value: unknown): Uint8Array {
  const bytes = encoder.encode(prepare(value, "$"));
  // cbor-x hands back a Node Buffer; hand out a plain Uint8Array.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array ? value : new Uint8Array(value);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalise(value[i]);
    return value;
  }
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    for (const k of Object.keys(obj)) obj[k] = normalise(obj[k]);
  }
  return value;
}

/**
 * Decodes exactly one CBOR item from `bytes`. Truncated input or trailing bytes are
 * a {@link CborError} (`CBOR_DECODE`). Byte strings come back as plain `Uint8Array`.
 *
 * @example
 * ```ts
 * import { decodeCbor, encodeCanonical } from "./cbor.ts";
 * decodeCbor(encodeCanonical({ a: 1 })); // { a: 1 }
 * ```
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new CborError("CBOR_DECODE", "empty input");
  let items: unknown[];
  try {
    items = decoder.decodeMultiple(bytes) as unknown[];
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CborError("CBOR_DECODE", `not valid CBOR (${why})`);
  }
  if (!Array.isArray(items) || items.length !== 1) {
    throw new CborError("CBOR_DECODE", `expected one CBOR item, found ${items?.length ?? 0}`);
  }
  return normalise(items[0]);
}
