/**
 * An fdatasync of a small in-place write, awaited (Deno's blocking pool) against blocking
 * (`flushNow`, `src/storage/flush.ts`). Wall time per flush; the process CPU per flush is
 * printed too (from /proc/self/stat, "n/a" elsewhere): the awaited flush's hand-off to a
 * pool thread and back is what the blocking one saves.
 */
import { join } from "@std/path";
import { flushNow } from "../../src/storage/flush.ts";

const dir = await Deno.makeTempDir({ prefix: "awr-flush-bench-" });
const file = await Deno.open(join(dir, "f"), { read: true, write: true, create: true });
const bytes = new Uint8Array(128);
let n = 0;

function writeInPlace() {
  bytes[0] = n++ & 0xff;
  file.seekSync(0, Deno.SeekMode.Start);
  file.writeSync(bytes);
}

/** Process CPU in ms (user + system), or null without /proc. */
function cpuMs(): number | null {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

async function cpuPerFlush(blocking: boolean): Promise<string> {
  const count = 500;
  const c0 = cpuMs();
  for (let i = 0; i < count; i++) {
    writeInPlace();
    if (blocking) flushNow(file, true);
    else await file.syncData();
  }
  const c1 = cpuMs();
  return c0 === null || c1 === null ? "n/a" : `${((c1 - c0) / count * 1000).toFixed(0)} µs`;
}

Deno.bench(
  "flush: fdatasync awaited (blocking pool)",
  { group: "flush", baseline: true },
  async () => {
    writeInPlace();
    await file.syncData();
  },
);

Deno.bench("flush: fdatasync blocking (flushNow)", { group: "flush" }, () => {
  writeInPlace();
  flushNow(file, true);
});

let printed = false;

Deno.bench(
  "flush: process CPU per fdatasync, awaited vs blocking",
  { n: 1, warmup: 0 },
  async () => {
    // `deno bench` may call the function again after `n` runs: print once per process.
    if (printed) return;
    printed = true;
    console.log(
      `flush cpu: awaited ${await cpuPerFlush(false)} blocking ${await cpuPerFlush(true)}`,
    );
  },
);

globalThis.addEventListener("unload", () => {
  file.close();
  Deno.removeSync(dir, { recursive: true });
});
