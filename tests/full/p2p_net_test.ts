/**
 * Four validators as separate `awr live` processes on 127.0.0.1, connected by libp2p:
 * they commit identical blocks; with one SIGKILLed the other three keep committing;
 * restarted, it syncs and agrees; a fresh non-validator node with only the genesis
 * syncs the chain; an action posted to node 3 is committed exactly once on every node.
 * Every wait is bounded; every process is stopped at the end.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { type LiveProcess, pollUntil, spawnLive } from "../support/live_process.ts";
import {
  addr,
  assertAgree,
  blockHashes as hashes,
  committed,
  freeBase,
  initGenesis,
  minExecuted,
  minHeight,
  networkArgs,
} from "../support/p2p_net.ts";
import { BlockStore } from "../../src/node/block_store.ts";

const WAIT_MS = 180_000;

async function actionCount(dataDir: string, nodeId: string, upTo: number, agent: string) {
  const store = new BlockStore(join(dataDir, "node", nodeId, "blocks"));
  let n = 0;
  for (let h = 1; h <= upTo; h++) {
    const b = await store.getBlock(h);
    n += b?.actions.filter((a) => a.agent === agent).length ?? 0;
  }
  return n;
}

Deno.test("p2p network: 4 validator processes agree, survive a SIGKILL, resync, a follower joins, an action lands once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-p2p-net-" });
  const base = freeBase(5);
  const genesis = await initGenesis(dir, 4, base, "p2p-full");
  const dataDir = (i: number) => join(dir, "net", `node${i}`);
  const all = [0, 1, 2, 3, 4].map((i) => addr(base + i));
  const args = (i: number) => [
    ...networkArgs(genesis, all, i),
    "--tick-ms",
    "100",
    "--status-every",
    "0",
    "--log-level",
    "error",
  ];
  const procs: (LiveProcess | null)[] = [];
  try {
    for (let i = 0; i < 4; i++) procs.push(await spawnLive(dataDir(i + 1), args(i)));
    const live = () => procs.filter((p): p is LiveProcess => p !== null);

    // 1. They commit together, with identical block hashes.
    await pollUntil(
      "4 validators commit 5 heights",
      async () => await minHeight(live()) >= 5,
      WAIT_MS,
    );
    const h1 = await minHeight(live());
    const ref = await hashes(dataDir(1), "v1", h1);
    for (let i = 2; i <= 4; i++) assertEquals(await hashes(dataDir(i), `v${i}`, h1), ref);

    // 2. SIGKILL validator 4: the other three (> 2/3 of the stake) keep committing.
    procs[3]!.child.kill("SIGKILL");
    await procs[3]!.stop(1_000);
    procs[3] = null;
    const atKill = await minHeight(live());
    await pollUntil(
      "3 validators commit 3 more heights",
      async () => await minHeight(live()) >= atKill + 3,
      WAIT_MS,
    );

    // 3. Restarted, it syncs the heights it missed and agrees.
    procs[3] = await spawnLive(dataDir(4), args(3));
    const target = await committed(procs[0]!);
    await pollUntil(
      "restarted v4 syncs",
      async () => await committed(procs[3]!) >= target,
      WAIT_MS,
    );
    assertEquals(await hashes(dataDir(4), "v4", target), await hashes(dataDir(1), "v1", target));
    // ...executes the heights it missed and agrees on every state root.
    await pollUntil("all executed", async () => await minExecuted(live()) >= target, WAIT_MS);
    const validators = [1, 2, 3, 4].map((i) => ({ dataDir: dataDir(i), id: `v${i}` }));
    await assertAgree(validators, target);

    // 4. A fresh non-validator node with only the genesis syncs the chain.
    const followerDir = join(dir, "follower");
    const follower = await spawnLive(followerDir, args(4));
    procs.push(follower);
    const target2 = await committed(procs[0]!);
    await pollUntil(
      "the follower syncs",
      async () => await committed(follower) >= target2,
      WAIT_MS,
    );
    assertEquals(
      await hashes(followerDir, "node-1", target2),
      await hashes(dataDir(1), "v1", target2),
    );
    const st = await follower.status();
    const c = st.consensus as { network_committed_height: number; known_peer_heads: object };
    assert(c.network_committed_height >= target2);
    assert(Object.keys(c.known_peer_heads).length >= 1);

    // 5. An action posted to node 3 is committed exactly once, on every node.
    const posted = await procs[2]!.post({ kind: "register", agent: "p2p-ada" });
    assertEquals(posted.status, 202, JSON.stringify(posted.body));
    const nodes: [string, string][] = [
      [dataDir(1), "v1"],
      [dataDir(2), "v2"],
      [dataDir(3), "v3"],
      [dataDir(4), "v4"],
      [followerDir, "node-1"],
    ];
    const counts = async () => {
      const h = await minHeight(live());
      return await Promise.all(nodes.map(([d, id]) => actionCount(d, id, h, "p2p-ada")));
    };
    await pollUntil(
      "the action is committed on all nodes",
      async () => (await counts()).every((n) => n >= 1),
      WAIT_MS,
    );
    // A few more heights: nobody proposes it again.
    const now = await minHeight(live());
    await pollUntil("3 more heights", async () => await minHeight(live()) >= now + 3, WAIT_MS);
    assertEquals(await counts(), [1, 1, 1, 1, 1]);
  } finally {
    await Promise.all(procs.map((p) => p?.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
