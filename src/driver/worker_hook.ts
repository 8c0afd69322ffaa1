/**
 * Main-thread side of the off-thread driver: the node's execution hook, backed by a
 * Deno Worker that hosts the driver (`driver_worker.ts`). Calls run one at a time,
 * so results come back in height order. Each commit has a time budget; a call
 * that overruns it, or a worker that dies, rejects with a typed error and the
 * worker is terminated and started again; the restarted driver reopens its state
 * from disk and the node hands the height over again.
 *
 * The Worker is sandboxed (`sandbox.ts`): the plugin file is resolved on this thread
 * by inspecting candidates in read-only Workers, and the driver's Worker may read
 * only its plugin folder's files and the parts of the data folder the host uses,
 * write only `<data>/execution`, `<data>/store` and `<data>/drivers/<name>`, plus
 * what the operator grants (`--driver-allow`).
 * @module
 */
import { AwrError, errorMessage, isErrorCode } from "../errors.ts";
import type { ErrorCode, ErrorFields } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { SerialQueue } from "../std/serial_queue.ts";
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHookInfo,
} from "../node/execution_hook.ts";
import type {
  WorkerErrorPayload,
  WorkerReply,
  WorkerRequest,
  WorkerStarted,
  WorkerStartOptions,
} from "./driver_worker.ts";
import { DriverError, notProvided } from "./host.ts";
import type { DriverCapability } from "./plugin.ts";
import { type DriverListing, resolveDriver } from "./loader.ts";
import {
  assertWorkerSandbox,
  type DriverGrants,
  driverPermissions,
  driverWrites,
  pluginReadPaths,
} from "./sandbox.ts";

/** Options of {@link WorkerExecutionHook.start}. */
export interface WorkerHookOptions extends WorkerStartOptions {
  /** Budget per height of a commit call, in ms (a call covering a gap gets one per height). */
  heightTimeoutMs: number;
  /** Budget for loading the plugin and opening the driver (and for info/close), in ms. */
  startTimeoutMs: number;
  /** Permissions granted beyond the sandbox's defaults (`--driver-allow`); default none. */
  grants?: DriverGrants;
  logger?: Logger;
}

type Request =
  | { readonly op: "start"; readonly options: WorkerStartOptions }
  | { readonly op: "info" }
  | { readonly op: "commit"; readonly ctx: NodeExecutionCommitContext }
  | { readonly op: "close" }
  | { readonly op: "query"; readonly name: string; readonly args: readonly unknown[] };

interface Pending {
  readonly op: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const WORKER_URL = new URL("./driver_worker.ts", import.meta.url);

function fromPayload(driver: string, e: WorkerErrorPayload): DriverError {
  // A code outside the registry (a driver's own, an OS error's) stays in the context.
  if (isErrorCode(e.code)) {
    return new DriverError(
      e.code,
      e.message,
      {
        ...e.context,
        driver,
        errorName: e.name,
      } as ErrorFields[ErrorCode],
    );
  }
  return new DriverError("DRIVER_ERROR", e.message, {
    driver,
    errorName: e.name,
    ...(e.code !== null ? { driverCode: e.code } : {}),
  });
}

/**
 * The driver in a Worker, as a node execution hook.
 *
 * @example
 * ```ts
 * import { WorkerExecutionHook } from "./worker_hook.ts";
 * const hook = await WorkerExecutionHook.start({
 *   driver: "bridge", dataDir: "/tmp/awr-example", nodeId: "node-1", worldId: "world-1",
 *   mode: "node", heightTimeoutMs: 30_000, startTimeoutMs: 60_000,
 * });
 * console.log(await hook.info());
 * await hook.close();
 * ```
 */
export class WorkerExecutionHook {
  readonly #options: WorkerHookOptions;
  readonly #logger: Logger;
  readonly #name: string;
  #worker: Worker | null = null;
  #ready: Promise<WorkerStarted> | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  // One call at a time: the node keeps one in flight, but a second caller must not
  // overtake the first, or results could come back out of height order.
  readonly #queue = new SerialQueue({ name: "driver worker hook" });
  #hasInfo = false;
  #capabilities: readonly DriverCapability[] = [];
  #lastHeight = 0;
  #restarts = 0;
  #closed = false;
  #listing: DriverListing | null = null;
  #pluginFiles: string[] = [];

