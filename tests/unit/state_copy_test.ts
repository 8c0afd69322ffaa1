import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { CoalescedCopy, STATE_COPY_MIN_GAP_MS } from "../../src/execution/state_copy.ts";
import { silentLogger } from "../../src/logger.ts";

Deno.test("state copy: 50 writes in a row make 2 file writes, the first and the newest", async () => {
  const written: number[] = [];
  const copy = new CoalescedCopy("state.cbor", silentLogger, (_p, b) => {
    written.push(b[0]);
    return Promise.resolve();
  });
  for (let i = 1; i <= 50; i++) copy.write(Uint8Array.of(i));
  await copy.settled();
  assertEquals(written, [1, 50]);
  copy.write(Uint8Array.of(51));
  await copy.settled();
  assertEquals(written, [1, 50, 51]);
});

Deno.test("state copy: a failed write is logged and the next one still runs", async () => {
  const errors: string[] = [];
  const logger = { ...silentLogger, error: (msg: string) => void errors.push(msg) };
  let calls = 0;
  const copy = new CoalescedCopy("state.cbor", logger, () => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("disk full")) : Promise.resolve();
  });
  copy.write(Uint8Array.of(1));
  await copy.settled();
  copy.write(Uint8Array.of(2));
  await copy.settled();
  assertEquals(calls, 2);
  assertEquals(errors, ["execution state copy not written (start-up rewrites it)"]);
});

Deno.test("state copy: the default writer leaves the newest bytes in the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-state-copy-" });
  try {
    const copy = new CoalescedCopy(join(dir, "state.cbor"), silentLogger);
    for (let i = 1; i <= 5; i++) copy.write(Uint8Array.of(i, i));
    await copy.settled();
    assertEquals(await Deno.readFile(join(dir, "state.cbor")), Uint8Array.of(5, 5));
    // No temp file is left; the spare is the old inode kept for the next copy (rewrite.ts).
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      ".state.cbor.spare",
      "state.cbor",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state copy: at most one copy per minGapMs; the newest bytes wait for the gap, settled() writes them at once", async () => {
  let now = 0;
  const timers: { fn: () => void; at: number; id: number }[] = [];
  let nextId = 1;
  const fake = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      timers.push({ fn, at: now + ms, id: nextId });
      return nextId++;
    },
    clearTimeout: (id: unknown) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const written: [number, number][] = [];
  const copy = new CoalescedCopy("state.cbor", silentLogger, (_p, b) => {
    written.push([now, b[0]]);
    return Promise.resolve();
  }, { minGapMs: 1000, timers: fake });
  copy.write(Uint8Array.of(1));
  await Promise.resolve();
  for (let i = 2; i <= 30; i++) {
    now += 20; // a height every 20 ms
    copy.write(Uint8Array.of(i));
    await Promise.resolve();
  }
  // One copy at once; the rest wait for the gap (one timer, due at the bound).
  assertEquals(written, [[0, 1]]);
  assertEquals(timers.map((t) => t.at), [1000]);
  now = 999;
  assertEquals(written.length, 1);
  now = 1000;
  timers.shift()!.fn();
  await Promise.resolve();
  assertEquals(written, [[0, 1], [1000, 30]]);
  // Another height: it waits for the next gap, unless the copy is settled (close).
  now = 1010;
  copy.write(Uint8Array.of(31));
  assertEquals(timers.map((t) => t.at), [2000]);
  await copy.settled();
  assertEquals(written, [[0, 1], [1000, 30], [1010, 31]]);
  assertEquals(timers.length, 0);
  assertEquals(STATE_COPY_MIN_GAP_MS, 1000);
});
