import { assert, assertEquals, assertGreater, assertLess, assertMatch } from "@std/assert";
import { runCli } from "../../src/cli/main.ts";
import {
  blockId,
  simPublicKey,
  simSigner,
  simVerifier,
  voteSignBytes,
} from "../../src/consensus/bft/signing.ts";
import type { BftBlock, BftCommit, BftMessage } from "../../src/consensus/bft/types.ts";
import { BftValidatorSet } from "../../src/consensus/bft/validators.ts";
import { InvariantChecker } from "../../src/sim/invariants.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { defaultFaults } from "../../src/sim/options.ts";
import { Prng } from "../../src/sim/prng.ts";
import { EventQueue } from "../../src/sim/queue.ts";
import { runSimulation, type SimResult } from "../../src/sim/simulator.ts";

function firstViolation(
  seeds: number,
  run: (seed: number) => SimResult,
): { seed: number; result: SimResult } | null {
  for (let seed = 1; seed <= seeds; seed++) {
    const result = run(seed);
    if (result.violation !== null) return { seed, result };
  }
  return null;
}

Deno.test("50 seeds × 4 validators × 30 heights with faults (and a Byzantine on odd seeds): 0 violations", () => {
  let evidence = 0;
  let crashes = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const r = runSimulation({ seed, nodes: 4, heights: 30, byzantine: seed % 2 });
    assertEquals(r.violation, null, `seed ${seed}: ${r.violation}\n${r.trace.join("\n")}`);
    const honest = 4 - (seed % 2);
    // Every honest node committed every height.
    for (let i = 1; i <= 4; i++) {
      const id = `v0${i}`;
      if (r.byzantine.some((b) => b.startsWith(id))) continue;
      assert(r.commits.filter((c) => c.node === id).length >= 30, `seed ${seed}: ${id} behind`);
    }
    assert(r.stats.commits >= honest * 30);
    evidence += r.stats.evidenceCommitted;
    crashes += r.stats.crashes;
  }
  assertGreater(evidence, 0, "equivocation evidence reached committed blocks");
  assertGreater(crashes, 0, "crashes were exercised");
});

Deno.test("the simulator catches a engine with the locking rule disabled (agreement violation)", () => {
  const found = firstViolation(
    40,
    (seed) =>
      runSimulation({
        seed,
        nodes: 4,
        heights: 30,
        byzantine: 1,
        byzantineMode: "split",
        unsafeDisableLocking: true,
      }),
  );
  assert(found !== null, "no violation within 40 seeds");
  assertMatch(found.result.violation as string, /^agreement: /);
  assertGreater(found.result.trace.length, 0);
  // The same engine with locking on survives the same seed.
  const fixed = runSimulation({
    seed: found.seed,
    nodes: 4,
    heights: 30,
    byzantine: 1,
    byzantineMode: "split",
  });
  assertEquals(fixed.violation, null);
});

Deno.test("the simulator catches a signer that forgets its persisted state on restart (double sign)", () => {
  const found = firstViolation(
    20,
    (seed) => runSimulation({ seed, nodes: 4, heights: 30, forgetSignerStateOnRestart: true }),
  );
  assert(found !== null, "no violation within 20 seeds");
  assertMatch(found.result.violation as string, /^double sign: honest /);
  assertEquals(runSimulation({ seed: found.seed, nodes: 4, heights: 30 }).violation, null);
});

Deno.test("restart safety: crashes between persisting and sending never produce a double sign", () => {
  let crashes = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const r = runSimulation({
      seed,
      nodes: 4,
      heights: 20,
      faults: { ...defaultFaults, midStepCrashRate: 0.03 },
    });
    assertEquals(r.violation, null, `seed ${seed}: ${r.violation}`);
    crashes += r.stats.crashes;
  }
  assertGreater(crashes, 20);
});

Deno.test("liveness: with 1 of 4 partitioned for 30 simulated seconds the 3 keep committing, then it catches up", () => {
  const r = runSimulation({
    seed: 3,
    nodes: 4,
    heights: 120,
    faults: null,
    partitions: [{ fromMs: 5_000, toMs: 35_000, isolated: ["v04"] }],
  });
  assertEquals(r.violation, null, `${r.violation}\n${r.trace.join("\n")}`);
  const during = (id: string) =>
    r.commits.filter((c) => c.node === id && c.timeMs >= 6_000 && c.timeMs < 35_000);
  assertGreater(during("v01").length, 20);
  assertGreater(during("v02").length, 20);
  assertEquals(during("v04").length, 0);
  const v04 = r.commits.filter((c) => c.node === "v04");
  assertEquals(v04.at(-1)?.height, 120);
  // Caught up soon after the heal (catch-up commits: 16 heights per gossip tick).
  assertLess(v04.at(-1)?.timeMs as number, 35_000 + 20_000);
});

