import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { awrCommand, clusterOptionsFromFlags, runCluster } from "../../src/cli/cluster.ts";
import { CliError } from "../../src/cli/io.ts";
import { AwrError } from "../../src/errors.ts";
import { freeLoopbackPorts } from "../../src/net/cluster.ts";
import {
  childArgs,
  defaultClusterOptions,
  formatClusterStatus,
  MAX_CLUSTER_NODES,
  prepareCluster,
  statusEntry,
} from "../../src/net/cluster_plan.ts";
import { loadValidatorKey, validatorKeyPath } from "../../src/net/keys.ts";

const NET = {
  genesisPath: "/n/genesis.json",
  nodes: ["a", "b", "c"].map((k, i) => ({
    id: `v${i + 1}`,
    dataDir: `/n/node${i + 1}`,
    publicKeyHex: k.repeat(64),
    address: `/ip4/127.0.0.1/tcp/${4000 + i}`,
  })),
};

const FLAGS = {
  nodes: "4",
  dataDir: "net",
  basePort: "26656",
  worldId: "world-1",
  statusEvery: "5000",
  statusTimeoutMs: "2000",
  stopTimeoutMs: "20000",
  logLevel: "warn",
};

Deno.test("cluster: each child's awr live arguments", () => {
  assertEquals(childArgs(NET, 2, 7003, { tickMs: 100, driver: "bridge", liveArgs: ["-x"] }), [
    "live",
    "--data-dir",
    "/n/node3",
    "--genesis",
    "/n/genesis.json",
    "--listen",
    "/ip4/127.0.0.1/tcp/4002",
    "--peers",
    "/ip4/127.0.0.1/tcp/4000,/ip4/127.0.0.1/tcp/4001",
    "--http",
    "127.0.0.1:7003",
    "--status-every",
    "0",
    "--tick-ms",
    "100",
    "--driver",
    "bridge",
    "-x",
  ]);
  // Defaults left to awr live: no --tick-ms, no --driver.
  const plain = childArgs(NET, 0, 7001, { tickMs: null, driver: null, liveArgs: [] });
  assert(!plain.includes("--tick-ms") && !plain.includes("--driver"));
  assertEquals(plain.slice(-4), ["--http", "127.0.0.1:7001", "--status-every", "0"]);
});

Deno.test("cluster: the same awr runs the children (deno run + script, or the binary alone)", () => {
  assertEquals(awrCommand(true, "/usr/local/bin/awr", "file:///ignored/mod.ts"), [
    "/usr/local/bin/awr",
  ]);
  assertEquals(awrCommand(false, "/usr/bin/deno", "file:///src/awr/mod.ts"), [
    "/usr/bin/deno",
    "run",
    "-A",
    "--unstable-worker-options",
    "/src/awr/mod.ts",
  ]);
});

Deno.test("cluster: flags map onto options; --nodes is bounded", () => {
  const o = clusterOptionsFromFlags({ ...FLAGS, tickMs: "50" }, ["awr"]);
  assertEquals([o.nodes, o.tickMs, o.driver, o.awr], [4, 50, null, ["awr"]]);
  assertEquals(o.liveArgs, ["--log-level", "warn"]);
  assertEquals(o.statusTimeoutMs, defaultClusterOptions.statusTimeoutMs);
  assertEquals(
    clusterOptionsFromFlags({ ...FLAGS, nodes: String(MAX_CLUSTER_NODES) }, ["awr"]).nodes,
    MAX_CLUSTER_NODES,
  );
  for (
    const [flags, flag] of [
      [{ ...FLAGS, nodes: String(MAX_CLUSTER_NODES + 1) }, "--nodes"],
      [{ ...FLAGS, nodes: "0" }, "--nodes"],
      [{ ...FLAGS, basePort: "65535" }, "--base-port"],
      [{ ...FLAGS, statusTimeoutMs: "0" }, "--status-timeout-ms"],
    ] as const
  ) {
    const err = assertThrows(() => clusterOptionsFromFlags(flags, ["awr"]), CliError);
    assert(err.message.includes(flag), err.message);
    assertEquals(err.exitCode, 2);
  }
});

