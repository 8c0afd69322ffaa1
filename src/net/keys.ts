/**
 * A validator's Ed25519 key: made with WebCrypto, kept in `<data>/validator_key.json`
 * (mode 0600), and used through `node:crypto` because the BFT engine's
 * {@link Signer} / {@link Verifier} are synchronous.
 *
 * ```json
 * {"version":1,"type":"ed25519","public_key":"<64 hex>","private_key":"<64 hex seed>"}
 * ```
 *
 * An existing key file is used as it is or refused, never replaced: one that group or
 * others may read stops start-up with `KEY_MODE`, one that does not hold a key (or
 * whose public key does not belong to its seed) with `KEY_MALFORMED`, both naming
 * the file. The same key is the node's libp2p identity.
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { join } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { createSecretFile } from "../storage/atomic.ts";
import { fromHex, toHex } from "../storage/hash.ts";
import type { Signer, Verifier } from "../consensus/bft/signing.ts";

/** A validator's Ed25519 key pair. */
export interface ValidatorKey {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte private seed (RFC 8032). */
  readonly seed: Uint8Array;
  /** {@link publicKey} as 64 lowercase hex digits (as listed in the genesis). */
  readonly publicKeyHex: string;
}

/** Largest key file read (the JSON is about 200 bytes). */
export const MAX_KEY_FILE_BYTES = 4096;

/** Name of the key file inside a data dir. */
export const VALIDATOR_KEY_FILE = "validator_key.json";

// DER prefixes that wrap a raw Ed25519 seed (PKCS#8) or public key (SPKI).
const PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");
const SPKI_PREFIX = fromHex("302a300506032b6570032100");

/**
 * Path of the key file in a data dir.
 *
 * @example
 * ```ts
 * import { validatorKeyPath } from "./keys.ts";
 * validatorKeyPath("/data/node1"); // "/data/node1/validator_key.json"
 * ```
 */
export function validatorKeyPath(dataDir: string): string {
  return join(dataDir, VALIDATOR_KEY_FILE);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A node:crypto private key from a raw 32-byte Ed25519 seed (PKCS#8 DER). */
export function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: concat(PKCS8_PREFIX, seed) as never,
    format: "der",
    type: "pkcs8",
  });
}

/** A node:crypto public key from a raw 32-byte Ed25519 key (SPKI DER). */
export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: concat(SPKI_PREFIX, publicKey) as never,
    format: "der",
    type: "spki",
  });
}

/** The raw public key that belongs to `seed`. */
function publicKeyOfSeed(seed: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyObject(seed)).export({ format: "der", type: "spki" });
  return new Uint8Array(der).slice(-32);
}

/**
 * A fresh key pair from WebCrypto.
 *
 * @example
 * ```ts
 * import { generateValidatorKey } from "./keys.ts";
 * const key = await generateValidatorKey();
 * key.publicKeyHex.length; // 64
 * ```
 */
export async function generateValidatorKey(): Promise<ValidatorKey> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  // A PKCS#8 Ed25519 key is 48 bytes: a fixed 16-byte header, then the 32-byte seed.
  if (pkcs8.length !== 48 || raw.length !== 32) {
    throw new AwrError("KEY_GENERATE", `WebCrypto returned an unexpected Ed25519 key shape`, {
      pkcs8Length: pkcs8.length,
      publicLength: raw.length,
    });
  }
  return keyOf(pkcs8.slice(16), raw);
}

function keyOf(seed: Uint8Array, publicKey: Uint8Array): ValidatorKey {
  return { seed, publicKey, publicKeyHex: toHex(publicKey) };
}

/** The key file's JSON text (one line and a newline). */
function keyFileText(key: ValidatorKey): string {
  return JSON.stringify({
    version: 1,
    type: "ed25519",
    public_key: key.publicKeyHex,
    private_key: toHex(key.seed),
  }) + "\n";
}

/**
 * Writes `key` to `path` (mode 0600 from the first byte), never overwriting an
 * existing file: `Deno.errors.AlreadyExists` when one is there.
 *
 * @example
 * ```ts
 * import { generateValidatorKey, writeValidatorKey } from "./keys.ts";
 * await writeValidatorKey("/tmp/awr-key-example.json", await generateValidatorKey());
 * ```
 */
export async function writeValidatorKey(
  path: string,
  key: ValidatorKey,
  opts: { durable?: boolean } = {},
): Promise<void> {
  // A link, unlike a rename, never replaces a key another process just made.
  await createSecretFile(path, new TextEncoder().encode(keyFileText(key)), opts);
}

/**
 * Reads a key file. Throws an {@link AwrError} `KEY_MODE` (group/others may read
 * it), `KEY_MALFORMED` (not a key, or the public key does not match the seed),
 * `KEY_READ` (OS error, including a missing file), each naming the path.
 *
 * @example
 * ```ts
 * import { loadValidatorKey } from "./keys.ts";
 * const key = await loadValidatorKey("/data/node1/validator_key.json");
 * ```
 */
export async function loadValidatorKey(path: string): Promise<ValidatorKey> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw readError(path, err);
  }
  return await readKeyFile(path, info);
}

async function readKeyFile(path: string, info: Deno.FileInfo): Promise<ValidatorKey> {
  if (!info.isFile) throw malformed(path, "not a regular file");
  if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new AwrError(
      "KEY_MODE",
      `${path} has mode ${mode}: group or others can read the validator key. ` +
        `Run "chmod 600 ${path}", then start again`,
      { path, mode },
    );
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    throw malformed(path, `larger than ${MAX_KEY_FILE_BYTES} bytes`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw readError(path, err);
  }
  return parseKeyFile(path, text);
}

