/**
 * The signer state journal (`src/node/signer_state_file.ts`): in-place records in a
 * preallocated file, a torn last record ignored, a new journal at each process's first
 * save and when a record no longer fits, the newer of journal and plain file loaded.
 */
import { assert, assertEquals } from "@std/assert";
import {
  encodeSignerState,
  guardedSign,
  initialSignerState,
} from "../../src/consensus/bft/signer_state.ts";
import { simSigner } from "../../src/consensus/bft/signing.ts";
import type { SignerState } from "../../src/consensus/bft/types.ts";
import { AwrError } from "../../src/errors.ts";
import {
  FileSignerStateStore,
  readJournal,
  SIGNER_JOURNAL_BYTES,
} from "../../src/node/signer_state_file.ts";
import { writeFileAtomic } from "../../src/storage/atomic.ts";

const W = "journal-test";

/** The guard's states after signing (h, 0, step) for each entry, in order. */
function states(keys: [number, number][]): SignerState[] {
  let s = initialSignerState();
  const out: SignerState[] = [];
  for (const [h, step] of keys) {
    const r = guardedSign(simSigner(W, "a"), s, h, 0, step, new Uint8Array([h, step]), {
      lockedRound: -1,
      lockProof: null,
    });
    assert(r.ok);
    s = r.state;
    out.push(s);
  }
  return out;
}

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-journal-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("journal: every save is a record in one preallocated file; load is the last", async () => {
  await withDir(async (dir) => {
    const store = new FileSignerStateStore(dir, "a", false);
    assertEquals(await store.load(), null);
    const all = states([[1, 1], [1, 2], [1, 3], [2, 1], [2, 2]]);
    for (const s of all) {
      await store.save(s);
      assertEquals(await store.load(), s);
      assertEquals(store.loadSync(), s);
    }
    const bytes = await Deno.readFile(store.journalPath);
    assertEquals(bytes.length, SIGNER_JOURNAL_BYTES, "size fixed at creation");
    assertEquals(readJournal(store.journalPath, bytes).payloads.length, all.length);
    // The plain file of older data dirs is never written.
    assertEquals(await Deno.stat(store.path).catch(() => null), null);
  });
});

Deno.test("journal: a torn last record is ignored (its signature never left)", async () => {
  await withDir(async (dir) => {
    const store = new FileSignerStateStore(dir, "a", false);
    const all = states([[1, 1], [1, 2], [1, 3]]);
    for (const s of all) await store.save(s);
    const bytes = await Deno.readFile(store.journalPath);
    const { end } = readJournal(store.journalPath, bytes);
    bytes[end - 3] ^= 0xff; // a byte of the last record's state
    await Deno.writeFile(store.journalPath, bytes);
    assertEquals(await store.load(), all[1]);
    // Only the header of the last record reached disk: the same.
    bytes.fill(0, end - encodeSignerState(all[2]).length, end);
    await Deno.writeFile(store.journalPath, bytes);
    assertEquals(await store.load(), all[1]);
  });
});

Deno.test("journal: a restarted store starts a new journal; no earlier tail is read back", async () => {
  await withDir(async (dir) => {
    const all = states([[1, 1], [1, 2], [1, 3], [2, 1]]);
    const first = new FileSignerStateStore(dir, "a", false);
    for (const s of all.slice(0, 3)) await first.save(s);
    const again = new FileSignerStateStore(dir, "a", false);
    assertEquals(await again.load(), all[2]);
    await again.save(all[3]);
    const bytes = await Deno.readFile(again.journalPath);
    const { payloads, end } = readJournal(again.journalPath, bytes);
    assertEquals(payloads.length, 1, "replaced, not appended to");
    assert(bytes.subarray(end).every((b) => b === 0), "zeros after the last record");
    assertEquals(await again.load(), all[3]);
  });
});

Deno.test("journal: at its capacity a new journal is made; a state larger than it still fits", async () => {
  await withDir(async (dir) => {
    const capacity = 600;
    const store = new FileSignerStateStore(dir, "a", false, capacity);
    const all = states(Array.from({ length: 20 }, (_, i) => [1 + (i >> 1), 1 + (i & 1)]));
    let rollovers = 0;
    let before = 0;
    for (const s of all) {
      await store.save(s);
      assertEquals(await store.load(), s);
      const bytes = await Deno.readFile(store.journalPath);
      assertEquals(bytes.length, capacity);
      const { payloads, end } = readJournal(store.journalPath, bytes);
      assert(end <= capacity && payloads.length >= 1);
      if (payloads.length < before) rollovers++;
      before = payloads.length;
    }
    assert(rollovers >= 3, `new journals at the bound: ${rollovers}`);
    const big = { ...all[19], height: 99, signBytesHash: "ab".repeat(400) };
    await store.save(big);
    assertEquals(await store.load(), big);
    assert((await Deno.stat(store.journalPath)).size > capacity, "sized to the one record");
  });
});

Deno.test("journal: the newer of the plain file and the journal is loaded", async () => {
  await withDir(async (dir) => {
    const [a, b, c] = states([[1, 1], [1, 2], [1, 3]]);
    const store = new FileSignerStateStore(dir, "a", false);
    await writeFileAtomic(store.path, encodeSignerState(a), { durable: false });
    assertEquals(await store.load(), a, "a data dir from before the journal");
    await store.save(b);
    assertEquals(await store.load(), b);
    // An older binary ran on the data dir meanwhile and wrote only the plain file.
    await writeFileAtomic(store.path, encodeSignerState(c), { durable: false });
    assertEquals(await store.load(), c);
  });
});

Deno.test("journal: a file without the journal header is refused, naming it", async () => {
  await withDir(async (dir) => {
    const store = new FileSignerStateStore(dir, "a", false);
    await store.save(states([[1, 1]])[0]);
    await Deno.writeFile(store.journalPath, new Uint8Array(64));
    const err = await store.load().catch((e) => e);
    assert(err instanceof AwrError && err.code === "SIGNER_JOURNAL_MALFORMED");
    assert(err.message.includes(store.journalPath));
  });
});
