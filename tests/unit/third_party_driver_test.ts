// A driver written from the README alone: one import-free .js file with no
// optional capability and no info(). Everything the node offers must still work.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { Command } from "commander";
import { registerRecordsCommands } from "../../src/cli/records.ts";
import { startLiveNode } from "../../src/live/live.ts";
import { waitForAsync } from "../support/hooks.ts";

const DRIVER = `
export default {
  name: "tally",
  apiVersion: 1,
  description: "counts actions; keeps nothing on disk",
  create() {
    let count = 0;
    return {
      onCommit(ctx) {
        count += ctx.actions.length;
        return Promise.resolve({
          executionHeight: ctx.height,
          executionBlockHash: "tally-" + ctx.height + "-" + ctx.nodeBlockHash.slice(0, 16),
          executionStateRoot: "count-" + count,
        });
      },
    };
  },
};
`;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

Deno.test("third-party driver without capabilities: status, records, 501 world views, reports, verify", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-third-" });
  const pluginsDir = await Deno.makeTempDir({ prefix: "awr-third-plugins-" });
  await Deno.writeTextFile(join(pluginsDir, "tally.js"), DRIVER);
  const live = await startLiveNode({
    dataDir,
    pluginsDir,
    driver: "tally",
    http: { hostname: "127.0.0.1", port: 0 },
    tickMs: 20,
    statusEveryMs: 0,
    rewardIntervalMs: 50,
  });
  try {
    const url = live.http!.url;
    let status: Record<string, unknown> = {};
    assert(
      await waitForAsync(async () => {
        status = (await getJson(`${url}v1/status`)).body;
        return (status.consensus as Record<string, number>).last_execution_height >= 3;
      }, 10_000),
      `execution does not follow: ${JSON.stringify(status)}`,
    );
    assertEquals(status.driver, "tally");
    assertEquals(status.driver_capabilities, []);
    assertEquals(status.last_error, null);

    for (const path of ["v1/world", "v1/agents/ada", "v1/journal?from=0&limit=1000"]) {
      const r = await getJson(url + path);
      assertEquals(r.status, 501, path);
      assertEquals([r.body.code, r.body.driver], ["NOT_PROVIDED_BY_DRIVER", "tally"], path);
      assertStringIncludes(String(r.body.error), `driver "tally"`);
    }

    const record = await getJson(`${url}v1/records/1`);
    assertEquals(record.status, 200);
    const block1 = await live.node.blocks.getBlock(1);
    assertEquals(record.body.node_block_hash, block1!.hash);
    assertEquals(record.body.execution_block_hash, `tally-1-${block1!.hash.slice(0, 16)}`);
    assertEquals(record.body.execution_state_root, "count-0");
    assertEquals(record.body.driver, "tally");
    assertEquals((await getJson(`${url}v1/records/999999`)).status, 404);

    // The event stream carries the driver's results.
    const res = await fetch(`${url}v1/events`);
    const reader = res.body!.getReader();
    let text = "";
    try {
      const decoder = new TextDecoder();
      for (let i = 0; i < 200 && !/event: execution\ndata: .*tally-/.test(text); i++) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      await reader.cancel();
    }
    assertStringIncludes(text, "event: execution\ndata: ");
    assertStringIncludes(text, '"execution_block_hash":"tally-');

    // An epoch closes after 32 slots: its report carries the driver's hashes too.
    const epochReport = join(dataDir, "reports", "epoch-0.json");
    assert(
      await waitForAsync(() => Deno.stat(epochReport).then(() => true, () => false), 15_000),
      "epoch 0 never settled",
    );
    const epoch0 = JSON.parse(await Deno.readTextFile(epochReport));
    assertStringIncludes(epoch0.consensus.last_execution_block_hash, "tally-");
    assertStringIncludes(epoch0.consensus.last_execution_state_root, "count-");
  } finally {
    await live.stop();
  }
  try {
    const latest = JSON.parse(await Deno.readTextFile(join(dataDir, "reports", "latest.json")));
    assertStringIncludes(latest.consensus.last_execution_block_hash, "tally-");
    assertEquals(latest.consensus.last_execution_state_root, "count-0");

    const out: string[] = [];
    const program = new Command().exitOverride();
    registerRecordsCommands(program, { out: (l) => out.push(l), err: () => {}, isTerminal: false });
    await program.parseAsync(["records", "verify", "--data-dir", dataDir, "--json"], {
      from: "user",
    });
    const report = JSON.parse(out.join("\n"));
    assertEquals(report.ok, true);
    assertEquals(report.node_results.drivers, ["tally"]);
    assert(report.node_results.heights >= 3, JSON.stringify(report));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(pluginsDir, { recursive: true });
  }
});
