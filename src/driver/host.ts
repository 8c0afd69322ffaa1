/**
 * Builds the {@link DriverHost} a plugin's `create` receives, and starts a driver
 * by name. The Worker side (`driver_worker.ts`) and the in-process variant both go
 * through {@link startDriver}, so a driver sees the same host either way.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { BlockStore } from "../node/block_store.ts";
import { CasStore } from "../storage/cas.ts";
import { decodeCbor, encodeCanonical } from "../storage/cbor.ts";
import { hashCanonical, hashHex } from "../storage/hash.ts";
import { ExecutionCore } from "../execution/core.ts";
import { type DriverListing, loadDriver } from "./loader.ts";
import { agentAt, journalAt, summaryAt } from "../execution/world_views.ts";
import {
  DRIVER_API_VERSION,
  DRIVER_CAPABILITIES,
  type DriverCapability,
  type DriverCas,
  type DriverCommitContext,
  type DriverCommitResult,
  type DriverExecutionCore,
  type DriverHost,
  type DriverInfo,
  type DriverMode,
} from "./plugin.ts";
import type { ExecutionMode } from "../execution/state_file.ts";
import { blocksDir, storeDir } from "../storage/data_dir.ts";

/** The contract's import-free copy of the mode is the runtime's type (a compile-time check). */
type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _MODE_TYPES_AGREE: SameType<DriverMode, ExecutionMode> = true;
void _MODE_TYPES_AGREE;

/** Error raised around a driver: timeouts, crashes, bad results, or its own errors. */
export class DriverError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** What a driver's host is built from. */
export interface DriverHostOptions {
  /** The node's data folder. */
  dataDir: string;
  nodeId: string;
  worldId: string;
  mode: ExecutionMode;
  /** fsync every write (default true; tests of logic may turn it off). */
  durable?: boolean;
  logger?: Logger;
}

/** A host and the clean-up of what it opened on the driver's behalf. */
export interface BuiltHost {
  readonly host: DriverHost;
  /** Closes the execution core if the driver opened it and did not close it. */
  shutdown(): Promise<void>;
}

/**
 * Builds a driver host over `<dataDir>`: blocks from `<data>/node/<nodeId>/blocks`,
 * blobs in `<data>/store`, one execution core shared by every `openExecutionCore()`.
 *
 * @example
 * ```ts
 * import { buildDriverHost } from "./host.ts";
 * const { host, shutdown } = buildDriverHost({
 *   dataDir: "/tmp/awr-example", nodeId: "node-1", worldId: "world-1", mode: "node",
 * });
 * console.log(host.hash.hex(new Uint8Array()));
 * await shutdown();
 * ```
 */
export function buildDriverHost(options: DriverHostOptions): BuiltHost {
  const durable = options.durable ?? true;
  const logger = options.logger ?? silentLogger;
  const blocks = new BlockStore(blocksDir(options.dataDir, options.nodeId), {
    durable,
  });
  const files = new CasStore(storeDir(options.dataDir), { durable });
  let core: Promise<ExecutionCore> | null = null;
  // Reads go through the core's store (pack, then CAS files) once a driver opened it;
  // `put` writes a CAS file, which that store also reads.
  const cas: DriverCas = {
    put: (bytes) => files.put(bytes),
    get: async (hash) => core ? (await core).store.get(hash) : files.get(hash),
    has: async (hash) => core ? (await core).store.has(hash) : files.has(hash),
  };
  let closed = false;
  const openExecutionCore = (): Promise<DriverExecutionCore> => {
    core ??= ExecutionCore.open({
      dataDir: options.dataDir,
      worldId: options.worldId,
      blocks,
      mode: options.mode,
      durable,
      logger,
    });
    return core.then((c) => ({
      info: () => c.info(),
      executeThrough: (ctx) => c.executeThrough(ctx),
      resultAt: (h) => c.resultAt(h),
      summary: (agentLimit) => summaryAt(cas, c.info().lastExecutionStateRoot, agentLimit),
      agent: (id) => agentAt(cas, c.info().lastExecutionStateRoot, id),
      journal: (from, limit) => journalAt(cas, options.dataDir, c.info().lastHeight, from, limit),
      close: async () => {
        if (closed) return;
        closed = true;
        await c.close();
      },
    }));
  };
  const host: DriverHost = {
    apiVersion: DRIVER_API_VERSION,
    dataDir: options.dataDir,
    nodeId: options.nodeId,
    worldId: options.worldId,
    mode: options.mode,
    cas,
    blocks,
    hash: { name: "blake3", hex: hashHex, canonical: hashCanonical },
    cbor: { encode: encodeCanonical, decode: decodeCbor },
    openExecutionCore,
    logger,
  };
  const shutdown = async (): Promise<void> => {
    if (core === null || closed) return;
    closed = true;
    await (await core).close();
  };
  return { host, shutdown };
}

/** What starts a driver: its host, and which plugin. */
export interface StartDriverOptions extends DriverHostOptions {
  /** Driver name (`--driver`). */
  driver: string;
  /** Drop-in folder (`--plugins-dir`). */
  pluginsDir?: string;
  /** The plugin file, already resolved (the sandboxed Worker imports only this). */
  plugin?: DriverListing;
}

