/**
 * A small structured logger, passed in (never imported as a global) so tests stay
 * quiet and the live node can route lines where it wants.
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What every part of the runtime logs through. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that drops everything (the default in library code and tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

function render(fields?: Record<string, unknown>): string {
  if (!fields) return "";
  return Object.entries(fields).map(([k, v]) =>
    ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  ).join("");
}

/** A synchronous byte sink such as `Deno.stdout` or `Deno.stderr`. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/**
 * A line writer over `stream` that can never throw: the first failed write (a closed
 * pipe, a full disk such as `/dev/full`) is reported once to `onBroken` and every
 * later line is dropped, so output trouble never stops the node.
 *
 * @example
 * ```ts
 * import { safeLineWriter } from "./logger.ts";
 * const out = safeLineWriter(Deno.stdout);
 * out("hello"); // never throws, even when stdout is a closed pipe
 * ```
 */
export function safeLineWriter(
  stream: SyncWriter,
  onBroken: (err: unknown) => void = () => {},
): (line: string) => void {
  const enc = new TextEncoder();
  let broken = false;
  return (line: string) => {
    if (broken) return;
    const bytes = enc.encode(line + "\n");
    try {
      let at = 0;
      while (at < bytes.length) at += stream.writeSync(bytes.subarray(at));
    } catch (err) {
      broken = true;
      try {
        onBroken(err);
      } catch {
        // Nothing left to tell.
      }
    }
  };
}

/**
 * A logger writing `LEVEL message key=value…` lines to stderr (a closed or full
 * stderr drops them, see {@link safeLineWriter}).
 *
 * @example
 * ```ts
 * import { consoleLogger } from "./logger.ts";
 * consoleLogger("info").info("node started", { node_id: "node-1" });
 * ```
 */
export function consoleLogger(level: LogLevel = "info", write?: (line: string) => void): Logger {
  const sink = write ?? safeLineWriter(Deno.stderr);
  const at = (l: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] >= ORDER[level]) sink(`${l.toUpperCase().padEnd(5)} ${msg}${render(fields)}`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
