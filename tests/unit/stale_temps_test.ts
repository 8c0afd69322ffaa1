import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { startLiveNode } from "../../src/live/live.ts";
import { ensureDirDurable, removeStaleTemps, writeFileAtomic } from "../../src/storage/atomic.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { waitFor } from "../support/hooks.ts";

const STALE = [".f.cbor.4242.7.tmp", ".f.cbor.4242-0badf00d.7.tmp"];

async function plant(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const name of STALE) await Deno.writeFile(join(dir, name), new Uint8Array([1]));
}

async function temps(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) out.push(e.name);
  return out.sort();
}

Deno.test("stale temps: every folder the live node writes is cleaned at open or first use", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-temps-" });
  const opts = {
    dataDir,
    http: null,
    tickMs: 10,
    statusEveryMs: 0,
    rewardIntervalMs: 20,
  } as const;
  try {
    let live = await startLiveNode(opts);
    assert(await waitFor(() => live.node.snapshot().consensus.lastExecutionHeight >= 3, 10_000));
    await live.stop();
    const nodeDir = join(dataDir, "node", "node-1");
    const folders = [
      dataDir,
      nodeDir,
      join(nodeDir, "blocks", "0000000000"),
      join(dataDir, "execution"),
      join(dataDir, "execution", "records"),
      join(dataDir, "reports"),
      join(dataDir, "reward"),
      join(dataDir, "mempool"),
    ];
    for (const d of folders) await plant(d);
    live = await startLiveNode(opts);
    const h = live.node.snapshot().consensus.committedHeight;
    assert(await waitFor(() => live.node.snapshot().consensus.committedHeight >= h + 2, 10_000));
    await live.stop();
    for (const d of folders) assertEquals(await temps(d), [], d);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("stale temps: a CAS shard is cleaned on first use; temps in flight and other files stay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-temps-cas-" });
  try {
    const bytes = new TextEncoder().encode("blob");
    const h = hashHex(bytes);
    const shard = join(dir, h.slice(0, 2), h.slice(2, 4));
    await plant(shard);
    await Deno.writeFile(join(shard, "keep.tmp"), new Uint8Array([1])); // not our temp name
    await new CasStore(dir).putHashed([{ hash: h, bytes }]);
    assertEquals(await temps(shard), ["keep.tmp"]);
    assertEquals(await removeStaleTemps(join(dir, "missing")), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureDirDurable creates missing folders outermost first; atomic writes use it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-mkdir-" });
  try {
    const created = await ensureDirDurable(join(dir, "a", "b"));
    assertEquals(created, [join(dir, "a"), join(dir, "a", "b")]);
    assertEquals(await ensureDirDurable(join(dir, "a", "b")), []);
    await writeFileAtomic(join(dir, "c", "d", "f.cbor"), new Uint8Array([1]));
    assertEquals(await Deno.readFile(join(dir, "c", "d", "f.cbor")), new Uint8Array([1]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stale temps: one scan looks at no more than maxEntries entries (bounded start-up work)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-temps-cap-" });
  try {
    for (let i = 0; i < 5; i++) {
      await Deno.writeFile(join(dir, `.r${i}.cbor.4242.1.tmp`), new Uint8Array([1]));
    }
    assertEquals(await removeStaleTemps(dir, 2), 2);
    assertEquals((await temps(dir)).length, 3);
    assertEquals(await removeStaleTemps(dir), 3);
    assertEquals(await temps(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
