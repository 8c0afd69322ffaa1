/**
 * The file-backed BFT signer state of a local validator, in `<data>/node/<id>/`:
 *
 * - `signer_state.journal`: the states saved since this process's first save, one
 *   record each, written in place into a preallocated (zero-filled) file and made
 *   durable with one `fdatasync`. Overwriting allocated blocks changes no metadata, so
 *   a save costs one data flush instead of the two fsyncs, the rename and the folder
 *   journal commit of an atomic replace (it sits on a networked height's critical path
 *   three times: proposal, prevote, precommit).
 * - `signer_state.cbor`: the plain state of data dirs from before the journal (and of
 *   an older binary run on the same data dir); read, never written any more.
 *
 * A journal is only ever appended to by the process that created it: its first save
 * replaces the whole file atomically (header, the state, zeros up to the capacity), so
 * the bytes after the last record are zeros, never a previous run's records. Each
 * record carries its length and a hash of its bytes; a load takes the records in
 * order up to the first that is not whole (a crash during a write leaves at most that
 * one torn: its signature never left, since a message leaves only after its save
 * resolved). A record that does not fit the capacity starts a new journal.
 *
 * Load returns the newest of the two files by (height, round, step): the guard's
 * states only move forward, so the newest is the last one saved.
 * @module
 */
import { readFileIfExists, writeFileAtomic } from "../storage/atomic.ts";
import { decodeSignerState, encodeSignerState } from "../consensus/bft/signer_state.ts";
import type { SignerStateStore } from "../consensus/bft/signer_state.ts";
import type { SignerState } from "../consensus/bft/types.ts";
import { signerJournalPath, signerStatePath } from "../storage/data_dir.ts";
import { hashBytes } from "../storage/hash.ts";
import { flushNow } from "../storage/flush.ts";
import { AwrError } from "../errors.ts";

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { signerJournalPath, signerStatePath };

/** Default size of a journal file (bytes): about a hundred saves of a small state. */
export const SIGNER_JOURNAL_BYTES = 256 * 1024;

/** First bytes of a journal: "AWRSJ", 0, 0, format 1. */
const MAGIC = new Uint8Array([0x41, 0x57, 0x52, 0x53, 0x4a, 0, 0, 1]);
/** A record: u32 LE length, the first 16 bytes of the BLAKE3 hash, the CBOR state. */
const RECORD_HEADER = 4 + 16;

function record(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, true);
  out.set(hashBytes(payload).subarray(0, 16), 4);
  out.set(payload, RECORD_HEADER);
  return out;
}

/**
 * The whole records of a journal file, in order, and where the next one goes. Throws
 * `SIGNER_JOURNAL_MALFORMED` when the file does not start with the journal header.
 */
