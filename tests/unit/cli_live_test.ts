import { assertEquals, assertStringIncludes } from "@std/assert";
import { parseHttpFlag } from "../../src/cli/live.ts";
import { awr } from "../support/cli.ts";

Deno.test("awr live refuses bad flags with one line naming the flag, before touching the data dir", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-cli-live-" });
  try {
    for (
      const [args, flag] of [
        [["--execution", "sideways"], "--execution"],
        [["--tick-ms", "0"], "--tick-ms"],
        [["--tick-ms", "fast"], "--tick-ms"],
        [["--http", "not an address"], "--http"],
        [["--http", "127.0.0.1:70000"], "--http"],
        [["--log-level", "loud"], "--log-level"],
        [["--max-execution-lag", "0"], "--max-execution-lag"],
        [["--max-execution-lag", "lots"], "--max-execution-lag"],
        [["--height-timeout-ms", "0"], "--height-timeout-ms"],
        [["--height-timeout-ms", "3600001"], "--height-timeout-ms"],
      ] as const
    ) {
      const r = await awr("live", "--data-dir", dataDir, ...args);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assertStringIncludes(r.err, flag);
      assertEquals(r.err.trim().split("\n").length, 1, r.err);
    }
    assertEquals([...Deno.readDirSync(dataDir)], [], "nothing was written");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("--http accepts host:port, :port, port and off", () => {
  assertEquals(parseHttpFlag("127.0.0.1:7070"), { hostname: "127.0.0.1", port: 7070 });
  assertEquals(parseHttpFlag(":0"), { hostname: "127.0.0.1", port: 0 });
  assertEquals(parseHttpFlag("8080"), { hostname: "127.0.0.1", port: 8080 });
  assertEquals(parseHttpFlag("[::1]:9000"), { hostname: "::1", port: 9000 });
  assertEquals(parseHttpFlag("off"), null);
});

Deno.test("awr live --help lists every flag with its default", async () => {
  const r = await awr("live", "--help");
  assertEquals(r.code, 0);
  for (
    const flag of [
      "--data-dir",
      "--node-id",
      "--world-id",
      "--tick-ms",
      "--driver",
      "--plugins-dir",
      "--http",
      "--execution",
      "--max-execution-lag",
      "--height-timeout-ms",
    ]
  ) {
    assertStringIncludes(r.out, flag);
  }
  assertStringIncludes(r.out, "127.0.0.1:7070");
  assertStringIncludes(r.out, '"./data"');
  assertStringIncludes(r.out, '(default: "64")');
  assertStringIncludes(r.out, '(default: "30000")');
});