  private constructor(options: WorkerHookOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#name = options.driver;
  }

  /** Starts the worker and the driver in it; rejects if the driver cannot start. */
  static async start(options: WorkerHookOptions): Promise<WorkerExecutionHook> {
    assertWorkerSandbox();
    const hook = new WorkerExecutionHook(options);
    try {
      hook.#listing = await resolveDriver(options.driver, { pluginsDir: options.pluginsDir });
      // A compiled binary's embedded folder is inside the binary (no links to follow).
      hook.#pluginFiles = Deno.build.standalone && hook.#listing.source === "embedded"
        ? [hook.#listing.dir]
        : await pluginReadPaths(hook.#listing.dir);
    } catch (err) {
      if (!(err instanceof AwrError)) throw err;
      // Same error class as any other start failure of the driver.
      throw new DriverError(err.code, err.message, { ...err.context, driver: options.driver }, {
        cause: err,
      });
    }
    // Made here, with the node's permissions: the sandbox may not touch <data> itself.
    for (const dir of driverWrites(options.dataDir, hook.#listing.name)) {
      await Deno.mkdir(dir, { recursive: true });
    }
    hook.#launch();
    try {
      await hook.#ready;
    } catch (err) {
      hook.#closed = true;
      throw err;
    }
    return hook;
  }

  /** Name of the hosted driver. */
  get driverName(): string {
    return this.#name;
  }

  /** Whether the hosted driver implements `info()`. */
  get hasInfo(): boolean {
    return this.#hasInfo;
  }

  /** The optional capabilities the hosted driver implements. */
  get capabilities(): readonly DriverCapability[] {
    return this.#capabilities;
  }

  /**
   * Calls capability `name` (a read-only view) in the worker, beside any commit in
   * flight (not queued behind it), within the start budget.
   */
  async query(name: string, args: readonly unknown[]): Promise<unknown> {
    if (!(this.#capabilities as readonly string[]).includes(name)) {
      throw notProvided(this.#name, name);
    }
    if (this.#closed || this.#ready === null) {
      throw new DriverError("DRIVER_NOT_RUNNING", `driver "${this.#name}" is not running`, {
        driver: this.#name,
      });
    }
    await this.#ready;
    return await this.#send({ op: "query", name, args }, this.#options.startTimeoutMs);
  }

  /** How many times the worker was started again after a timeout or a crash. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Executes `ctx.height` (and any gap below it) in the worker. */
  onCommit(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    return this.#queue.run(async () => {
      // A call that fills a gap does one height's work per missing height.
      const heights = Math.max(1, ctx.height - this.#lastHeight);
      const budget = this.#options.heightTimeoutMs * heights;
      const r = await this.#call({ op: "commit", ctx }, budget) as NodeExecutionCommitResult;
      this.#lastHeight = Math.max(this.#lastHeight, r.executionHeight);
      return r;
    });
  }

  /** The driver's info (all zero/null when the driver has no `info()`). */
  info(): Promise<NodeExecutionHookInfo> {
    return this.#queue.run(async () => {
      const info = await this.#call({ op: "info" }, this.#options.startTimeoutMs) as
        | NodeExecutionHookInfo
        | null;
      if (info) this.#lastHeight = info.lastHeight;
      return info ?? {
        lastHeight: 0,
        lastNodeBlockHash: null,
        lastExecutionBlockHash: null,
        lastExecutionStateRoot: null,
      };
    });
  }

  /** Lets the driver close (within the start budget), then terminates the worker. */
  close(): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#closed) return;
      try {
        // A worker whose driver never started has nothing to close.
        const started = this.#ready?.then(() => true, () => false);
        if (await started) await this.#send({ op: "close" }, this.#options.startTimeoutMs);
      } finally {
        this.#closed = true;
        this.#kill(new DriverError("DRIVER_CLOSED", "the execution hook is closed"));
      }
    });
  }

  async #call(req: Request, budgetMs: number): Promise<unknown> {
    if (this.#closed) throw new DriverError("DRIVER_CLOSED", "the execution hook is closed");
    if (this.#ready === null) {
      this.#restarts++;
      this.#launch();
    }
    await this.#ready;
    return await this.#send(req, budgetMs);
  }

