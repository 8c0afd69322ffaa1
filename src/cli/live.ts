/**
 * `awr live`: maps flags onto {@link LiveOptions} and runs until SIGINT/SIGTERM.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import { type Command, Option } from "npm:commander@14.0.3";
import { parseCrashAt } from "../live/crash_at.ts";
import { consoleLogger, type LogLevel } from "../logger.ts";
import { defaultLiveOptions, type LiveOptions, startLiveNode } from "../live/live.ts";
import { type DriverGrants, parseDriverAllow } from "../driver/sandbox.ts";
import { defaultHttpLimits, type HttpLimits } from "../live/http_server.ts";
import { defaultSseHubOptions } from "../live/sse.ts";
import { AwrError } from "../errors.ts";
import { CliError, type CliIo, parseIntFlag } from "./io.ts";
import { processSignals, stopOnSignals } from "./stop_signals.ts";

/** Parses the `--driver-allow` values; a bad one is a usage error (exit 2). */
export function parseDriverAllowFlag(values: readonly string[]): DriverGrants {
  try {
    return parseDriverAllow(values);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 2, { cause: err });
  }
}

/** Parses the hidden, test-only `--crash-at`; a bad value is a usage error (exit 2). */
function crashAtFlag(value: string) {
  try {
    return parseCrashAt(value);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 2, { cause: err });
  }
}

/** Parses `--http`: `host:port`, `:port`, `port` or `off`. */
export function parseHttpFlag(value: string): LiveOptions["http"] {
  if (value === "off") return null;
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/.exec(value);
  if (!m) throw new CliError(`--http must be host:port, :port or off, got "${value}"`, 2);
  const port = Number(m[2]);
  if (port > 65535) throw new CliError(`--http port must be 0-65535, got ${port}`, 2);
  const hostname = (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, "");
  return { hostname, port };
}

interface LiveFlags {
  dataDir: string;
  nodeId: string;
  worldId: string;
  tickMs: string;
  driver: string;
  pluginsDir?: string;
  http: string;
  execution: string;
  logLevel: string;
  statusEvery: string;
  maxExecutionLag: string;
  heightTimeoutMs: string;
  driverAllow: string[];
  maxMempool: string;
  httpMaxConnections: string;
  httpMaxSseClients: string;
  httpHeaderTimeoutMs: string;
  httpBodyTimeoutMs: string;
  httpIdleTimeoutMs: string;
  crashAt?: string;
  genesis?: string;
  listen?: string;
  peers?: string;
}

/**
 * Maps `--listen` / `--peers` (comma-separated multiaddrs) onto the p2p options; null
 * when neither is given. A value that is not a /ip4|/ip6|/dns…/tcp/PORT address is a
 * usage error naming the flag.
 */
export function p2pFlags(flags: { listen?: string; peers?: string }): LiveOptions["p2p"] {
  if (flags.listen === undefined && flags.peers === undefined) return null;
  const list = (flag: string, v: string | undefined) =>
    (v ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "").map((a) => {
      if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/\d{1,5}(\/p2p\/[A-Za-z0-9]+)?$/.test(a)) {
        throw new CliError(`${flag} must be multiaddrs like /ip4/HOST/tcp/PORT, got "${a}"`, 2);
      }
      return a;
    });
  const listen = list("--listen", flags.listen ?? "/ip4/127.0.0.1/tcp/26656");
  if (listen.length === 0) throw new CliError("--listen needs at least one multiaddr", 2);
  return { listen, peers: list("--peers", flags.peers) };
}

/** Maps the `--http-*` limit flags onto {@link HttpLimits}. */
function httpLimits(flags: LiveFlags): Partial<HttpLimits> {
  return {
    maxConnections: parseIntFlag("--http-max-connections", flags.httpMaxConnections, 1),
    headerTimeoutMs: parseIntFlag("--http-header-timeout-ms", flags.httpHeaderTimeoutMs, 1),
    bodyTimeoutMs: parseIntFlag("--http-body-timeout-ms", flags.httpBodyTimeoutMs, 1),
    idleTimeoutMs: parseIntFlag("--http-idle-timeout-ms", flags.httpIdleTimeoutMs, 1),
  };
}

