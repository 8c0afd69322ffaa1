/**
 * The API token file (created 0600, refused when others may read it or when it is
 * malformed, never replaced, never printed in full), output that survives a closed
 * or full stream, and the Ctrl-C policy of `awr live` (injected signals and clock).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { stopOnSignals } from "../../src/cli/stop_signals.ts";
import { AwrError } from "../../src/errors.ts";
import { loadOrCreateToken, tokenHint, tokenPath } from "../../src/live/token.ts";
import { consoleLogger, safeLineWriter } from "../../src/logger.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-token-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("token: created 0600 with 64 hex digits, then read back unchanged", async () => {
  await withDir(async (dir) => {
    const token = await loadOrCreateToken(dir);
    assertMatch(token, /^[0-9a-f]{64}$/);
    const info = await Deno.stat(tokenPath(dir));
    assertEquals(info.mode! & 0o777, 0o600);
    assertEquals(await Deno.readTextFile(tokenPath(dir)), token + "\n");
    assertEquals(await loadOrCreateToken(dir), token);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["api_token"], "no temp left");
    assertEquals(tokenHint(token), token.slice(0, 8) + "…");
  });
});

Deno.test("token: a group/other-readable file is refused naming the file and the fix, and kept", async () => {
  await withDir(async (dir) => {
    const token = await loadOrCreateToken(dir);
    for (const mode of [0o644, 0o640, 0o604]) {
      await Deno.chmod(tokenPath(dir), mode);
      const err = await assertRejects(() => loadOrCreateToken(dir), AwrError);
      assertEquals(err.code, "TOKEN_MODE");
      assertStringIncludes(err.message, tokenPath(dir));
      assertStringIncludes(err.message, `chmod 600 ${tokenPath(dir)}`);
      assertStringIncludes(err.message, "0" + mode.toString(8));
      assertEquals(await Deno.readTextFile(tokenPath(dir)), token + "\n", "not replaced");
    }
  });
});

Deno.test("token: malformed content is refused naming the file, never silently replaced", async () => {
  await withDir(async (dir) => {
    for (
      const text of [
        "",
        "short\n",
        "G".repeat(64),
        "a".repeat(63),
        "a".repeat(65),
        "x".repeat(5000),
      ]
    ) {
      await Deno.writeTextFile(tokenPath(dir), text, { mode: 0o600 });
      await Deno.chmod(tokenPath(dir), 0o600);
      const err = await assertRejects(() => loadOrCreateToken(dir), AwrError);
      assertEquals(err.code, "TOKEN_MALFORMED", JSON.stringify(text.slice(0, 10)));
      assertStringIncludes(err.message, tokenPath(dir));
      assertEquals(await Deno.readTextFile(tokenPath(dir)), text, "file untouched");
    }
    await Deno.remove(tokenPath(dir));
    await Deno.mkdir(join(dir, "api_token"));
    const err = await assertRejects(() => loadOrCreateToken(dir), AwrError);
    assertEquals(err.code, "TOKEN_MALFORMED");
  });
});

Deno.test("safeLineWriter: the first failure is reported once, later lines are dropped, nothing throws", () => {
  const written: string[] = [];
  let fail = false;
  let calls = 0;
  const stream = {
    writeSync(p: Uint8Array): number {
      calls++;
      if (fail) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
      // Partial writes are continued.
      const n = Math.min(3, p.length);
      written.push(new TextDecoder().decode(p.subarray(0, n)));
      return n;
    },
  };
  const broken: unknown[] = [];
  const out = safeLineWriter(stream, (e) => broken.push(e));
  out("hello");
  assertEquals(written.join(""), "hello\n");
  fail = true;
  out("lost");
  const before = calls;
  out("also lost");
  out("and this");
  assertEquals(calls, before, "no write attempted after the failure");
  assertEquals(broken.length, 1);
  assert(broken[0] instanceof Deno.errors.BrokenPipe);
  // The logger over a broken sink does not throw either.
  const log = consoleLogger(
    "debug",
    safeLineWriter({
      writeSync: () => {
        throw new Error("ENOSPC");
      },
    }),
  );
  log.error("still fine");
});

Deno.test("Ctrl-C: a repeated signal soon after is not a force-quit; progress while stopping; late one forces", async () => {
  let now = 1_000;
  let onSignal: (name: string) => void = () => {};
  let subscribed = 0;
  const lines: string[] = [];
  const exits: number[] = [];
  const stopping = Promise.withResolvers<void>();
  let stops = 0;
  const stopper = stopOnSignals(
    {
      stop: () => {
        stops++;
        return stopping.promise;
      },
      progress: () => "committed 9, executed 7; waiting for the execution driver",
    },
    (l) => lines.push(l),
    (fn) => {
      onSignal = fn;
      subscribed++;
      return () => subscribed--;
    },
    { forceAfterMs: 5_000, progressEveryMs: 10, now: () => now, exit: (c) => exits.push(c) },
  );
  onSignal("SIGINT");
  now += 40;
  onSignal("SIGINT");
  now += 2_000;
  onSignal("SIGTERM");
  assertEquals(stops, 1, "one stop, however many signals");
  assertEquals(exits, []);
  assertStringIncludes(lines[0], "stopping");
  assertStringIncludes(lines[1], "not forcing");
  await new Promise((r) => setTimeout(r, 50));
  assert(
    lines.some((l) => /still stopping after 2 s .*waiting for the execution driver/.test(l)),
    lines.join("\n"),
  );
  now += 3_000;
  onSignal("SIGINT");
  assertEquals(exits, [130]);
  assertStringIncludes(lines.at(-1)!, "forced exit");
  await stopper.done;
  assertEquals(subscribed, 0, "handlers removed");
  stopping.resolve();
});

Deno.test("Ctrl-C: the stop finishing prints stopped and removes the handlers", async () => {
  let onSignal: (name: string) => void = () => {};
  let subscribed = 0;
  const lines: string[] = [];
  const stopper = stopOnSignals(
    { stop: () => Promise.resolve(), progress: () => "" },
    (l) => lines.push(l),
    (fn) => {
      onSignal = fn;
      subscribed++;
      return () => subscribed--;
    },
    {
      exit: () => {
        throw new Error("must not exit");
      },
    },
  );
  onSignal("SIGINT");
  onSignal("SIGINT");
  await stopper.done;
  assertEquals(lines.at(-1), "awr live: stopped");
  assertEquals(subscribed, 0);
});
