/**
 * Full tier: ≥ 2,000 simulator seeds mixing 4, 7 and 10 validators with up to f
 * Byzantine, 0 violations. Seeds run in two workers (the machine has 2 cores).
 * Heights per seed are reduced (4 → 8, 7 → 6, 10 → 5 heights) to stay near 5 minutes.
 */
import { assertEquals, assertGreater } from "@std/assert";

const FIRST_SEED = 1;
const SEEDS = 2000;
const WORKERS = 2;

interface WorkerResult {
  counts: Record<string, number>;
  violations: string[];
  byzantineRuns: number;
}

function runWorker(seeds: number[]): Promise<WorkerResult> {
  const w = new Worker(new URL("./_sim_worker.ts", import.meta.url), { type: "module" });
  return new Promise<WorkerResult>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<WorkerResult>) => resolve(e.data);
    w.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
    w.postMessage({ seeds });
  }).finally(() => w.terminate());
}

Deno.test(`simulator: ${SEEDS} seeds × {4, 7, 10} validators with up to f Byzantine, 0 violations`, async () => {
  const started = performance.now();
  const parts = Array.from(
    { length: WORKERS },
    (_, k) =>
      Array.from({ length: SEEDS }, (_, i) => FIRST_SEED + i).filter((s) => s % WORKERS === k),
  );
  const results = await Promise.all(parts.map(runWorker));
  const counts: Record<string, number> = {};
  let byzantineRuns = 0;
  const violations: string[] = [];
  for (const r of results) {
    for (const [n, c] of Object.entries(r.counts)) counts[n] = (counts[n] ?? 0) + c;
    byzantineRuns += r.byzantineRuns;
    violations.push(...r.violations);
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `seeds ${FIRST_SEED}..${FIRST_SEED + SEEDS - 1}: ${counts[4]} × 4 validators, ${
      counts[7]
    } × 7, ` +
      `${counts[10]} × 10; ${byzantineRuns} with Byzantine validators; ` +
      `${SEEDS} seeds, ${violations.length} violations (${secs} s)`,
  );
  for (const v of violations.slice(0, 3)) console.log(v);
  assertEquals(violations.length, 0);
  assertEquals(counts[4] + counts[7] + counts[10], SEEDS);
  assertGreater(byzantineRuns, SEEDS / 3);
});
