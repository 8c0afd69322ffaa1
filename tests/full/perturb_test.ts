/**
 * Perturbations of a 4-validator network of separate `awr live` processes on
 * 127.0.0.1, as CometBFT's end-to-end suite does them (pause, disconnect, kill,
 * restart), in sequence on one network:
 *
 * 1. SIGSTOP one validator for 10 s, SIGCONT: it catches up.
 * 2. A link proxy cuts one validator's links for 10 s, then restores them: it catches up.
 * 3. Two of four (equal stake) SIGKILLed: commits stop, no node commits a conflicting
 *    block; restarted, progress resumes.
 *
 * Every link goes through its own {@link LinkProxy} (node i reaches node j at proxy
 * (i→j): node i's copy of the genesis names it as j's address), so cutting node k
 * closes the proxies (k→*) and (*→k). After each scenario every node holds identical
 * block hashes and execution state roots at every common height (read from its data
 * dir). Every wait is bounded; every process and proxy is stopped at the end.
 */
import { assert } from "@std/assert";
import { join } from "@std/path";
import { type LiveProcess, pollUntil, spawnLive } from "../support/live_process.ts";
import { LinkProxy } from "../support/link_proxy.ts";
import {
  addr,
  assertAgree,
  assertNoConflict,
  committed,
  freeBase,
  initGenesis,
  maxHeight,
  minExecuted,
  minHeight,
} from "../support/p2p_net.ts";

const WAIT_MS = 180_000;
const PERTURB_MS = 10_000;
/** Observation window in which two of four validators must not commit. */
const STALL_MS = 8_000;
const N = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

