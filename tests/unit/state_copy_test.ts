import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { CoalescedCopy } from "../../src/execution/state_copy.ts";
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
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["state.cbor"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
