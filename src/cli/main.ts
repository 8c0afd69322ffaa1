/**
 * The `awr` command line: commander maps flags onto options and calls into the
 * library; every failure becomes one clear line on stderr and a non-zero exit.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { Command, CommanderError } from "npm:commander@14.0.3";
import { errorChain } from "../errors.ts";
import { AWR_VERSION } from "../version.ts";
import { CliError, type CliIo, processIo } from "./io.ts";
import { registerDriversCommands } from "./drivers.ts";
import { registerLiveCommand } from "./live.ts";
import { registerRecordsCommands } from "./records.ts";
import { registerStoreCommands } from "./store.ts";
import { registerSnapshotCommands, registerStatusCommand } from "./status.ts";
import { registerSimCommand } from "./sim.ts";
import { registerGenesisCommands } from "./genesis.ts";
import { registerClusterCommand } from "./cluster.ts";

/** Builds the program with every command registered. */
export function buildProgram(io: CliIo): Command {
  const program = new Command();
  program
    .name("awr")
    .description(
      "Agent World Runtime: a proof-of-stake node that executes every committed block\n" +
        "against a deterministic agent world inside its consensus loop.",
    )
    .version(AWR_VERSION, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
    });
  registerLiveCommand(program, io);
  registerStatusCommand(program, io);
  registerDriversCommands(program, io);
  registerRecordsCommands(program, io);
  registerStoreCommands(program, io);
  registerSnapshotCommands(program, io);
  registerSimCommand(program, io);
  registerGenesisCommands(program, io);
  registerClusterCommand(program, io);
  return program;
}

/**
 * Runs the CLI with `args` (without the program name); resolves to the exit code.
 *
 * @example
 * ```ts
 * import { runCli } from "./main.ts";
 * const code = await runCli(["--version"]);
 * ```
 */
export async function runCli(args: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError) {
      io.err(`awr: ${errorChain(err)}`);
      return err.exitCode;
    }
    io.err(`awr: ${errorChain(err)}`);
    return 1;
  }
}