  #launch(): void {
    const listing = this.#listing!;
    const worker = new Worker(WORKER_URL, {
      type: "module",
      name: `driver:${this.#name}`,
      deno: {
        permissions: driverPermissions({
          pluginFiles: this.#pluginFiles,
          dataDir: this.#options.dataDir,
          nodeId: this.#options.nodeId,
          driverName: listing.name,
          grants: this.#options.grants,
        }),
      },
    });
    // Messages and errors of a worker that was already replaced are ignored.
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      if (worker === this.#worker) this.#onMessage(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      // Keep the error from tearing down the main thread; report it instead.
      e.preventDefault();
      const where = e.filename ? ` (${e.filename}:${e.lineno})` : "";
      if (worker === this.#worker) this.#onCrash(`${e.message}${where}`);
    };
    worker.onmessageerror = () => {
      this.#logger.error("execution driver sent an unreadable message", { driver: this.#name });
    };
    this.#worker = worker;
    const { logger: _l, heightTimeoutMs: _h, startTimeoutMs: _s, grants: _g, ...rest } =
      this.#options;
    const options: WorkerStartOptions = { ...rest, plugin: listing };
    const start = this.#send({ op: "start", options }, this.#options.startTimeoutMs);
    this.#ready = (start as Promise<WorkerStarted>).then((started) => {
      // A (re)started driver says where it stands; budgets count from there.
      this.#hasInfo = started.hasInfo;
      this.#capabilities = started.capabilities;
      if (started.info) this.#lastHeight = started.info.lastHeight;
      return started;
    }, (err) => {
      // The driver did not start: drop this worker; the next call starts another.
      if (worker === this.#worker) this.#kill(err);
      throw err;
    });
  }

  #send(req: Request, budgetMs: number): Promise<unknown> {
    const worker = this.#worker;
    if (worker === null) {
      return Promise.reject(
        new DriverError("DRIVER_NOT_RUNNING", `driver "${this.#name}" has no running worker`),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Only a call still waiting on the current worker may condemn it.
        if (!this.#pending.has(id) || worker !== this.#worker) return;
        const what = req.op === "commit" ? `height ${req.ctx.height}` : `"${req.op}"`;
        this.#logger.error("execution driver timed out", { driver: this.#name, op: req.op });
        this.#fail(
          new DriverError(
            "DRIVER_TIMEOUT",
            `driver "${this.#name}" did not answer ${what} within ${budgetMs} ms; its worker was terminated`,
            { driver: this.#name, op: req.op, budgetMs },
          ),
          req.op,
        );
      }, budgetMs);
      this.#pending.set(id, {
        op: req.op,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        worker.postMessage({ id, ...req } as WorkerRequest);
      } catch (err) {
        // Nothing reached the worker (e.g. a value that cannot be cloned): fail this
        // call alone; the worker is healthy and its timer must not fire later.
        const p = this.#pending.get(id);
        this.#pending.delete(id);
        p?.reject(
          new DriverError(
            "DRIVER_BAD_REQUEST",
            `cannot send ${req.op} to driver "${this.#name}": ${errorMessage(err)}`,
            { driver: this.#name, op: req.op },
            { cause: err },
          ),
        );
      }
    });
  }

  #onMessage(msg: WorkerReply): void {
    if (msg.kind === "fault") {
      this.#onCrash(msg.message);
      return;
    }
    if (msg.kind === "log") {
      this.#logger[msg.level](msg.msg, { ...msg.fields, driver: this.#name });
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(fromPayload(this.#name, msg.error));
  }

  #onCrash(message: string): void {
    this.#logger.error("execution driver worker crashed", { driver: this.#name, message });
    const starting = [...this.#pending.values()].some((p) => p.op === "start");
    this.#fail(
      new DriverError("DRIVER_CRASHED", `driver "${this.#name}" crashed: ${message}`, {
        driver: this.#name,
      }),
      starting ? "start" : "commit",
    );
  }

  // The worker is unusable: terminate it, reject what waits on it, and start a new
  // one right away (unless it was the start itself that failed, or we are closing;
  // then the next call tries again).
  #fail(err: Error, op: string): void {
    this.#kill(err);
    if (this.#closed || op === "start" || op === "close") return;
    this.#restarts++;
    this.#launch();
    this.#ready!.catch((e) => {
      this.#logger.error("execution driver failed to restart", {
        driver: this.#name,
        error: errorMessage(e),
      });
    });
  }

  #kill(reason: Error): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#ready = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason);
  }
}
