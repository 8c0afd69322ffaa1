/**
 * The BFT genesis file: world id and validator set, as JSON (`genesis.json`) or
 * canonical CBOR (`genesis.cbor`), same fields:
 *
 * ```json
 * { "version": 1, "world_id": "demo", "validators": [
 *     { "id": "v1", "public_key": "<hex>", "stake": 10,
 *       "address": "/ip4/127.0.0.1/tcp/26656" } ] }
 * ```
 *
 * `address` is optional: where the validator's node listens for peers, a libp2p
 * multiaddr without the `/p2p/` part (the peer id follows from the public key).
 *
 * The parser names the first bad field in its error (`GENESIS_FIELD`).
 * @module
 */
import { decodeCbor } from "../../storage/cbor.ts";
import { BftError } from "./errors.ts";
import { type BftValidator, BftValidatorSet } from "./validators.ts";

/** A parsed genesis. */
export interface BftGenesis {
  readonly worldId: string;
  readonly validators: BftValidatorSet;
  /** Validator id → its `address` (a multiaddr), for the entries that give one. */
  readonly addresses: ReadonlyMap<string, string>;
}

/** Longest `address` a genesis entry may give. */
export const MAX_GENESIS_ADDRESS_LENGTH = 256;

/** Most validators a genesis may list. */
export const MAX_GENESIS_VALIDATORS = 1024;

function fail(field: string, why: string): never {
  throw new BftError("GENESIS_FIELD", `genesis field "${field}" ${why}`, { field });
}

/**
 * Parses a genesis object (already decoded from JSON or CBOR).
 *
 * @example
 * ```ts
 * import { parseGenesis } from "./genesis.ts";
 * const g = parseGenesis({ version: 1, world_id: "w",
 *   validators: [{ id: "a", public_key: "ab", stake: 1 }] });
 * g.validators.totalStake; // 1
 * ```
 */
export function parseGenesis(raw: unknown): BftGenesis {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    fail("(root)", "must be an object");
  }
  const g = raw as Record<string, unknown>;
  if (g.version !== 1) fail("version", "must be 1");
  if (typeof g.world_id !== "string" || g.world_id.length === 0 || g.world_id.length > 256) {
    fail("world_id", "must be a non-empty string of at most 256 characters");
  }
  if (!Array.isArray(g.validators) || g.validators.length === 0) {
    fail("validators", "must be a non-empty array");
  }
  if (g.validators.length > MAX_GENESIS_VALIDATORS) {
    fail("validators", `lists more than ${MAX_GENESIS_VALIDATORS} validators`);
  }
  const seen = new Set<string>();
  const addresses = new Map<string, string>();
  const validators: BftValidator[] = g.validators.map((v: unknown, i: number) => {
    const at = `validators[${i}]`;
    if (v === null || typeof v !== "object") fail(at, "must be an object");
    const o = v as Record<string, unknown>;
    if (typeof o.id !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(o.id)) {
      fail(`${at}.id`, "must be 1-64 characters of [A-Za-z0-9_.-]");
    }
    if (seen.has(o.id)) fail(`${at}.id`, `repeats "${o.id}"`);
    seen.add(o.id);
    if (typeof o.public_key !== "string" || !/^([0-9a-f]{2}){1,256}$/.test(o.public_key)) {
      fail(`${at}.public_key`, "must be lowercase hex");
    }
    if (typeof o.stake !== "number" || !Number.isSafeInteger(o.stake) || o.stake <= 0) {
      fail(`${at}.stake`, "must be a positive safe integer");
    }
    if (o.address !== undefined) {
      const a = o.address;
      if (
        typeof a !== "string" || a.length > MAX_GENESIS_ADDRESS_LENGTH ||
        !/^(\/[A-Za-z0-9._:-]+)+$/.test(a) || /\/p2p(\/|$)/.test(a)
      ) {
        fail(
          `${at}.address`,
          `must be a multiaddr without /p2p (like /ip4/127.0.0.1/tcp/26656), ` +
            `at most ${MAX_GENESIS_ADDRESS_LENGTH} characters`,
        );
      }
      addresses.set(o.id, a);
    }
    return { id: o.id, publicKey: o.public_key, stake: o.stake };
  });
  const total = validators.reduce((s, v) => s + v.stake, 0);
  if (!Number.isSafeInteger(total * 3)) fail("validators", "total stake is too large");
  return { worldId: g.world_id, validators: new BftValidatorSet(validators), addresses };
}

/** Parses genesis file bytes: CBOR when `path` ends in `.cbor`, JSON otherwise. */
export function parseGenesisBytes(path: string, bytes: Uint8Array): BftGenesis {
  let raw: unknown;
  try {
    raw = path.endsWith(".cbor") ? decodeCbor(bytes) : JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new BftError(
      "GENESIS_DECODE",
      `cannot decode genesis ${path}: ${String(err)}`,
      { path },
      {
        cause: err,
      },
    );
  }
  try {
    return parseGenesis(raw);
  } catch (err) {
    if (err instanceof BftError) {
      throw new BftError(err.code, `${path}: ${err.message}`, { ...err.context, path }, {
        cause: err,
      });
    }
    throw err;
  }
}