/** Largest `--height-timeout-ms` accepted (one hour). */
export const MAX_HEIGHT_TIMEOUT_MS = 3_600_000;

/** Parses `--height-timeout-ms` (1..{@link MAX_HEIGHT_TIMEOUT_MS}); a bad value is a usage error. */
export function parseHeightTimeout(value: string): number {
  const ms = parseIntFlag("--height-timeout-ms", value, 1);
  if (ms > MAX_HEIGHT_TIMEOUT_MS) {
    throw new CliError(
      `--height-timeout-ms must be at most ${MAX_HEIGHT_TIMEOUT_MS} (one hour), got "${value}"`,
      2,
    );
  }
  return ms;
}

/**
 * Maps `--genesis` onto options: with it, the world id and node id are taken from the
 * genesis and the key unless given, and a `--world-id` that contradicts the genesis is
 * refused at start (naming the flag).
 */
export function genesisFlags(
  flags: { genesis?: string; worldId: string; nodeId: string },
  given: (option: "worldId" | "nodeId") => boolean,
): Partial<LiveOptions> {
  if (flags.genesis === undefined) return {};
  return {
    genesis: flags.genesis,
    worldId: given("worldId") ? flags.worldId : undefined,
    nodeId: given("nodeId") ? flags.nodeId : undefined,
  };
}

/** A start-up error about an option given beside `--genesis`, reworded to name its flag. */
export function genesisFlagError(err: unknown, flags: { worldId: string }): unknown {
  if (!(err instanceof AwrError) || err.code !== "GENESIS_CONFLICT") return err;
  if (err.context.option !== "worldId") return err;
  return new CliError(
    `--world-id "${flags.worldId}" contradicts the genesis ${err.context.path} ` +
      `(world_id "${err.context.genesisWorldId}"); leave --world-id out`,
    2,
  );
}

