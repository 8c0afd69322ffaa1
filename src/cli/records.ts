/**
 * `awr records …`: commands over execution results. `verify` checks the node's own
 * result log (any driver: heights contiguous, each entry on the stored block) and,
 * when the bridge driver's records folder exists, its whole hash chain and every
 * referenced CAS blob offline; it exits 1 naming the first bad height.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { readRecord, recordsDir } from "../execution/records.ts";
import { verifyRecords, type VerifyReport } from "../execution/verify.ts";
import { errorMessage } from "../errors.ts";
import { onlyNodeId, type ResultLogReport, verifyResultLog } from "../node/result_verify.ts";
import { CliError, type CliIo } from "./io.ts";
import { storeDir } from "../storage/data_dir.ts";

const emptyReport: VerifyReport = { ok: true, heights: 0, blobsChecked: 0 };

/** Milliseconds between progress lines on a terminal. */
const PROGRESS_EVERY_MS = 1000;

/**
 * JSON form of a report (snake_case, as other tools read it).
 *
 * @example
 * ```ts
 * import { verifyReportJson } from "./records.ts";
 * const json = verifyReportJson("./data", { ok: true, heights: 3, blobsChecked: 20 });
 * ```
 */
export function verifyReportJson(
  dataDir: string,
  r: VerifyReport,
  node: (ResultLogReport & { nodeId: string }) | null = null,
): Record<string, unknown> {
  return {
    node_results: node
      ? {
        node_id: node.nodeId,
        ok: node.ok,
        heights: node.heights,
        drivers: node.drivers,
        first_bad: node.firstBad ?? null,
      }
      : null,
    data_dir: dataDir,
    ok: r.ok && (node?.ok ?? true),
    heights: r.heights,
    blobs_checked: r.blobsChecked,
    skipped_above: r.skippedAbove ?? 0,
    skipped_below: r.skippedBelow ?? 0,
    first_bad: r.firstBad ? { height: r.firstBad.height, problem: r.firstBad.problem } : null,
  };
}

/**
 * Registers `awr records verify --data-dir D [--json]`.
 *
 * @example
 * ```ts
 * import { Command } from "npm:commander@14.0.3";
 * import { registerRecordsCommands } from "./records.ts";
 * const program = new Command().exitOverride();
 * registerRecordsCommands(program, { out: console.log, err: console.error, isTerminal: false });
 * await program.parseAsync(["records", "verify", "--data-dir", "./data"], { from: "user" });
 * ```
 */
export function registerRecordsCommands(program: Command, io: CliIo): void {
  const records = program.command("records").description("check and inspect execution records");
  records
    .command("verify")
    .description(
      "walk every execution record: re-derive the hash chain and state roots from the\n" +
        "CAS, check every referenced blob; exit 1 naming the first bad height",
    )
    .option("-d, --data-dir <dir>", "data directory", "./data")
    .option("--json", "print a JSON report")
    .option("--node-id <id>", "node whose result log to check (default: the only one)")
    .action(async (opts: { dataDir: string; json?: boolean; nodeId?: string }) => {
      const dir = recordsDir(opts.dataDir);
      // With --json a failure to run is JSON too (and still one line on stderr).
      const fail = (message: string): never => {
        if (opts.json) {
          io.out(JSON.stringify({ data_dir: opts.dataDir, ok: false, error: message }, null, 2));
        }
        throw new CliError(message);
      };
      const nodeId = opts.nodeId ?? await onlyNodeId(opts.dataDir);
      // Heights executed in bridge mode (before a switch to node mode) are in the records.
      const fallback = async (h: number) => {
        const r = await readRecord(opts.dataDir, h).catch(() => null);
        return r ? { nodeBlockHash: r.nodeBlockHash, driver: "bridge" } : null;
      };
      const node = nodeId
        ? { ...await verifyResultLog(opts.dataDir, nodeId, { fallback }), nodeId }
        : null;
      if (node?.firstBad && opts.json) {
        io.out(JSON.stringify(verifyReportJson(opts.dataDir, emptyReport, node), null, 2));
      }
      if (node?.firstBad) {
        const { height, problem } = node.firstBad;
        throw new CliError(
          `records verify: node ${nodeId}: height ${height} is bad: ${problem}`,
          1,
        );
      }
      const isDir = await Deno.stat(dir).then((st) => st.isDirectory, () => false);
      if (!isDir && !node) fail(`no node result log and no execution records folder at ${dir}`);
      if (!isDir) {
        // A driver without records of its own: the node's result log is the chain.
        if (opts.json) io.out(JSON.stringify(verifyReportJson(opts.dataDir, emptyReport, node)));
        else {
          io.out(
            `records verify: ok, ${node!.heights} node results (driver ${
              node!.drivers.join(", ") || "-"
            }); no driver records folder at ${dir}`,
          );
        }
        return;
      }
      let lastShown = Date.now();
      const showProgress = io.isTerminal && !opts.json;
      let report: VerifyReport;
      try {
        report = await verifyRecords(opts.dataDir, {
          onProgress: (done, total) => {
            if (!showProgress || Date.now() - lastShown < PROGRESS_EVERY_MS) return;
            lastShown = Date.now();
            io.err(`records verify: ${done}/${total} heights checked…`);
          },
        });
      } catch (err) {
        return fail(`records verify: cannot read ${dir}: ${errorMessage(err)}`);
      }
      if (opts.json) {
        io.out(JSON.stringify(verifyReportJson(opts.dataDir, report, node), null, 2));
      }
      if (report.firstBad) {
        const { height, problem } = report.firstBad;
        throw new CliError(`records verify: height ${height} is bad: ${problem}`, 1);
      }
      if (opts.json) return;
      io.out(
        report.heights === 0
          ? `records verify: ok, no records yet in ${dir}`
          : `records verify: ok, ${
            node ? `${node.heights} node results, ` : ""
          }${report.heights} heights (1..${report.heights}), ${report.blobsChecked} blobs checked in ${
            storeDir(opts.dataDir)
          }${
            report.skippedAbove
              ? `; ${report.skippedAbove} newer record(s) above the execution state left out (in flight)`
              : ""
          }${
            report.skippedBelow
              ? `; state of heights 1..${report.skippedBelow} skipped (collected by store gc; their hash chain was checked)`
              : ""
          }`,
      );
    });
}