Deno.test("cluster: status entries read from /v1/status bodies", () => {
  const body = (peers: unknown) => ({
    consensus: { committed_height: 12, last_execution_height: 11 },
    known_peer_heads: peers,
  });
  assertEquals(statusEntry("v1", body({ v2: 12, v3: 11 })), {
    id: "v1",
    committed: 12,
    executed: 11,
    peers: 2,
  });
  assertEquals((statusEntry("v1", body([{}, {}, {}])) as { peers: number }).peers, 3);
  assertEquals((statusEntry("v1", body(undefined)) as { peers: number }).peers, 0);
  assertEquals(statusEntry("v1", { consensus: {} }), { id: "v1", error: "bad status" });
  assertEquals(statusEntry("v1", null), { id: "v1", error: "bad status" });
});

Deno.test("cluster: the combined status line", () => {
  assertEquals(
    formatClusterStatus([
      { id: "v1", committed: 120, executed: 119, peers: 3 },
      { id: "v2", committed: 118, executed: 118, peers: 3 },
      { id: "v3", error: "timeout" },
    ]),
    "cluster: committed 118..120 executed 118..119 | v1 120/119 p3 | v2 118/118 p3 | v3 down (timeout)",
  );
  assertEquals(
    formatClusterStatus([{ id: "v1", error: "starting" }]),
    "cluster: committed - executed - | v1 down (starting)",
  );
});

Deno.test("cluster: free loopback ports are distinct", () => {
  const ports = freeLoopbackPorts(8);
  assertEquals(new Set(ports).size, 8);
  assert(ports.every((p) => p > 0 && p < 65536));
});

Deno.test("cluster: an empty folder gets genesis init; a reused one is checked", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-cluster-" });
  try {
    const dir = join(tmp, "net");
    const o = { nodes: 3, dataDir: dir, basePort: 41000, worldId: "cw" };
    const first = await prepareCluster(o);
    assert(first.created);
    assertEquals(first.net.nodes.map((n) => n.address), [
      "/ip4/127.0.0.1/tcp/41000",
      "/ip4/127.0.0.1/tcp/41001",
      "/ip4/127.0.0.1/tcp/41002",
    ]);
    const again = await prepareCluster(o);
    assert(!again.created);
    assertEquals(again.net, first.net);
    const key2 = await loadValidatorKey(validatorKeyPath(join(dir, "node2")));
    assertEquals(again.net.nodes[1].publicKeyHex, key2.publicKeyHex);

    const wrongCount = await assertRejects(() => prepareCluster({ ...o, nodes: 4 }), AwrError);
    assertEquals(wrongCount.code, "CLUSTER_DIR");
    assert(wrongCount.message.includes(dir) && wrongCount.message.includes("3 validators"));

    // node2's key swapped for node3's: refused, naming the key file.
    await Deno.remove(validatorKeyPath(join(dir, "node2")));
    await Deno.copyFile(
      validatorKeyPath(join(dir, "node3")),
      validatorKeyPath(join(dir, "node2")),
    );
    const swapped = await assertRejects(() => prepareCluster(o), AwrError);
    assertEquals(swapped.code, "CLUSTER_DIR");
    assert(swapped.message.includes(validatorKeyPath(join(dir, "node2"))), swapped.message);

    const other = join(tmp, "other");
    await Deno.mkdir(other);
    await Deno.writeTextFile(join(other, "x"), "");
    const notCluster = await assertRejects(
      () => prepareCluster({ ...o, dataDir: other }),
      AwrError,
    );
    assertEquals(notCluster.code, "CLUSTER_DIR");
    assert(notCluster.message.includes(other));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("cluster: an awr program that cannot start is named; nothing is left running", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "awr-cluster-" });
  try {
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
      isTerminal: false,
    };
    const o = {
      ...defaultClusterOptions,
      nodes: 2,
      dataDir: join(tmp, "net"),
      awr: [join(tmp, "no-such-awr")],
    };
    const err = await assertRejects(() => runCluster(o, io, () => () => {}), CliError);
    assert(err.message.includes(`cannot start ${join(tmp, "no-such-awr")}`), err.message);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
