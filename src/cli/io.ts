/**
 * What a CLI command writes to, so tests can capture it and `main.ts` can map
 * failures to one clear line and a non-zero exit code.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { safeLineWriter } from "../logger.ts";

/** Output sinks for CLI commands. */
export interface CliIo {
  /** Writes a line (no trailing newline needed) to standard output. */
  out(line: string): void;
  /** Writes a line to standard error. */
  err(line: string): void;
  /** Whether standard output is a terminal (progress, colours). */
  isTerminal: boolean;
}

/**
 * The process's real stdout/stderr. Writes never throw: once a stream is closed or
 * full (`awr live | head`, stdout on `/dev/full`) its lines are dropped, and a
 * broken stdout is said once on stderr.
 */
export function processIo(): CliIo {
  const err = safeLineWriter(Deno.stderr);
  const out = safeLineWriter(
    Deno.stdout,
    (e) =>
      err(`awr: standard output is closed or full (${errorMessage(e)}); its lines are dropped`),
  );
  return { out, err, isTerminal: Deno.stdout.isTerminal() };
}

/** A command failure that carries its exit code; `main.ts` prints its message. */
export class CliError extends AwrError<"CLI"> {
  /** Exit code to return. */
  readonly exitCode: number;
  /**
   * @param message one line for the operator
   * @param exitCode process exit code (default 1)
   * @param options `{ cause }`: the error this one reports
   */
  constructor(message: string, exitCode = 1, options?: ErrorOptions) {
    super("CLI", message, {}, options);
    this.exitCode = exitCode;
  }
}

/** Parses a flag value as a positive/non-negative integer or throws a CliError naming it. */
export function parseIntFlag(flag: string, value: string, min = 0): number {
  if (!/^\d+$/.test(value.trim())) {
    throw new CliError(`${flag} must be an integer, got "${value}"`, 2);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CliError(`${flag} must be an integer >= ${min}, got "${value}"`, 2);
  }
  return n;
}