/** Registers `awr live`. */
export function registerLiveCommand(program: Command, io: CliIo): void {
  const d = defaultLiveOptions;
  program
    .command("live")
    .description(
      "run a live node: consensus + node-internal execution + reward runtime + HTTP viewer\n" +
        "(SIGINT/SIGTERM stop it gracefully with everything persisted)",
    )
    .option("-d, --data-dir <dir>", "data directory", d.dataDir)
    .option("--node-id <id>", "node id", d.nodeId)
    .option("--world-id <id>", "world id", d.worldId)
    .option(
      "--genesis <file>",
      "genesis file of a network (awr genesis init): world id and validators from it, " +
        "this node's validator from <data-dir>/validator_key.json (made when missing)",
    )
    .option(
      "--listen <multiaddrs>",
      "p2p listen address(es), comma-separated, e.g. /ip4/0.0.0.0/tcp/26656 (needs --genesis)",
    )
    .option(
      "--peers <multiaddrs>",
      "p2p peers to dial, comma-separated (besides the genesis addresses)",
    )
    .option("--tick-ms <ms>", "consensus tick interval in milliseconds", String(d.tickMs))
    .option("--driver <name>", "execution driver plugin", d.driver)
    .option(
      "--plugins-dir <dir>",
      "folder of drop-in driver plugins (default: plugins/ beside awr)",
    )
    .option(
      "--http <addr>",
      "HTTP listen address host:port, or off",
      `${d.http!.hostname}:${d.http!.port}`,
    )
    .option(
      "--execution <mode>",
      "where execution runs: node (inside the node loop) or bridge (legacy)",
      d.execution,
    )
    .option(
      "--driver-allow <perm>",
      "grant the driver's sandbox more: net, env, run, sys, ffi, read, write, or one of them " +
        "with a list (net=127.0.0.1:9000,example.com; read=/srv/x); repeatable",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .option(
      "--status-every <ms>",
      "milliseconds between status lines (0 = none)",
      String(d.statusEveryMs),
    )
    .option(
      "--max-execution-lag <heights>",
      "most heights execution may trail consensus by; beyond it proposals pause",
      String(d.maxExecutionLag),
    )
    .option(
      "--height-timeout-ms <ms>",
      `time budget of the driver per height (1..${MAX_HEIGHT_TIMEOUT_MS}); a driver over it ` +
        "is restarted and the height handed over again (DRIVER_TIMEOUT)",
      String(d.heightTimeoutMs),
    )
    .option(
      "--max-mempool <n>",
      "most acknowledged actions waiting for a block; a batch beyond is refused whole (503)",
      String(d.maxMempoolSize),
    )
    .option(
      "--http-max-connections <n>",
      "open HTTP connections at most (one more is answered 503 and closed)",
      String(defaultHttpLimits.maxConnections),
    )
    .option(
      "--http-max-sse-clients <n>",
      "open /v1/events streams at most (503 beyond)",
      String(defaultSseHubOptions.maxClients),
    )
    .option(
      "--http-header-timeout-ms <ms>",
      "time a client has to send a whole request head",
      String(defaultHttpLimits.headerTimeoutMs),
    )
    .option(
      "--http-body-timeout-ms <ms>",
      "time a client has to send a whole request body",
      String(defaultHttpLimits.bodyTimeoutMs),
    )
    .option(
      "--http-idle-timeout-ms <ms>",
      "time a keep-alive connection may wait for its next request",
      String(defaultHttpLimits.idleTimeoutMs),
    )
    // TEST ONLY (tests/full/signer_restart_test.ts): SIGKILL at a signer-persist point.
    .addOption(new Option("--crash-at <point:n>").hideHelp())
    .action(async (flags: LiveFlags, cmd: Command) => {
      if (flags.execution !== "node" && flags.execution !== "bridge") {
        throw new CliError(`--execution must be node or bridge, got "${flags.execution}"`, 2);
      }
      if (!["debug", "info", "warn", "error"].includes(flags.logLevel)) {
        throw new CliError(
          `--log-level must be debug, info, warn or error, got "${flags.logLevel}"`,
          2,
        );
      }
      const http = parseHttpFlag(flags.http);
      const limits = httpLimits(flags);
      const maxClients = parseIntFlag("--http-max-sse-clients", flags.httpMaxSseClients, 1);
      const options: Partial<LiveOptions> = {
        dataDir: flags.dataDir,
        nodeId: flags.nodeId,
        worldId: flags.worldId,
        tickMs: parseIntFlag("--tick-ms", flags.tickMs, 1),
        driver: flags.driver,
        pluginsDir: flags.pluginsDir ?? null,
        http: http && { ...http, limits, sse: { maxClients } },
        execution: flags.execution,
        statusEveryMs: parseIntFlag("--status-every", flags.statusEvery, 0),
        maxExecutionLag: parseIntFlag("--max-execution-lag", flags.maxExecutionLag, 1),
        heightTimeoutMs: parseHeightTimeout(flags.heightTimeoutMs),
        driverAllow: parseDriverAllowFlag(flags.driverAllow),
        maxMempoolSize: parseIntFlag("--max-mempool", flags.maxMempool, 1),
        crashAt: flags.crashAt === undefined ? null : crashAtFlag(flags.crashAt),
        ...genesisFlags(flags, (name) => cmd.getOptionValueSource(name) === "cli"),
        p2p: p2pFlags(flags),
      };
      const logger = consoleLogger(flags.logLevel as LogLevel, io.err);
      // Signals are handled from before the start, so a Ctrl-C during start-up
      // stops the node once it is up instead of killing it half-way.
      const started = startLiveNode(options, { logger, print: io.out });
      let live: Awaited<typeof started> | null = null;
      const stopper = stopOnSignals(
        {
          stop: async () => await (await started.catch(() => null))?.stop(),
          progress: () => {
            if (!live) return "starting";
            const committed = live.node.snapshot().consensus.committedHeight;
            const executed = live.reward.executionProgress().height;
            return `committed ${committed}, executed ${executed}` +
              (executed < committed ? "; waiting for the execution driver" : "");
          },
        },
        io.out,
        processSignals,
      );
      try {
        live = await started;
      } catch (err) {
        stopper.cancel();
        throw genesisFlagError(err, flags);
      }
      await stopper.done;
    });
}
