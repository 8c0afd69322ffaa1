/**
 * `awr cluster --nodes N --data-dir DIR`: a local testnet in one command. Maps flags
 * onto {@link ClusterOptions}, runs the cluster until Ctrl-C/SIGTERM (forwarded to every
 * node) or until a node exits on its own (exit 1, naming it).
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { fromFileUrl } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { Cluster } from "../net/cluster.ts";
import {
  checkClusterOptions,
  type ClusterOptions,
  defaultClusterOptions,
  formatClusterStatus,
  MAX_CLUSTER_NODES,
  prepareCluster,
} from "../net/cluster_plan.ts";
import { CliError, type CliIo, parseIntFlag } from "./io.ts";
import { processSignals, type SignalSource } from "./stop_signals.ts";

/**
 * The program and leading arguments that run this same awr: the binary alone when
 * compiled (`deno compile`), else this Deno with `run -A` and the same main module.
 *
 * @example
 * ```ts ignore
 * awrCommand(); // ["/usr/bin/deno", "run", "-A", "--unstable-worker-options", "/src/awr/mod.ts"]
 * ```
 */
export function awrCommand(
  standalone: boolean = Deno.build.standalone,
  execPath: string = Deno.execPath(),
  mainModule: string = Deno.mainModule,
): string[] {
  if (standalone) return [execPath];
  const main = mainModule.startsWith("file:") ? fromFileUrl(mainModule) : mainModule;
  return [execPath, "run", "-A", "--unstable-worker-options", main];
}

interface ClusterFlags {
  nodes: string;
  dataDir: string;
  tickMs?: string;
  driver?: string;
  basePort: string;
  worldId: string;
  statusEvery: string;
  statusTimeoutMs: string;
  stopTimeoutMs: string;
  logLevel: string;
}

/** Maps the flags onto {@link ClusterOptions}; a bad value is a usage error naming its flag. */
export function clusterOptionsFromFlags(flags: ClusterFlags, awr: string[]): ClusterOptions {
  const nodes = parseIntFlag("--nodes", flags.nodes, 1);
  if (nodes > MAX_CLUSTER_NODES) {
    throw new CliError(`--nodes must be at most ${MAX_CLUSTER_NODES}, got ${nodes}`, 2);
  }
  const basePort = parseIntFlag("--base-port", flags.basePort, 1);
  if (basePort + nodes - 1 > 65535) {
    throw new CliError(`--base-port ${basePort} leaves no room for ${nodes} ports`, 2);
  }
  return {
    ...defaultClusterOptions,
    nodes,
    dataDir: flags.dataDir,
    tickMs: flags.tickMs === undefined ? null : parseIntFlag("--tick-ms", flags.tickMs, 1),
    driver: flags.driver ?? null,
    basePort,
    worldId: flags.worldId,
    statusEveryMs: parseIntFlag("--status-every", flags.statusEvery, 1),
    statusTimeoutMs: parseIntFlag("--status-timeout-ms", flags.statusTimeoutMs, 1),
    stopTimeoutMs: parseIntFlag("--stop-timeout-ms", flags.stopTimeoutMs, 1),
    awr,
    liveArgs: ["--log-level", flags.logLevel],
  };
}

/**
 * Runs a cluster until a stop signal (exit 0) or until a node exits on its own
 * (exit 1 with a line naming it; the others are stopped first).
 *
 * @example
 * ```ts ignore
 * const code = await runCluster(options, io, processSignals);
 * ```
 */
export async function runCluster(
  o: ClusterOptions,
  io: CliIo,
  signals: SignalSource,
): Promise<number> {
  checkClusterOptions(o);
  let prepared;
  try {
    prepared = await prepareCluster(o);
  } catch (err) {
    if (err instanceof AwrError) throw new CliError(`cluster: ${err.message}`);
    throw err;
  }
  const { net, created } = prepared;
  io.out(
    `awr cluster: ${created ? "created" : "reusing"} ${o.dataDir} ` +
      `(world ${net.worldId}, genesis ${net.genesisPath}); starting ${net.nodes.length} nodes`,
  );
  const stopSignal = Promise.withResolvers<string>();
  const unsubscribe = signals((name) => stopSignal.resolve(name));
  let cluster: Cluster;
  try {
    cluster = await Cluster.start(net, o, io);
  } catch (err) {
    unsubscribe();
    throw new CliError(`cluster: cannot start ${o.awr.join(" ")}: ${String(err)}`);
  }
  cluster.nodes.forEach((n, i) =>
    io.out(
      `  ${n.id.padEnd(4)} pid ${n.pid}  http ${n.url}  p2p ${net.nodes[i].address}  ` +
        `data ${net.nodes[i].dataDir}`,
    )
  );
  let polling: Promise<void> | null = null;
  const timer = setInterval(() => {
    polling ??= cluster.status().then((s) => io.out(formatClusterStatus(s))).finally(() => {
      polling = null;
    });
  }, o.statusEveryMs);
  const why = await Promise.race([
    stopSignal.promise.then((name) => ({ signal: name, exit: null })),
    cluster.unexpectedExit.then((exit) => ({ signal: null, exit })),
  ]);
  clearInterval(timer);
  if (why.signal) {
    io.out(`awr cluster: ${why.signal}: stopping ${net.nodes.length} nodes…`);
  } else {
    const e = why.exit!;
    io.err(
      `awr cluster: node ${e.id} (pid ${e.pid}) exited on its own with code ${e.code}` +
        (e.signal ? ` (signal ${e.signal})` : "") + `; stopping the others`,
    );
  }
  // Repeated signals (a terminal's Ctrl-C reaches the nodes too) are already handled.
  await cluster.stop();
  await polling;
  unsubscribe();
  if (why.exit) {
    throw new CliError(`cluster: node ${why.exit.id} exited unexpectedly (code ${why.exit.code})`);
  }
  io.out("awr cluster: all nodes stopped");
  return 0;
}

/** Registers `awr cluster`. */
export function registerClusterCommand(program: Command, io: CliIo): void {
  const d = defaultClusterOptions;
  program
    .command("cluster")
    .description(
      "a local testnet in one command: genesis init when --data-dir is empty, then N awr live\n" +
        "validators as child processes on loopback, one combined status line every few seconds;\n" +
        "Ctrl-C/SIGTERM stops them all",
    )
    .requiredOption("--nodes <n>", `number of validators (1..${MAX_CLUSTER_NODES})`)
    .requiredOption("-d, --data-dir <dir>", "network folder (genesis.json, node1..nodeN)")
    .option("--tick-ms <ms>", "consensus tick of every node (default: awr live's)")
    .option("--driver <name>", "execution driver of every node (default: awr live's)")
    .option("--base-port <port>", "p2p port of node 1 when the folder is new", String(d.basePort))
    .option("--world-id <id>", "world id when the folder is new", d.worldId)
    .option("--status-every <ms>", "milliseconds between status lines", String(d.statusEveryMs))
    .option(
      "--status-timeout-ms <ms>",
      "budget of each node's /v1/status answer",
      String(d.statusTimeoutMs),
    )
    .option(
      "--stop-timeout-ms <ms>",
      "wait for the nodes after SIGTERM before SIGKILL",
      String(d.stopTimeoutMs),
    )
    .option("--log-level <level>", "log level of every node", "warn")
    .action(async (flags: ClusterFlags) => {
      const code = await runCluster(
        clusterOptionsFromFlags(flags, awrCommand()),
        io,
        processSignals,
      );
      if (code !== 0) throw new CliError("cluster failed", code);
    });
}
