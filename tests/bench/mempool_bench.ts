/**
 * Durable acknowledgement cost of the mempool on a temp dir (real fsync): one
 * single-action submission at a time (one fsync each) beside 64 concurrent ones
 * (group commit: they share a few fsyncs). Goal (issue 8): concurrent submitters
 * do not pay one fsync each.
 * @module
 */
import { Mempool } from "../../src/node/mempool.ts";

async function withPool(fn: (pool: Mempool) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-mempool-bench-" });
  const pool = await Mempool.open({ dataDir, maxSize: 1_000_000 }, 0, () => Promise.resolve(null));
  try {
    await fn(pool);
  } finally {
    await pool.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

let n = 0;

Deno.bench("64 submissions one after another (64 fsyncs)", async (b) => {
  await withPool(async (pool) => {
    b.start();
    for (let i = 0; i < 64; i++) await pool.submit([{ kind: "rest", agent: `a${n++}` }], null);
    b.end();
  });
});

Deno.bench("64 concurrent submissions (group commit)", async (b) => {
  await withPool(async (pool) => {
    b.start();
    await Promise.all(
      Array.from({ length: 64 }, () => pool.submit([{ kind: "rest", agent: `a${n++}` }], null)),
    );
    b.end();
  });
});
