/**
 * Helpers for live-node tests: a slow drop-in driver written to a temp folder, and
 * record listing.
 * @module
 */
import { join } from "@std/path";
import { listRecordHeights } from "../../src/execution/records.ts";

/**
 * Writes a drop-in driver named `slow` that wraps the execution core, waits `delayMs`
 * before each height and appends every height it is asked for to `<logFile>`.
 */
export async function writeSlowDriver(
  dir: string,
  delayMs: number,
  logFile: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "slow-driver.js"),
    `
export default {
  name: "slow",
  apiVersion: 1,
  description: "test driver: the execution core, ${delayMs} ms late",
  async create(host) {
    const core = await host.openExecutionCore();
    return {
      async onCommit(ctx) {
        await Deno.writeTextFile(${JSON.stringify(logFile)}, ctx.height + "\\n", { append: true });
        await new Promise((r) => setTimeout(r, ${delayMs}));
        return await core.executeThrough(ctx);
      },
      info: () => Promise.resolve(core.info()),
      close: () => core.close(),
    };
  },
};
`,
  );
}

/** Heights of the record files, sorted. */
export async function recordHeights(dataDir: string): Promise<number[]> {
  return await listRecordHeights(dataDir);
}

/** Asserts-free check that `hs` is exactly 1..n. */
export function isContiguousFromOne(hs: number[]): boolean {
  return hs.every((h, i) => h === i + 1);
}