Deno.test("a run is a pure function of its options (same seed → same digest, trace and counters)", () => {
  const a = runSimulation({ seed: 11, nodes: 7, heights: 8, byzantine: 2 });
  const b = runSimulation({ seed: 11, nodes: 7, heights: 8, byzantine: 2 });
  assertEquals(a.violation, null);
  assertEquals([a.digest, a.stats, a.commits], [b.digest, b.stats, b.commits]);
  const c = runSimulation({ seed: 12, nodes: 7, heights: 8, byzantine: 2 });
  assert(c.digest !== a.digest);
});

Deno.test("bounds: the event budget ends a stuck run as a liveness violation; the trace is capped", () => {
  const r = runSimulation({ seed: 1, nodes: 4, heights: 30, maxEvents: 200, traceLines: 25 });
  assertMatch(r.violation as string, /^liveness: event budget of 200 exhausted/);
  assertEquals(r.trace.length, 25);
});

function capture(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    isTerminal: false,
  };
}

Deno.test("awr sim --seed 7 --nodes 4 --heights 50 twice prints identical output ending '1 seeds, 0 violations'", async () => {
  const one = capture();
  const two = capture();
  const args = ["sim", "--seed", "7", "--nodes", "4", "--heights", "50"];
  assertEquals(await runCli(args, one), 0);
  assertEquals(await runCli(args, two), 0);
  assertEquals(one.lines, two.lines);
  assertEquals(one.lines.at(-1), "1 seeds, 0 violations");
  assertMatch(one.lines[0], /^seed 7 nodes 4 heights 50 byzantine 0: ok, commits \d+/);
  const bad = capture();
  assertEquals(await runCli(["sim", "--nodes", "4", "--byzantine", "2"], bad), 2);
  assertMatch(bad.lines.join("\n"), /--byzantine must be at most 1 for 4 nodes/);
});

Deno.test("prng and event queue are deterministic", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  assertEquals(xs, Array.from({ length: 5 }, () => b.next()));
  assert(new Prng(43).next() !== xs[0]);
  const q = new EventQueue<string>();
  q.push(5, "c");
  q.push(1, "a");
  q.push(5, "d");
  q.push(3, "b");
  assertEquals([q.pop()?.item, q.pop()?.item, q.pop()?.item, q.pop()?.item], ["a", "b", "c", "d"]);
});

Deno.test("invariant checker: flags a short certificate, two blocks at one height, and a double sign", () => {
  const W = "inv";
  const ids = ["a", "b", "c", "d"];
  const set = new BftValidatorSet(
    ids.map((id) => ({ id, publicKey: simPublicKey(W, id), stake: 1 })),
  );
  const checker = new InvariantChecker(W, set, simVerifier(W));
  const mk = (payload: string, signers: string[]): BftCommit => {
    const block: BftBlock = { height: 1, parent: "genesis", proposer: "a", payload, evidence: [] };
    const id = blockId(block);
    const precommits = signers.map((v) => {
      const vote = { type: "precommit" as const, height: 1, round: 0, block: id, validator: v };
      return { vote, signature: simSigner(W, v).sign(voteSignBytes(W, vote)) };
    });
    return { block, blockId: id, certificate: { height: 1, round: 0, block: id, precommits } };
  };
  assertMatch(checker.onCommit("a", 1, mk("x", ["a", "b"])) as string, /^validity: .*not > 2\/3/);
  assertEquals(checker.onCommit("a", 1, mk("x", ["a", "b", "c"])), null);
  assertMatch(checker.onCommit("b", 1, mk("y", ["b", "c", "d"])) as string, /^agreement: /);
  const vote = (block: string | null): BftMessage => {
    const v = { type: "prevote" as const, height: 2, round: 1, block, validator: "c" };
    return { kind: "vote", vote: v, signature: simSigner(W, "c").sign(voteSignBytes(W, v)) };
  };
  assertEquals(checker.onSigned("c", vote(null)), null);
  assertEquals(checker.onSigned("c", vote(null)), null); // identical re-sign is fine
  assertMatch(checker.onSigned("c", vote("ab".repeat(32))) as string, /^double sign: honest c/);
});
