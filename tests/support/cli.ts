/** Runs the CLI in-process and captures its output. @module */
import { runCli } from "../../src/cli/main.ts";

/** Output of one CLI run. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `awr <args>` in-process. */
export async function awr(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTerminal: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