function parseKeyFile(path: string, text: string): ValidatorKey {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed(path, "not JSON");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw malformed(path, "not a JSON object");
  }
  const o = raw as Record<string, unknown>;
  if (o.version !== 1) throw malformed(path, `field "version" must be 1`);
  if (o.type !== "ed25519") throw malformed(path, `field "type" must be "ed25519"`);
  for (const field of ["public_key", "private_key"]) {
    const v = o[field];
    if (typeof v !== "string" || !/^[0-9a-f]{64}$/.test(v)) {
      throw malformed(path, `field "${field}" must be 64 lowercase hex digits`);
    }
  }
  const seed = fromHex(o.private_key as string);
  const publicKey = fromHex(o.public_key as string);
  if (toHex(publicKeyOfSeed(seed)) !== o.public_key) {
    throw malformed(path, `field "public_key" does not belong to "private_key"`);
  }
  return keyOf(seed, publicKey);
}

/**
 * Reads the key at `path`, creating it (0600) on first use; `created` says which.
 * Errors as {@link loadValidatorKey}. `durable` (default true) fsyncs a new file.
 *
 * @example
 * ```ts
 * import { loadOrCreateValidatorKey, validatorKeyPath } from "./keys.ts";
 * await Deno.mkdir("/tmp/awr-key-dir", { recursive: true });
 * const { key, created } = await loadOrCreateValidatorKey(validatorKeyPath("/tmp/awr-key-dir"));
 * ```
 */
export async function loadOrCreateValidatorKey(
  path: string,
  opts: { durable?: boolean } = {},
): Promise<{ key: ValidatorKey; created: boolean }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw readError(path, err);
    const key = await generateValidatorKey();
    try {
      await writeValidatorKey(path, key, opts);
      return { key, created: true };
    } catch (writeErr) {
      // Another process created it between our stat and link: read theirs.
      if (!(writeErr instanceof Deno.errors.AlreadyExists)) throw readError(path, writeErr);
      try {
        info = await Deno.stat(path);
      } catch (statErr) {
        throw readError(path, statErr);
      }
    }
  }
  return { key: await readKeyFile(path, info), created: false };
}

/**
 * A {@link Signer} that signs with `key` (Ed25519, 64-byte signatures).
 *
 * @example
 * ```ts
 * import { ed25519Signer, generateValidatorKey } from "./keys.ts";
 * const sig = ed25519Signer(await generateValidatorKey()).sign(new Uint8Array([1]));
 * sig.length; // 64
 * ```
 */
export function ed25519Signer(key: ValidatorKey): Signer {
  const keyObject = privateKeyObject(key.seed);
  return { sign: (bytes) => new Uint8Array(sign(null, bytes, keyObject)) };
}

/** Most signatures {@link ed25519Verifier}s remember as verified (shared in a process). */
export const VERIFIED_MEMO_SIZE = 4096;

/**
 * Signatures that verified, `<public key hex>/<signature hex>` → the signed bytes: a
 * vote is checked by the network layer and again by the engine (and a relayed one once
 * more), and a hit costs a byte comparison instead of an Ed25519 verification. Only
 * successes are kept, with their exact bytes, so a hit proves what a verification
 * would; the oldest entry goes first beyond {@link VERIFIED_MEMO_SIZE}.
 */
const verified = new Map<string, Uint8Array>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** TEST ONLY: how many verified signatures are remembered now. */
export function verifiedMemoSize(): number {
  return verified.size;
}

/**
 * A {@link Verifier} for a validator set (ids with hex public keys). An unknown id, a
 * signature that is not 64 bytes, or a bad public key verifies false; never throws.
 * Successes are remembered (bounded, see {@link VERIFIED_MEMO_SIZE}).
 *
 * @example
 * ```ts
 * import { ed25519Signer, ed25519Verifier, generateValidatorKey } from "./keys.ts";
 * const key = await generateValidatorKey();
 * const msg = new Uint8Array([1]);
 * const ok = ed25519Verifier([{ id: "v1", publicKey: key.publicKeyHex }])
 *   .verify("v1", msg, ed25519Signer(key).sign(msg)); // true
 * ```
 */
export function ed25519Verifier(
  validators: readonly { id: string; publicKey: string }[],
): Verifier {
  const keys = new Map<string, KeyObject | null>();
  const hexOf = new Map(validators.map((v) => [v.id, v.publicKey]));
  for (const v of validators) {
    let keyObject: KeyObject | null = null;
    if (/^[0-9a-f]{64}$/.test(v.publicKey)) {
      try {
        keyObject = publicKeyObject(fromHex(v.publicKey));
      } catch {
        keyObject = null;
      }
    }
    keys.set(v.id, keyObject);
  }
  return {
    verify(id, bytes, signature) {
      const keyObject = keys.get(id);
      if (!keyObject) return false;
      if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
      const memo = `${hexOf.get(id)}/${toHex(signature)}`;
      const seen = verified.get(memo);
      if (seen !== undefined && sameBytes(seen, bytes)) return true;
      let ok: boolean;
      try {
        ok = verify(null, bytes, keyObject, signature);
      } catch {
        return false;
      }
      if (ok) {
        verified.delete(memo);
        verified.set(memo, bytes.slice());
        if (verified.size > VERIFIED_MEMO_SIZE) verified.delete(verified.keys().next().value!);
      }
      return ok;
    },
  };
}

function malformed(path: string, why: string): AwrError {
  return new AwrError(
    "KEY_MALFORMED",
    `${path} does not hold a validator key (${why}). Fix it or restore it from a backup`,
    { path },
  );
}

function readError(path: string, err: unknown): AwrError {
  return new AwrError(
    "KEY_READ",
    `cannot read or create the validator key file ${path}: ${
      err instanceof Error ? err.message : String(err)
    }`,
    { path },
  );
}
