/**
 * Cheaper Ed25519 in libp2p's keys. @libp2p/crypto 5.1.23's node build signs and
 * verifies by importing the raw key as a JWK on every call (`hashAndSign` /
 * `hashAndVerify` in src/keys/ed25519/index.ts), which under Deno costs several times
 * the signature itself; Noise calls them at every handshake (and gossipsub would for
 * every message, were its signatures on: they are off, see `_libp2p.ts`). Here the key
 * objects are made once: per private key object, and per public key (bounded by
 * {@link MAX_CACHED_PUBLIC_KEYS}). Results are the same node:crypto Ed25519 ones.
 * @module
 */
import { type KeyObject, sign, verify } from "node:crypto";
import { privateKeyObject, publicKeyObject } from "./keys.ts";
import { toHex } from "../storage/hash.ts";

/** Most publishers' key objects kept (the oldest goes first). */
export const MAX_CACHED_PUBLIC_KEYS = 1024;

/** The libp2p Ed25519 key classes' shape used here. */
interface LibKey {
  readonly raw: Uint8Array;
  sign(message: Uint8Array | { subarray(): Uint8Array }, options?: unknown): unknown;
  verify(
    data: Uint8Array | { subarray(): Uint8Array },
    sig: Uint8Array,
    options?: { signal?: AbortSignal },
  ): unknown;
}

const publicKeys = new Map<string, KeyObject>();
const privateKeys = new WeakMap<object, KeyObject>();

function bytesOf(m: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return m instanceof Uint8Array ? m : m.subarray();
}

/** Verifies `sig` over `data` by the raw 32-byte `key` (libp2p's contract: throws on bad lengths). */
export function verifyRaw(key: Uint8Array, sig: Uint8Array, data: Uint8Array): boolean {
  if (key.byteLength !== 32) throw new TypeError('"key" must be 32 bytes in length.');
  if (sig.byteLength !== 64) throw new TypeError('"sig" must be 64 bytes in length.');
  const hex = toHex(key);
  let obj = publicKeys.get(hex);
  if (obj === undefined) {
    obj = publicKeyObject(key);
    publicKeys.set(hex, obj);
    if (publicKeys.size > MAX_CACHED_PUBLIC_KEYS) {
      publicKeys.delete(publicKeys.keys().next().value!);
    }
  }
  return verify(null, data, obj, sig);
}

/** TEST ONLY: how many public key objects are cached now. */
export function cachedPublicKeys(): number {
  return publicKeys.size;
}

let installed = false;

/**
 * Installs the cached-key `sign` / `verify` on libp2p's Ed25519 key classes, found
 * through `privateKey` (one of them); once per process.
 */
export function installCachedEd25519(privateKey: object): void {
  if (installed) return;
  installed = true;
  const priv = Object.getPrototypeOf(privateKey) as LibKey;
  const pub = Object.getPrototypeOf((privateKey as { publicKey: object }).publicKey) as LibKey;
  priv.sign = function (this: LibKey, message, options?: { signal?: AbortSignal }) {
    options?.signal?.throwIfAborted();
    let obj = privateKeys.get(this);
    if (obj === undefined) {
      obj = privateKeyObject(this.raw.subarray(0, 32));
      privateKeys.set(this, obj);
    }
    return new Uint8Array(sign(null, bytesOf(message), obj));
  };
  pub.verify = function (this: LibKey, data, sig, options) {
    options?.signal?.throwIfAborted();
    return verifyRaw(this.raw, sig, bytesOf(data));
  };
}
