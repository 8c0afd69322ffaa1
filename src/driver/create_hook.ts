/**
 * The one function the node and the live command call to get their execution
 * hook: the named driver plugin, hosted in a Worker (default) or in-process (for
 * tools and tests).
 * @module
 */
import { type Logger, silentLogger } from "../logger.ts";
import { SerialQueue } from "../std/serial_queue.ts";
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
  NodeExecutionHookInfo,
} from "../node/execution_hook.ts";
import { startDriver } from "./host.ts";
import type { ExecutionMode } from "../execution/state_file.ts";
import type { DriverCapability } from "./plugin.ts";
import type { DriverGrants } from "./sandbox.ts";
import { WorkerExecutionHook } from "./worker_hook.ts";

/** Options of {@link createExecutionHook}. */
export interface ExecutionHookOptions {
  /** The node's data folder. */
  dataDir: string;
  nodeId: string;
  worldId: string;
  /** Driver name (`--driver`); default `bridge`. */
  driver?: string;
  /** Drop-in plugins folder (`--plugins-dir`). */
  pluginsDir?: string;
  /** Execution mode recorded by the execution core; default `node`. */
  mode?: ExecutionMode;
  /** Time budget per height in ms (Worker only); default 30 000. */
  heightTimeoutMs?: number;
  /** Time budget to start the driver, answer info and close, in ms (Worker only); default 60 000. */
  startTimeoutMs?: number;
  /** fsync every write; default true. */
  durable?: boolean;
  logger?: Logger;
  /**
   * Run the driver on the calling thread (no time budget, no restart, no sandbox: for
   * tools and tests); default false.
   */
  inProcess?: boolean;
  /**
   * Permissions the driver's Worker gets beyond the sandbox (`--driver-allow`, parsed
   * by `parseDriverAllow`); default none.
   */
  driverAllow?: DriverGrants;
}

/** The hook {@link createExecutionHook} returns: a node execution hook plus what it hosts. */
export interface DriverExecutionHook extends NodeExecutionHook {
  /** Name of the driver. */
  readonly driverName: string;
  /** Worker restarts after a timeout or a crash (always 0 in-process). */
  readonly restarts: number;
  /** The optional capabilities (`summary`, `agent`, `journal`) the driver implements. */
  readonly capabilities: readonly DriverCapability[];
  /**
   * Calls a capability; rejects with `NOT_PROVIDED_BY_DRIVER` (a `DriverError`
   * naming the driver) when the driver lacks it.
   */
  query(name: DriverCapability, args: readonly unknown[]): Promise<unknown>;
}

/** Defaults of {@link ExecutionHookOptions}. */
export const defaultExecutionHookOptions = {
  driver: "bridge",
  mode: "node" as ExecutionMode,
  heightTimeoutMs: 30_000,
  startTimeoutMs: 60_000,
  durable: true,
  inProcess: false,
} as const;

/**
 * Loads and starts the driver and returns it as a node execution hook. Rejects when
 * the driver cannot be found or started (with the loader's or driver's message). The
 * hook has `info()` only when the driver has one.
 *
 * @example
 * ```ts
 * import { createExecutionHook } from "./create_hook.ts";
 * const hook = await createExecutionHook({
 *   dataDir: "/tmp/awr-example", nodeId: "node-1", worldId: "world-1",
 * });
 * console.log(await hook.info?.());
 * await hook.close?.();
 * ```
 */
export async function createExecutionHook(
  options: ExecutionHookOptions,
): Promise<DriverExecutionHook> {
  const d = defaultExecutionHookOptions;
  const logger = options.logger ?? silentLogger;
  const start = {
    dataDir: options.dataDir,
    nodeId: options.nodeId,
    worldId: options.worldId,
    driver: options.driver ?? d.driver,
    pluginsDir: options.pluginsDir,
    mode: options.mode ?? d.mode,
    durable: options.durable ?? d.durable,
  };
  if (options.inProcess ?? d.inProcess) {
    const running = await startDriver({ ...start, logger });
    // Same ordering guarantee as the Worker variant: calls never overtake each other.
    const queue = new SerialQueue({ name: "in-process driver hook" });
    const serial = <T>(fn: () => Promise<T>): Promise<T> => queue.run(fn);
    const hook: { -readonly [K in keyof DriverExecutionHook]: DriverExecutionHook[K] } = {
      driverName: running.listing.name,
      restarts: 0,
      capabilities: running.capabilities,
      query: (name, args) => running.query(name, args),
      onCommit: (ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> =>
        serial(() => running.commit(ctx)),
      close: () => serial(() => running.close()),
    };
    if (running.hasInfo) {
      hook.info = () => serial(async () => (await running.info()) as NodeExecutionHookInfo);
    }
    return hook;
  }
  const worker = await WorkerExecutionHook.start({
    ...start,
    heightTimeoutMs: options.heightTimeoutMs ?? d.heightTimeoutMs,
    startTimeoutMs: options.startTimeoutMs ?? d.startTimeoutMs,
    grants: options.driverAllow,
    logger,
  });
  const hook: DriverExecutionHook = {
    driverName: worker.driverName,
    get restarts() {
      return worker.restarts;
    },
    get capabilities() {
      return worker.capabilities;
    },
    query: (name, args) => worker.query(name, args),
    onCommit: (ctx) => worker.onCommit(ctx),
    close: () => worker.close(),
  };
  if (worker.hasInfo) hook.info = () => worker.info();
  return hook;
}