export function readJournal(
  path: string,
  bytes: Uint8Array,
): { payloads: Uint8Array[]; end: number } {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new AwrError(
      "SIGNER_JOURNAL_MALFORMED",
      `${path} is not a signer state journal (bad header)`,
      { path },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloads: Uint8Array[] = [];
  let at = MAGIC.length;
  while (at + RECORD_HEADER <= bytes.length) {
    const len = view.getUint32(at, true);
    const start = at + RECORD_HEADER;
    if (len === 0 || start + len > bytes.length) break;
    const payload = bytes.subarray(start, start + len);
    const sum = hashBytes(payload);
    if (sum.subarray(0, 16).some((b, i) => bytes[at + 4 + i] !== b)) break; // torn
    payloads.push(payload);
    at = start + len;
  }
  return { payloads, end: at };
}

function order(s: SignerState): [number, number, number] {
  return [s.height, s.round, s.step];
}

function newer(a: SignerState, b: SignerState): boolean {
  const x = order(a), y = order(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return false;
}

/**
 * A {@link SignerStateStore} on disk (see the module doc for the files).
 *
 * @example
 * ```ts
 * import { FileSignerStateStore } from "./signer_state_file.ts";
 * const store = new FileSignerStateStore("/tmp/awr-data", "v1");
 * const state = await store.load(); // null on a fresh data dir
 * ```
 */
export class FileSignerStateStore implements SignerStateStore {
  /** The plain state file (data dirs from before the journal). */
  readonly path: string;
  /** The journal this store appends to. */
  readonly journalPath: string;
  /** Where this process appends next; null until its first save made a journal. */
  #end: number | null = null;
  #saving: Promise<void> = Promise.resolve();

  /**
   * @param dataDir the node's data directory
   * @param validatorId this validator's id
   * @param durable fsync file and folder (default true)
   * @param journalBytes journal capacity in bytes (default {@link SIGNER_JOURNAL_BYTES})
   * @param blockingFlush flush a record on this thread (`storage/flush.ts`; networked
   *   nodes), not through Deno's blocking pool
   */
  constructor(
    dataDir: string,
    validatorId: string,
    readonly durable = true,
    readonly journalBytes = SIGNER_JOURNAL_BYTES,
    readonly blockingFlush = false,
  ) {
    this.path = signerStatePath(dataDir, validatorId);
    this.journalPath = signerJournalPath(dataDir, validatorId);
  }

  /**
   * The newest saved state; null when nothing was ever saved. A bad field throws
   * naming it, a journal without its header `SIGNER_JOURNAL_MALFORMED`.
   */
  async load(): Promise<SignerState | null> {
    return this.#pick(await readFileIfExists(this.path), await readFileIfExists(this.journalPath));
  }

  /** {@link load} with synchronous reads (tests read it from synchronous callbacks). */
  loadSync(): SignerState | null {
    const read = (p: string) => {
      try {
        return Deno.readFileSync(p);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return null;
        throw err;
      }
    };
    return this.#pick(read(this.path), read(this.journalPath));
  }

  #pick(plain: Uint8Array | null, journal: Uint8Array | null): SignerState | null {
    const a = plain === null ? null : decodeSignerState(plain);
    const records = journal === null ? [] : readJournal(this.journalPath, journal).payloads;
    const b = records.length ? decodeSignerState(records[records.length - 1]) : null;
    if (a === null || b === null) return b ?? a;
    return newer(a, b) ? a : b;
  }

  /** Saves durably (saves are serialised): resolves once a crash cannot lose `state`. */
  save(state: SignerState): Promise<void> {
    const next = this.#saving.then(() => this.#write(state));
    this.#saving = next.catch(() => {});
    return next;
  }

  async #write(state: SignerState): Promise<void> {
    const rec = record(encodeSignerState(state));
    const end = this.#end;
    if (end !== null && end + rec.length <= this.journalBytes) {
      this.#end = null; // unknown until this write succeeds: a failure starts a new journal
      // Open, seek and write are synchronous (a few µs each, into the page cache): under
      // load every async call waits its turn on the event loop, and a save sits on the
      // critical path of each height; the flush too on a networked node (`flush.ts`).
      const file = Deno.openSync(this.journalPath, { write: true });
      try {
        file.seekSync(end, Deno.SeekMode.Start);
        let off = 0;
        while (off < rec.length) off += file.writeSync(rec.subarray(off));
        if (this.durable && this.blockingFlush) flushNow(file, true);
        else if (this.durable) await file.syncData();
      } finally {
        file.close();
      }
      this.#end = end + rec.length;
      return;
    }
    // A new journal: header, this record, zeros up to the capacity (allocated now, so
    // later in-place writes change no metadata), replaced atomically.
    this.#end = null;
    const size = Math.max(this.journalBytes, MAGIC.length + rec.length);
    const bytes = new Uint8Array(size);
    bytes.set(MAGIC, 0);
    bytes.set(rec, MAGIC.length);
    await writeFileAtomic(this.journalPath, bytes, { durable: this.durable });
    this.#end = MAGIC.length + rec.length;
  }
}
