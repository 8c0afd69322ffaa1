/**
 * `awr store gc --data-dir D --keep-last N [--json]`: reclaims execution blobs that
 * only states older than the newest N heights reach (`src/execution/store_gc.ts`);
 * refuses while a node holds the data dir.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { gcStore } from "../execution/store_gc.ts";
import { errorMessage } from "../errors.ts";
import { CliError, type CliIo } from "./io.ts";

/**
 * Registers `awr store gc`.
 *
 * @example
 * ```ts
 * import { Command } from "npm:commander@14.0.3";
 * import { registerStoreCommands } from "./store.ts";
 * const program = new Command().exitOverride();
 * registerStoreCommands(program, { out: console.log, err: console.error, isTerminal: false });
 * await program.parseAsync(["store", "gc", "--keep-last", "1000"], { from: "user" });
 * ```
 */
export function registerStoreCommands(program: Command, io: CliIo): void {
  const store = program.command("store").description("maintain the execution blob store");
  store
    .command("gc")
    .description(
      "reclaim blobs reachable only from states older than the newest N heights and\n" +
        "compact the pack segments; refuses while a node runs on the data dir",
    )
    .option("-d, --data-dir <dir>", "data directory", "./data")
    .requiredOption("--keep-last <n>", "heights whose state stays complete", (v) => Number(v))
    .option("--json", "print a JSON report")
    .action(async (opts: { dataDir: string; keepLast: number; json?: boolean }) => {
      let r;
      try {
        r = await gcStore(opts.dataDir, opts.keepLast);
      } catch (err) {
        throw new CliError(`store gc: ${errorMessage(err)}`, 1, { cause: err });
      }
      if (opts.json) {
        io.out(JSON.stringify(
          {
            data_dir: opts.dataDir,
            kept_from: r.keptFrom,
            last_height: r.lastHeight,
            blobs_before: r.blobsBefore,
            blobs_after: r.blobsAfter,
            bytes_before: r.bytesBefore,
            bytes_after: r.bytesAfter,
          },
          null,
          2,
        ));
        return;
      }
      io.out(
        `store gc: kept the state of heights ${r.keptFrom}..${r.lastHeight}; blobs ` +
          `${r.blobsBefore} -> ${r.blobsAfter}, pack bytes ${r.bytesBefore} -> ${r.bytesAfter}`,
      );
    });
}
