/**
 * Execution divergence on a 4-validator network of separate `awr live` processes on
 * 127.0.0.1: every node runs the divergeable counting driver; v3's returns a different
 * state root from height D on (`<data>/drivers/counting/diverge_at`). v3 reports its
 * own divergence (status `divergence`, metric `awr_execution_diverged 1`), the others
 * list it (`diverged_validators`, `known_peer_heads.v3.diverged`) within 5 heights of
 * D and keep committing; they agree on every block hash and state root, and v3 agrees
 * with them below D. Every wait is bounded; every process is stopped at the end.
 */
import { assert, assertEquals } from "@std/assert";
import { dirname, join } from "@std/path";
import { type LiveProcess, pollUntil, spawnLive } from "../support/live_process.ts";
import { divergeMarker, writeCountingDriver } from "../support/drivers.ts";
import {
  addr,
  assertAgree,
  chainOf,
  committed,
  freeBase,
  initGenesis,
  minHeight,
  networkArgs,
} from "../support/p2p_net.ts";

const WAIT_MS = 180_000;
const N = 4;
/** First height at which v3's driver returns another state root. */
const D = 8;
/** Heights after D within which every node must have reported the divergence. */
const WITHIN = 5;

interface Status {
  consensus: { committed_height: number; known_peer_heads: Record<string, { diverged: boolean }> };
  divergence: { height: number; own_root: string; network_root: string } | null;
  diverged_validators: { validator: string; height: number }[];
}

Deno.test("divergence: a validator with another state root is reported by itself and by the others within 5 heights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-diverge-net-" });
  const base = freeBase(N);
  const genesis = await initGenesis(dir, N, base, "diverge-net");
  const plugins = join(dir, "plugins");
  await Deno.mkdir(plugins);
  await writeCountingDriver(plugins, "counting.js", { name: "counting", divergeable: true });
  const dataDir = (i: number) => join(dir, "net", `node${i + 1}`);
  await Deno.mkdir(dirname(divergeMarker(dataDir(2), "counting")), { recursive: true });
  await Deno.writeTextFile(divergeMarker(dataDir(2), "counting"), `${D}\n`);
  const all = [0, 1, 2, 3].map((i) => addr(base + i));
  const args = (i: number) => [
    ...networkArgs(genesis, all, i),
    "--driver",
    "counting",
    "--plugins-dir",
    plugins,
    "--tick-ms",
    "100",
    "--status-every",
    "0",
    "--log-level",
    "error",
  ];
  const procs: LiveProcess[] = [];
  try {
    for (let i = 0; i < N; i++) procs.push(await spawnLive(dataDir(i), args(i)));
    const honest = [procs[0], procs[1], procs[3]];
    const status = async (p: LiveProcess) => await p.status() as unknown as Status;
    // Committed height at which each node first reported the divergence (polled).
    const seenAt = new Map<number, number>();
    const seen = (s: Status, i: number) =>
      i === 2 ? s.divergence !== null : s.diverged_validators.some((v) => v.validator === "v3") &&
        s.consensus.known_peer_heads.v3?.diverged === true;
    await pollUntil("every node reports v3 diverged", async () => {
      await Promise.all(procs.map(async (p, i) => {
        if (seenAt.has(i)) return;
        const s = await status(p);
        if (seen(s, i)) seenAt.set(i, s.consensus.committed_height);
      }));
      return seenAt.size === N;
    }, WAIT_MS);
    console.log(
      `divergence from ${D} reported at heights ${[0, 1, 2, 3].map((i) => seenAt.get(i))}`,
    );
    for (const [i, h] of seenAt) {
      assert(h <= D + WITHIN, `v${i + 1} reported the divergence only at height ${h} (D = ${D})`);
    }

    // v3 names the height and both roots, and says so in /metrics.
    const s3 = await status(procs[2]);
    assert(s3.divergence !== null);
    assert(s3.divergence.height >= D && s3.divergence.height <= D + WITHIN);
    assert(s3.divergence.own_root !== s3.divergence.network_root);
    const metrics = await (await fetch(`${procs[2].url}metrics`)).text();
    assert(/^awr_execution_diverged 1$/m.test(metrics), metrics);
    const m1 = await (await fetch(`${procs[0].url}metrics`)).text();
    assert(/^awr_execution_diverged 0$/m.test(m1), m1);
    for (const p of honest) {
      const s = await status(p);
      assertEquals(s.divergence, null);
      assertEquals(s.diverged_validators.map((v) => v.validator), ["v3"]);
      const h = s.diverged_validators[0].height;
      assert(h >= D && h <= D + WITHIN, `claim height ${h}`);
    }

    // The others keep committing without v3's votes.
    const now = await minHeight(honest);
    await pollUntil(
      "3 validators keep committing",
      async () => await minHeight(honest) >= now + 3,
      WAIT_MS,
    );
    const honestNodes = [0, 1, 3].map((i) => ({ dataDir: dataDir(i), id: `v${i + 1}` }));
    await assertAgree(honestNodes, now);
    // v3 holds the same blocks; its roots agree below D and differ from D on.
    const ref = await chainOf(dataDir(0), "v1");
    const v3 = await chainOf(dataDir(2), "v3", await committed(procs[2]));
    assert(v3.length >= D, `v3 executed only ${v3.length} heights`);
    for (let h = 1; h <= v3.length && h <= ref.length; h++) {
      assertEquals(v3[h - 1].hash, ref[h - 1].hash, `block ${h}`);
      if (h < D) assertEquals(v3[h - 1].root, ref[h - 1].root, `root ${h}`);
      else assert(v3[h - 1].root !== ref[h - 1].root, `root ${h} should differ`);
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});
