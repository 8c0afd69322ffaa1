/**
 * A real `deno run -A mod.ts live …` process for full-tier tests: spawned with HTTP on
 * 127.0.0.1:0, its URL read from stdout, stopped with SIGTERM (SIGKILL after a bound).
 * @module
 */
import { fromFileUrl, join } from "@std/path";

const MOD = fromFileUrl(new URL("../../mod.ts", import.meta.url));
const MAX_KEPT_LINES = 2_000;

/** A running live node process. */
export interface LiveProcess {
  readonly child: Deno.ChildProcess;
  /** Base URL, ending in `/`. */
  readonly url: string;
  readonly token: string;
  /** stderr lines so far (log lines; the last {@link MAX_KEPT_LINES}). */
  readonly logLines: string[];
  /** GET /v1/status as JSON. */
  status(): Promise<Record<string, unknown>>;
  /** POSTs a JSON body to /v1/actions; returns the status and parsed body. */
  post(body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
  /** SIGKILL now; resolves with the signal that ended it once its output is drained. */
  kill(): Promise<Deno.Signal | null>;
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    into.push(...parts);
    if (into.length > MAX_KEPT_LINES) into.splice(0, into.length - MAX_KEPT_LINES);
  }
  if (rest) into.push(rest);
}

/** How a test runs `awr live`: HTTP address (or `off`), tick, log level and extra flags. */
export interface LiveArgs {
  http?: string;
  tickMs?: number;
  logLevel?: string;
  extra?: readonly string[];
}

/**
 * The `deno run` arguments of `awr live` on `dataDir`, quiet by default (no status
 * lines), for tests that spawn the process themselves.
 */
export function liveArgs(dataDir: string, o: LiveArgs = {}): string[] {
  return [
    "run",
    "-A",
    MOD,
    "live",
    "--data-dir",
    dataDir,
    "--http",
    o.http ?? "off",
    "--tick-ms",
    String(o.tickMs ?? 20),
    "--status-every",
    "0",
    "--log-level",
    o.logLevel ?? "error",
    ...(o.extra ?? []),
  ];
}

/** Spawns `awr live --data-dir <dataDir> --http 127.0.0.1:0 <extra…>` and waits for its URL. */
export async function spawnLive(dataDir: string, extra: string[]): Promise<LiveProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "live", "--data-dir", dataDir, "--http", "127.0.0.1:0", ...extra],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const logLines: string[] = [];
  const drained = Promise.all([collect(child.stdout, out), collect(child.stderr, logLines)]);
  let url = "";
  const ended: { status?: Deno.CommandStatus } = {};
  child.status.then((st) => ended.status = st);
  const until = performance.now() + 60_000;
  while (!url) {
    const line = out.find((l) => l.trim().startsWith("http "));
    if (line) url = line.trim().split(/\s+/)[1];
    else if (ended.status || performance.now() > until) {
      const exit = ended.status;
      const why = exit ? `exited (code ${exit.code}) before printing` : "did not print";
      if (!exit) child.kill("SIGKILL");
      await child.status;
      await drained;
      throw new Error(`awr live ${why} its URL within 60 s:\n${logLines.join("\n")}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }
  if (!url.endsWith("/")) url += "/";
  const token = (await Deno.readTextFile(join(dataDir, "api_token"))).trim();
  const proc: LiveProcess = {
    child,
    url,
    token,
    logLines,
    status: async () => await (await fetch(`${url}v1/status`)).json(),
    post: async (body) => {
      const res = await fetch(`${url}v1/actions`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      });
      return { status: res.status, body: await res.json() };
    },
    stop: async (graceMs = 20_000) => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      const st = await child.status;
      clearTimeout(timer);
      await drained;
      return st.code;
    },
    kill: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      const st = await child.status;
      await drained;
      return st.signal;
    },
  };
  return proc;
}

/** Polls `cond` every 50 ms for up to `timeoutMs`; throws naming `what` when it never holds. */
export async function pollUntil(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
