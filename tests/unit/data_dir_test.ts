// The data-dir layout pinned: every path under <data> as the README's "Data directory"
// table shows it. A moved file changes a line here (and must change the README too).
import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import * as layout from "../../src/storage/data_dir.ts";

Deno.test("data dir: every path is where the README's layout table says (golden paths)", () => {
  const d = "/data";
  const paths: Record<string, string> = {
    lock: layout.lockPath(d),
    token: layout.apiTokenPath(d),
    mempool: layout.mempoolDir(d),
    mempoolLog: layout.mempoolLogPath(d),
    nodes: layout.nodesDir(d),
    node: layout.nodeDir(d, "node-1"),
    nodeState: layout.nodeStatePath(d, "node-1"),
    blocks: layout.blocksDir(d, "node-1"),
    resultLog: layout.resultLogDirIn(layout.nodeDir(d, "node-1")),
    signer: layout.signerStatePath(d, "val-2"),
    signerJournal: layout.signerJournalPath(d, "val-2"),
    execution: layout.executionDir(d),
    executionState: layout.executionStatePath(d),
    records: layout.recordsDir(d),
    store: layout.storeDir(d),
    packs: layout.packDir(d),
    driver: layout.driverDir(d, "counter"),
    reward: layout.rewardDir(d),
    ledger: layout.ledgerPath(d),
    reports: layout.reportsDir(d),
  };
  assertEquals(paths, {
    lock: "/data/awr.lock",
    token: "/data/api_token",
    mempool: "/data/mempool",
    mempoolLog: "/data/mempool/actions.log",
    nodes: "/data/node",
    node: "/data/node/node-1",
    nodeState: "/data/node/node-1/node_pos_state.cbor",
    blocks: "/data/node/node-1/blocks",
    resultLog: "/data/node/node-1/execution_results",
    signer: "/data/node/val-2/signer_state.cbor",
    signerJournal: "/data/node/val-2/signer_state.journal",
    execution: "/data/execution",
    executionState: "/data/execution/state.cbor",
    records: "/data/execution/records",
    store: "/data/store",
    packs: "/data/store/packs",
    driver: "/data/drivers/counter",
    reward: "/data/reward",
    ledger: "/data/reward/ledger.cbor",
    reports: "/data/reports",
  });
});

Deno.test("data dir: onlyNodeId names the one node folder, else null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await layout.onlyNodeId(dir), null, "no node folder");
    await Deno.mkdir(join(dir, "node", "node-1"), { recursive: true });
    await Deno.writeTextFile(join(dir, "node", "stray.txt"), "not a node");
    assertEquals(await layout.onlyNodeId(dir), "node-1");
    await Deno.mkdir(join(dir, "node", "node-2"));
    assertEquals(await layout.onlyNodeId(dir), null, "two nodes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
