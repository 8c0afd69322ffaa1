/**
 * A node started from a genesis file (`awr live --genesis FILE`): the world id and
 * validator set come from the genesis, the node's key from its data dir (made on
 * first start), and its own validator is the genesis entry listing that key's public
 * key. A key the genesis does not list makes a follower: it proposes and votes
 * nothing. Signatures are Ed25519 ({@link ed25519Signer}), never the simulator's.
 * @module
 */
import { type BftGenesis, parseGenesisBytes } from "../consensus/bft/genesis.ts";
import type { Validator } from "../consensus/types.ts";
import { AwrError, errorMessage } from "../errors.ts";
import type { LocalKeys } from "../node/local_consensus.ts";
import { ensureDirDurable, readFileBounded } from "../storage/atomic.ts";
import {
  ed25519Signer,
  ed25519Verifier,
  loadOrCreateValidatorKey,
  type ValidatorKey,
  validatorKeyPath,
} from "./keys.ts";

/** Largest genesis file read (1024 validators with addresses fit in ~300 KiB). */
export const MAX_GENESIS_BYTES = 1 << 20;

/** What {@link openGenesisNode} needs. */
export interface GenesisNodeOptions {
  /** Path of the genesis file (JSON, or CBOR when it ends in `.cbor`). */
  genesisPath: string;
  /** The node's data dir (its key is `<dataDir>/validator_key.json`). */
  dataDir: string;
  /** A world id given beside the genesis (must match it), or undefined. */
  worldId?: string;
  /** fsync a new key file (default true). */
  durable?: boolean;
}

/** A node's place in a genesis network. */
export interface GenesisNode {
  readonly genesis: BftGenesis;
  readonly worldId: string;
  /** The validator set with stakes, sorted by id. */
  readonly validators: Validator[];
  /** This node's validator id, or null for a follower. */
  readonly localValidator: string | null;
  readonly key: ValidatorKey;
  /** True when this start made the key file. */
  readonly keyCreated: boolean;
  readonly keyPath: string;
  /** Ed25519 keys for the node's BFT engine. */
  readonly keys: LocalKeys;
}

/**
 * Reads the genesis and the node's key (creating it when missing). Throws an
 * {@link AwrError}: `GENESIS_READ` (missing or unreadable file), the genesis parser's
 * `GENESIS_FIELD` / `GENESIS_DECODE` (naming the file and field; a public key that is
 * not 32 bytes is refused here), `GENESIS_CONFLICT` when `worldId` contradicts the
 * genesis, the key file's `KEY_*` codes.
 *
 * @example
 * ```ts ignore
 * const net = await openGenesisNode({ genesisPath: "net/genesis.json", dataDir: "net/node1" });
 * net.localValidator; // "v1"
 * ```
 */
export async function openGenesisNode(o: GenesisNodeOptions): Promise<GenesisNode> {
  const genesis = await readGenesis(o.genesisPath);
  if (o.worldId !== undefined && o.worldId !== genesis.worldId) {
    throw new AwrError(
      "GENESIS_CONFLICT",
      `world id "${o.worldId}" contradicts the genesis ${o.genesisPath} (world_id ` +
        `"${genesis.worldId}"); leave it out`,
      { option: "worldId", path: o.genesisPath, genesisWorldId: genesis.worldId },
    );
  }
  await ensureDirDurable(o.dataDir, o.durable ?? true);
  const keyPath = validatorKeyPath(o.dataDir);
  const { key, created } = await loadOrCreateValidatorKey(keyPath, { durable: o.durable });
  const listed = genesis.validators.validators;
  const local = listed.find((v) => v.publicKey === key.publicKeyHex)?.id ?? null;
  const signer = local === null ? null : ed25519Signer(key);
  const keys: LocalKeys = {
    signer: (id) => {
      if (id !== local || signer === null) {
        throw new AwrError("KEY_NOT_LOCAL", `this node holds no key of validator "${id}"`, {
          validator: id,
        });
      }
      return signer;
    },
    verifier: ed25519Verifier(listed),
  };
  return {
    genesis,
    worldId: genesis.worldId,
    validators: listed.map((v) => ({ id: v.id, stake: v.stake })),
    localValidator: local,
    key,
    keyCreated: created,
    keyPath,
    keys,
  };
}

/**
 * Reads and parses a genesis file for a network of Ed25519 validators (every
 * `public_key` 32 bytes).
 *
 * @example
 * ```ts ignore
 * const g = await readGenesis("net/genesis.json");
 * ```
 */
export async function readGenesis(path: string): Promise<BftGenesis> {
  let bytes: Uint8Array | null;
  try {
    bytes = await readFileBounded(path, MAX_GENESIS_BYTES);
  } catch (err) {
    throw new AwrError("GENESIS_READ", `cannot read the genesis ${path}: ${errorMessage(err)}`, {
      path,
    });
  }
  if (bytes === null) {
    throw new AwrError("GENESIS_READ", `the genesis file ${path} does not exist`, { path });
  }
  const genesis = parseGenesisBytes(path, bytes);
  genesis.validators.validators.forEach((v) => {
    if (!/^[0-9a-f]{64}$/.test(v.publicKey)) {
      throw new AwrError(
        "GENESIS_FIELD",
        `${path}: genesis field "public_key" of validator "${v.id}" must be an Ed25519 ` +
          `public key (64 lowercase hex digits)`,
        { path, field: "public_key", validator: v.id },
      );
    }
  });
  return genesis;
}
