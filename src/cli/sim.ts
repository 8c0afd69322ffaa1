/**
 * `awr sim`: runs the deterministic BFT simulator for one seed or a range of seeds and
 * prints one line per seed, the trace of any violation, and `N seeds, K violations`
 * (exit 1 when K > 0). The same flags print the same bytes.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { maxByzantine } from "../sim/options.ts";
import { seedLine, summaryLine } from "../sim/report.ts";
import { runSimulation } from "../sim/simulator.ts";
import { CliError, type CliIo, parseIntFlag } from "./io.ts";

/** Most seeds one `awr sim` call runs. */
export const MAX_SIM_SEEDS = 100_000;

interface SimFlags {
  seed: string;
  nodes: string;
  heights: string;
  byzantine: string;
  seeds: string;
  faults: boolean;
}

/**
 * Registers `awr sim --seed S --nodes N --heights H [--byzantine K] [--seeds COUNT]`.
 *
 * @example
 * ```ts
 * import { Command } from "npm:commander@14.0.3";
 * import { registerSimCommand } from "./sim.ts";
 * const program = new Command().exitOverride();
 * registerSimCommand(program, { out: console.log, err: console.error, isTerminal: false });
 * await program.parseAsync(["sim", "--seed", "7", "--heights", "5"], { from: "user" });
 * ```
 */
export function registerSimCommand(program: Command, io: CliIo): void {
  program
    .command("sim")
    .description(
      "run the deterministic BFT simulator (simulated clock and network, crashes,\n" +
        "Byzantine validators); exit 1 printing the trace when an invariant fails",
    )
    .option("--seed <n>", "first seed", "1")
    .option("--nodes <n>", "validators (4-16)", "4")
    .option("--heights <n>", "heights every honest validator must commit", "30")
    .option("--byzantine <n>", "Byzantine validators (at most (nodes - 1) / 3)", "0")
    .option("--seeds <n>", "number of consecutive seeds to run", "1")
    .option("--no-faults", "no drops, partitions or crashes")
    .action((f: SimFlags) => {
      const seed = parseIntFlag("--seed", f.seed);
      const nodes = parseIntFlag("--nodes", f.nodes, 4);
      if (nodes > 16) throw new CliError(`--nodes must be 4-16, got "${f.nodes}"`, 2);
      const heights = parseIntFlag("--heights", f.heights, 1);
      const byzantine = parseIntFlag("--byzantine", f.byzantine);
      if (byzantine > maxByzantine(nodes)) {
        throw new CliError(
          `--byzantine must be at most ${maxByzantine(nodes)} for ${nodes} nodes (< 1/3 of stake)`,
          2,
        );
      }
      const seeds = parseIntFlag("--seeds", f.seeds, 1);
      if (seeds > MAX_SIM_SEEDS) throw new CliError(`--seeds must be at most ${MAX_SIM_SEEDS}`, 2);
      let violations = 0;
      for (let s = seed; s < seed + seeds; s++) {
        const r = runSimulation({
          seed: s,
          nodes,
          heights,
          byzantine,
          ...(f.faults ? {} : { faults: null }),
        });
        io.out(seedLine(r));
        if (r.violation !== null) {
          violations++;
          io.out(`trace of seed ${s} (last ${r.trace.length} events):`);
          for (const line of r.trace) io.out(`  ${line}`);
        }
      }
      io.out(summaryLine(seeds, violations));
      if (violations > 0) {
        throw new CliError(`${violations} of ${seeds} seeds violated an invariant`);
      }
    });
}