/** A started driver behind checks that keep a faulty plugin from lying to the node. */
export interface RunningDriver {
  readonly listing: DriverListing;
  /** Whether the driver implements `info()`. */
  readonly hasInfo: boolean;
  commit(ctx: DriverCommitContext): Promise<DriverCommitResult>;
  /** The driver's info, or null when it has no `info()`. */
  info(): Promise<DriverInfo | null>;
  /** The optional capabilities the driver implements. */
  readonly capabilities: readonly DriverCapability[];
  /**
   * Calls capability `name` with `args`. Throws {@link DriverError}
   * `NOT_PROVIDED_BY_DRIVER` when the driver lacks it.
   */
  query(name: string, args: readonly unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

const isHash = (v: unknown): v is string => typeof v === "string" && v.length > 0;

function checkResult(name: string, height: number, r: DriverCommitResult): DriverCommitResult {
  if (
    r === null || typeof r !== "object" || r.executionHeight !== height ||
    !isHash(r.executionBlockHash) || !isHash(r.executionStateRoot)
  ) {
    throw new DriverError(
      "DRIVER_BAD_RESULT",
      `driver "${name}" returned ${
        JSON.stringify(r)
      } for height ${height}; expected { executionHeight: ${height}, executionBlockHash, executionStateRoot }`,
      { driver: name, height },
    );
  }
  // Copy: only the three contract fields travel on.
  return {
    executionHeight: r.executionHeight,
    executionBlockHash: r.executionBlockHash,
    executionStateRoot: r.executionStateRoot,
  };
}

function checkInfo(name: string, i: DriverInfo): DriverInfo {
  const nullableHash = (v: unknown) => v === null || isHash(v);
  if (
    i === null || typeof i !== "object" || !Number.isSafeInteger(i.lastHeight) ||
    i.lastHeight < 0 || !nullableHash(i.lastNodeBlockHash) ||
    !nullableHash(i.lastExecutionBlockHash) || !nullableHash(i.lastExecutionStateRoot)
  ) {
    throw new DriverError(
      "DRIVER_BAD_INFO",
      `driver "${name}" returned bad info ${JSON.stringify(i)}`,
      {
        driver: name,
      },
    );
  }
  return {
    lastHeight: i.lastHeight,
    lastNodeBlockHash: i.lastNodeBlockHash,
    lastExecutionBlockHash: i.lastExecutionBlockHash,
    lastExecutionStateRoot: i.lastExecutionStateRoot,
  };
}

/**
 * The error of a capability the driver does not implement (answered 501 by the API).
 *
 * @example
 * ```ts
 * import { notProvided } from "./host.ts";
 * notProvided("echo", "summary").code; // "NOT_PROVIDED_BY_DRIVER"
 * ```
 */
export function notProvided(driver: string, capability: string): DriverError {
  return new DriverError(
    "NOT_PROVIDED_BY_DRIVER",
    `driver "${driver}" does not provide "${capability}" (an optional driver capability)`,
    { driver, capability },
  );
}

/**
 * Loads the plugin `options.driver`, builds its host and creates the driver.
 *
 * @example
 * ```ts
 * import { startDriver } from "./host.ts";
 * const d = await startDriver({
 *   driver: "bridge", dataDir: "/tmp/awr-example", nodeId: "node-1", worldId: "world-1",
 *   mode: "node",
 * });
 * console.log(await d.info());
 * await d.close();
 * ```
 */
export async function startDriver(options: StartDriverOptions): Promise<RunningDriver> {
  const { plugin, listing } = await loadDriver(options.driver, {
    pluginsDir: options.pluginsDir,
    only: options.plugin,
  });
  const logger = options.logger ?? silentLogger;
  const built = buildDriverHost({ ...options, logger });
  let driver;
  try {
    driver = await plugin.create(built.host);
  } catch (err) {
    await built.shutdown().catch(() => {});
    if (err instanceof AwrError) throw err;
    throw new DriverError(
      "DRIVER_CREATE_FAILED",
      `driver "${listing.name}" (${listing.file}) failed to start: ${errorMessage(err)}`,
      { driver: listing.name, file: listing.file },
      { cause: err },
    );
  }
  if (driver === null || typeof driver !== "object" || typeof driver.onCommit !== "function") {
    await built.shutdown();
    throw new DriverError(
      "DRIVER_BAD_SHAPE",
      `driver "${listing.name}" (${listing.file}): create() must return an object with onCommit(ctx)`,
      { driver: listing.name, file: listing.file },
    );
  }
  const d = driver;
  const hasInfo = typeof d.info === "function";
  const capabilities = DRIVER_CAPABILITIES.filter((c) => typeof d[c] === "function");
  return {
    listing,
    hasInfo,
    capabilities,
    query: async (name, args) => {
      if (!(capabilities as readonly string[]).includes(name)) {
        throw notProvided(listing.name, name);
      }
      const fn = d[name as DriverCapability] as (...a: unknown[]) => Promise<unknown>;
      return await fn.apply(d, [...args]);
    },
    commit: async (ctx) => checkResult(listing.name, ctx.height, await d.onCommit(ctx)),
    info: async () => (hasInfo ? checkInfo(listing.name, await d.info!()) : null),
    close: async () => {
      try {
        if (typeof d.close === "function") await d.close();
      } finally {
        await built.shutdown();
      }
    },
  };
}
