/**
 * `awr genesis init --validators N --out DIR`: a new network (genesis file, one data
 * dir with a key per validator) and the `awr live` line of each node.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { AwrError } from "../errors.ts";
import {
  commandLine,
  defaultGenesisInitOptions,
  initGenesis,
  liveArgsOf,
  MAX_INIT_VALIDATORS,
} from "../net/genesis_init.ts";
import { CliError, type CliIo, parseIntFlag } from "./io.ts";

interface GenesisInitFlags {
  validators: string;
  out: string;
  worldId: string;
  basePort: string;
  stake: string;
}

/**
 * Registers `awr genesis init`.
 *
 * @example
 * ```ts ignore
 * registerGenesisCommands(program, io);
 * await program.parseAsync(["genesis", "init", "--validators", "4", "--out", "net"], { from: "user" });
 * ```
 */
export function registerGenesisCommands(program: Command, io: CliIo): void {
  const d = defaultGenesisInitOptions;
  const genesis = program.command("genesis").description("make a network's genesis");
  genesis
    .command("init")
    .description(
      "write DIR/genesis.json and DIR/node<i>/validator_key.json (mode 0600) for N validators\n" +
        "on consecutive ports, and print each node's awr live command line",
    )
    .requiredOption("--validators <n>", `number of validators (1..${MAX_INIT_VALIDATORS})`)
    .requiredOption("--out <dir>", "folder to create (must be missing or empty)")
    .option("--world-id <id>", "world id", d.worldId)
    .option("--base-port <port>", "p2p port of the first validator", String(d.basePort))
    .option("--stake <n>", "stake of each validator", String(d.stake))
    .action(async (flags: GenesisInitFlags) => {
      const validators = parseIntFlag("--validators", flags.validators, 1);
      if (validators > MAX_INIT_VALIDATORS) {
        throw new CliError(
          `--validators must be at most ${MAX_INIT_VALIDATORS}, got ${validators}`,
          2,
        );
      }
      const basePort = parseIntFlag("--base-port", flags.basePort, 1);
      if (basePort + validators - 1 > 65535) {
        throw new CliError(
          `--base-port ${basePort} leaves no room for ${validators} ports below 65536`,
          2,
        );
      }
      let net;
      try {
        net = await initGenesis({
          validators,
          outDir: flags.out,
          worldId: flags.worldId,
          basePort,
          stake: parseIntFlag("--stake", flags.stake, 1),
        });
      } catch (err) {
        if (err instanceof AwrError && !(err instanceof CliError)) {
          throw new CliError(
            `genesis init: ${err.message}`,
            err.code === "GENESIS_INIT_OUT" ? 1 : 2,
          );
        }
        throw err;
      }
      io.out(`genesis init: world ${net.worldId}, ${net.nodes.length} validators`);
      io.out(`  genesis     ${net.genesisPath}`);
      for (const n of net.nodes) {
        io.out(`  ${n.id.padEnd(11)} ${n.dataDir}  ${n.address}  ${n.publicKeyHex}`);
      }
      io.out("Start each node (one per machine, or all here):");
      net.nodes.forEach((_, i) => io.out(commandLine(liveArgsOf(net, i))));
    });
}
