/**
 * Content-addressed blob store: a blob lives at `<root>/<aa>/<bb>/<hash>` where
 * `hash` is the BLAKE3 hex of its bytes (so `b3sum <file>` prints its name).
 * Writes are atomic; reads check integrity.
 * @module
 */
import { join } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { removeStaleTemps, syncDir, writeFileAtomic } from "./atomic.ts";
import { HASH_NAME, hashHex } from "./hash.ts";

/** Error for a missing or corrupt blob. */
export class CasError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

const HASH_RE = /^[0-9a-f]{64}$/;

/** Version of the on-disk CAS layout, documented in the README. */
export const CAS_LAYOUT_VERSION = 1;

/**
 * A content-addressed store rooted at a folder.
 *
 * @example
 * ```ts
 * import { CasStore } from "./cas.ts";
 * const cas = new CasStore("/tmp/awr-example-store");
 * const id = await cas.put(new TextEncoder().encode("hello"));
 * const back = await cas.get(id);
 * ```
 */
export class CasStore {
  readonly #root: string;
  readonly #durable: boolean;
  readonly #known = new Set<string>();
  // Shard folders known to exist: creating them on every put cost more than the write.
  readonly #dirs = new Set<string>();

  /**
   * @param root folder of the store (`<data>/store`)
   * @param options `durable: false` skips fsync (tests of logic only)
   */
  constructor(root: string, options: { durable?: boolean } = {}) {
    this.#root = root;
    this.#durable = options.durable ?? true;
  }

  /** Folder of the store. */
  get root(): string {
    return this.#root;
  }

  /** Path of the blob named `hash`; refuses anything that is not a hash. */
  pathOf(hash: string): string {
    if (!HASH_RE.test(hash)) {
      throw new CasError("CAS_BAD_ADDRESS", `not a ${HASH_NAME} address: ${hash.slice(0, 80)}`, {
        hash,
      });
    }
    return join(this.#root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  /** Whether the blob exists on disk. */
  async has(hash: string): Promise<boolean> {
    if (this.#known.has(hash)) return true;
    try {
      await Deno.stat(this.pathOf(hash));
      this.#known.add(hash);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  /** Stores one blob; returns its address. Storing an existing blob writes nothing. */
  async put(bytes: Uint8Array): Promise<string> {
    const [hash] = await this.putMany([bytes]);
    return hash;
  }

  /**
   * Stores several blobs: file writes and fsyncs run concurrently and every touched
   * folder is fsynced once, so a batch costs about one flush, not one per blob.
   * Returns the addresses in input order.
   */
  async putMany(blobs: Uint8Array[]): Promise<string[]> {
    const hashes = blobs.map((b) => hashHex(b));
    await this.putHashed(blobs.map((bytes, i) => ({ hash: hashes[i], bytes })));
    return hashes;
  }

  /**
   * {@link putMany} for blobs whose addresses the caller already computed from these
   * same bytes: the execution core hashes every blob to build its state tree, and
   * hashing each again here would double the CPU cost of a height. Reads still
   * check integrity.
   */
  async putHashed(blobs: ReadonlyArray<{ hash: string; bytes: Uint8Array }>): Promise<void> {
    // No existence check on disk: a stat per new blob (and the NotFound it throws) cost
    // more than writing; rewriting a blob that exists replaces it with the same bytes.
    const pending = new Map<string, Uint8Array>();
    for (const { hash: h, bytes } of blobs) {
      if (!this.#known.has(h)) pending.set(h, bytes);
    }
    if (pending.size === 0) return;
    const dirs = new Set<string>();
    for (const h of pending.keys()) dirs.add(this.#shardOf(h));
    const created = await this.#ensureDirs(dirs);
    await Promise.all([...pending].map(([h, bytes]) =>
      writeFileAtomic(this.pathOf(h), bytes, {
        durable: this.#durable,
        syncDir: false,
        mkdirs: false,
      })
    ));
    if (this.#durable) {
      // The blobs' folders, and the parents of folders this batch created.
      for (const d of created) dirs.add(join(d, "..")).add(join(d, "..", ".."));
      await Promise.all([...dirs].map((d) => syncDir(d)));
    }
    for (const h of pending.keys()) this.#known.add(h);
  }

  #shardOf(hash: string): string {
    return join(this.#root, hash.slice(0, 2), hash.slice(2, 4));
  }

  // Creates the shard folders not yet known to exist; returns the ones it created.
  async #ensureDirs(dirs: Iterable<string>): Promise<string[]> {
    const missing = [...dirs].filter((d) => !this.#dirs.has(d));
    const created: string[] = [];
    await Promise.all(missing.map(async (d) => {
      try {
        await Deno.mkdir(d);
        created.push(d);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) return;
        if (!(err instanceof Deno.errors.NotFound)) throw err;
        await Deno.mkdir(d, { recursive: true });
        created.push(d);
      }
    }));
    // First touch of a shard in this process: remove temps a crash left there
    // (bounded: each shard once, and the store's shards are small).
    const fresh = new Set(created);
    await Promise.all(missing.filter((d) => !fresh.has(d)).map((d) => removeStaleTemps(d)));
    for (const d of missing) this.#dirs.add(d);
    return created;
  }

  /** Reads a blob and checks that its bytes hash to its address. */
  async get(hash: string): Promise<Uint8Array> {
    const path = this.pathOf(hash);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new CasError("CAS_MISSING", `blob ${hash} is missing (${path})`, { hash, path }, {
          cause: err,
        });
      }
      throw err;
    }
    const actual = hashHex(bytes);
    if (actual !== hash) {
      this.#known.delete(hash);
      throw new CasError(
        "CAS_CORRUPT",
        `blob ${hash} is corrupt: its bytes hash to ${actual} (${path})`,
        { hash, actual, path },
      );
    }
    return bytes;
  }
}