Deno.test("perturbations: pause, link cut, two killed; each time the network recovers and agrees", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-perturb-" });
  const base = freeBase(N);
  const genesisPath = await initGenesis(dir, N, base, "perturb");
  const genesis = JSON.parse(await Deno.readTextFile(genesisPath));
  // proxies[i][j]: node i's link to node j.
  const proxies: (LinkProxy | null)[][] = [];
  for (let i = 0; i < N; i++) {
    proxies.push([]);
    for (let j = 0; j < N; j++) proxies[i].push(i === j ? null : LinkProxy.start(base + j));
  }
  const dataDir = (i: number) => join(dir, "net", `node${i + 1}`);
  const nodes = [0, 1, 2, 3].map((i) => ({ dataDir: dataDir(i), id: `v${i + 1}` }));
  for (let i = 0; i < N; i++) {
    const own = structuredClone(genesis);
    own.validators.forEach((v: { address: string }, j: number) => {
      if (j !== i) v.address = addr(proxies[i][j]!.port);
    });
    await Deno.writeTextFile(join(dir, `genesis-v${i + 1}.json`), JSON.stringify(own));
  }
  const args = (i: number) => [
    "--genesis",
    join(dir, `genesis-v${i + 1}.json`),
    "--listen",
    addr(base + i),
    "--tick-ms",
    "100",
    "--status-every",
    "0",
    "--log-level",
    "warn",
  ];
  const procs: (LiveProcess | null)[] = [];
  const others = (k: number) => procs.filter((p, i): p is LiveProcess => i !== k && p !== null);
  const linksOf = (k: number) =>
    proxies.flatMap((row, i) => row.filter((p, j) => p !== null && (i === k || j === k)));
  try {
    for (let i = 0; i < N; i++) procs.push(await spawnLive(dataDir(i), args(i)));
    const all = () => procs.filter((p): p is LiveProcess => p !== null);
    await pollUntil(
      "4 validators commit 3 heights",
      async () => await minHeight(all()) >= 3,
      WAIT_MS,
    );

    // 1. Pause v2 for 10 s: the others keep committing; resumed, it catches up.
    const paused = procs[1]!;
    paused.child.kill("SIGSTOP");
    const atPause = await maxHeight(others(1));
    await sleep(PERTURB_MS);
    await pollUntil(
      "3 validators commit while v2 is paused",
      async () => await minHeight(others(1)) >= atPause + 2,
      WAIT_MS,
    );
    paused.child.kill("SIGCONT");
    let resumed = performance.now();
    let target = await maxHeight(others(1));
    await pollUntil(
      "resumed v2 catches up",
      async () => await committed(paused) >= target,
      WAIT_MS,
    );
    const caughtUp = seconds(resumed);
    await pollUntil("all executed", async () => await minExecuted(all()) >= target, WAIT_MS);
    const afterPause = await assertAgree(nodes, target);
    console.log(
      `pause: v2 paused at ${atPause}, reached ${target} ${caughtUp} s after SIGCONT; ${afterPause} agree`,
    );

    // 2. Cut v3's links for 10 s: it falls behind, alone; restored, it catches up.
    const cutNode = procs[2]!;
    for (const p of linksOf(2)) p!.cut();
    const atCut = await committed(cutNode);
    await pollUntil(
      "v3 has no peer",
      async () =>
        ((await cutNode.status()).p2p as { connected_peers: number }).connected_peers === 0,
      WAIT_MS,
    );
    const othersAtCut = await maxHeight(others(2));
    await sleep(PERTURB_MS);
    await pollUntil(
      "3 validators commit while v3 is cut off",
      async () => await minHeight(others(2)) >= othersAtCut + 2,
      WAIT_MS,
    );
    // A height in flight at the cut may still complete; nothing more can.
    const cutHeight = await committed(cutNode);
    assert(cutHeight <= atCut + 1, `v3 committed ${atCut} → ${cutHeight} while cut off`);
    for (const p of linksOf(2)) p!.restore();
    resumed = performance.now();
    target = await maxHeight(others(2));
    await pollUntil(
      "reconnected v3 catches up",
      async () => await committed(cutNode) >= target,
      WAIT_MS,
    );
    const reconnected = seconds(resumed);
    await pollUntil("all executed", async () => await minExecuted(all()) >= target, WAIT_MS);
    const afterCut = await assertAgree(nodes, target);
    console.log(
      `cut: v3 stayed at ${cutHeight}, reached ${target} ${reconnected} s after restore; ${afterCut} agree`,
    );

    // 3. SIGKILL v3 and v4 (half the stake): v1 and v2 cannot commit, nothing conflicts.
    const atKill = await maxHeight(all());
    for (const k of [2, 3]) {
      procs[k]!.child.kill("SIGKILL");
      await procs[k]!.stop(1_000);
      procs[k] = null;
    }
    // Over the whole window, at most the height whose precommits were already out at
    // the kill completes: any further height would need a third validator's vote.
    let stalled = atKill;
    for (let t = 0; t < STALL_MS; t += STALL_MS / 4) {
      await sleep(STALL_MS / 4);
      stalled = await maxHeight(all());
      assert(stalled <= atKill + 1, `two of four validators committed ${atKill} → ${stalled}`);
    }
    const compared = await assertNoConflict(nodes, stalled);
    assert(compared >= atKill, `compared ${compared} heights`);
    // Restarted, both sync and the network commits again.
    resumed = performance.now();
    for (const k of [2, 3]) procs[k] = await spawnLive(dataDir(k), args(k));
    await pollUntil(
      "progress resumes with 4 validators",
      async () => await minHeight(all()) >= stalled + 3,
      WAIT_MS,
    );
    const progressed = seconds(resumed);
    await pollUntil("all executed", async () => await minExecuted(all()) >= stalled + 3, WAIT_MS);
    const afterKill = await assertAgree(nodes, stalled + 3);
    console.log(
      `kill: stalled at ${stalled} (killed at ${atKill}), 3 more heights ${progressed} s after restart; ${afterKill} agree`,
    );
  } catch (err) {
    // What each node says, for the failure report (a paused node is resumed first).
    for (const [i, p] of procs.entries()) {
      if (!p) continue;
      try {
        p.child.kill("SIGCONT");
        const s = await p.status();
        const c = s.consensus as { committed_height: number; last_status: string };
        const net = s.p2p as { connected_peers: number; sync: unknown };
        console.log(
          `v${
            i + 1
          }: committed ${c.committed_height} ${c.last_status} peers ${net.connected_peers}`,
          JSON.stringify(net.sync),
          s.last_error,
        );
        console.log(p.logLines.slice(-10).join("\n"));
      } catch { /* exited */ }
    }
    throw err;
  } finally {
    for (const p of procs) {
      try {
        p?.child.kill("SIGCONT");
      } catch { /* exited */ }
    }
    await Promise.all(procs.map((p) => p?.stop()));
    await Promise.all(proxies.flat().map((p) => p?.close()));
    await Deno.remove(dir, { recursive: true });
  }
});
