/**
 * Worker side of the off-thread driver: loads the plugin by name, builds its host,
 * and answers `start` / `info` / `commit` / `close` requests from
 * `worker_hook.ts`. Running here, a driver that burns CPU or blocks cannot delay
 * the node's consensus ticks; if it hangs, the main thread terminates this worker.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type RunningDriver, startDriver, type StartDriverOptions } from "./host.ts";
import type { DriverCapability, DriverCommitContext, DriverInfo } from "./plugin.ts";

/** Start options as they cross the worker boundary (no logger: logs are forwarded). */
export type WorkerStartOptions = Omit<StartDriverOptions, "logger">;

/** A request from the main thread. */
export type WorkerRequest =
  | { readonly id: number; readonly op: "start"; readonly options: WorkerStartOptions }
  | { readonly id: number; readonly op: "info" }
  | { readonly id: number; readonly op: "commit"; readonly ctx: DriverCommitContext }
  | { readonly id: number; readonly op: "close" }
  | {
    readonly id: number;
    readonly op: "query";
    readonly name: string;
    readonly args: readonly unknown[];
  };

/** A driver error as it crosses the boundary. */
export interface WorkerErrorPayload {
  readonly name: string;
  readonly code: string | null;
  readonly message: string;
  readonly context: Record<string, unknown>;
}

/** What `start` answers. */
export interface WorkerStarted {
  readonly name: string;
  readonly file: string;
  readonly hasInfo: boolean;
  readonly info: DriverInfo | null;
  /** The optional capabilities the driver implements. */
  readonly capabilities: readonly DriverCapability[];
}

/** A message to the main thread: a reply to request `id`, or a forwarded log line. */
export type WorkerReply =
  | { readonly kind: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
    readonly kind: "reply";
    readonly id: number;
    readonly ok: false;
    readonly error: WorkerErrorPayload;
  }
  | { readonly kind: "fault"; readonly message: string }
  | {
    readonly kind: "log";
    readonly level: keyof Logger;
    readonly msg: string;
    readonly fields?: Record<string, unknown>;
  };

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply): void;
  addEventListener(type: "error", fn: (e: ErrorEvent) => void): void;
  addEventListener(type: "unhandledrejection", fn: (e: PromiseRejectionEvent) => void): void;
}

const scope = globalThis as unknown as WorkerScope;

// Context values must survive structured cloning; anything odd becomes its text.
function cloneable(context: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
  } catch {
    return { detail: String(context) };
  }
}

function toPayload(err: unknown): WorkerErrorPayload {
  if (err instanceof AwrError) {
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      context: cloneable(err.context),
    };
  }
  const code = err !== null && typeof err === "object" && "code" in err &&
      typeof err.code === "string"
    ? err.code
    : null;
  return {
    name: err instanceof Error ? err.name : "Error",
    code,
    message: errorMessage(err),
    context: {},
  };
}

function forwardingLogger(): Logger {
  const at = (level: keyof Logger) => (msg: string, fields?: Record<string, unknown>) => {
    try {
      scope.postMessage({ kind: "log", level, msg, fields });
    } catch {
      scope.postMessage({ kind: "log", level, msg, fields: cloneable(fields ?? {}) });
    }
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

let running: RunningDriver | null = null;

function needDriver(): RunningDriver {
  if (running === null) throw new AwrError("DRIVER_NOT_STARTED", "the driver is not started");
  return running;
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case "start": {
      if (running !== null) throw new AwrError("DRIVER_STARTED", "the driver is already started");
      running = await startDriver({ ...req.options, logger: forwardingLogger() });
      const started: WorkerStarted = {
        name: running.listing.name,
        file: running.listing.file,
        hasInfo: running.hasInfo,
        info: await running.info(),
        capabilities: running.capabilities,
      };
      return started;
    }
    case "info":
      return await needDriver().info();
    case "commit":
      return await needDriver().commit(req.ctx);
    case "query":
      return await needDriver().query(req.name, req.args);
    case "close": {
      const r = running;
      running = null;
      await r?.close();
      return null;
    }
  }
}

scope.onmessage = (e: MessageEvent<WorkerRequest>): void => {
  const req = e.data;
  handle(req).then(
    (value) => scope.postMessage({ kind: "reply", id: req.id, ok: true, value }),
    (err) => scope.postMessage({ kind: "reply", id: req.id, ok: false, error: toPayload(err) }),
  );
};

// A driver's stray error (a throwing timer, an unhandled rejection) leaves it in an
// unknown state: report it as a fault so the main thread replaces this worker. The
// main thread's own `onerror` stays as the backstop for anything that slips past.
function fault(what: string, err: unknown): void {
  const stack = err instanceof Error && err.stack ? err.stack.split("\n")[1]?.trim() : undefined;
  scope.postMessage({
    kind: "fault",
    message: `${what}: ${errorMessage(err)}${stack ? ` (${stack})` : ""}`,
  });
}
scope.addEventListener("error", (e) => {
  e.preventDefault();
  fault("uncaught error", e.error ?? e.message);
});
scope.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  fault("unhandled rejection", e.reason);
});
