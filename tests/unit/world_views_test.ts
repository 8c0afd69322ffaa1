import { assertEquals } from "@std/assert";
import { journalBlob } from "../../src/state/manifest.ts";
import { type ExecutionRecord, writeRecord } from "../../src/execution/records.ts";
import { journalAt } from "../../src/execution/world_views.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { join } from "@std/path";

// Heights 1..10; height h holds h % 3 events (0, 1, 2, 0, 1, 2, …), so some heights are empty.
async function journalChain(dataDir: string, cas: CasStore): Promise<number> {
  let len = 0;
  for (let h = 1; h <= 10; h++) {
    const events = Array.from({ length: h % 3 }, (_, i) => ({ kind: "rest", agent: `a${h}-${i}` }));
    const seg = journalBlob({ worldId: "w", height: h, firstIndex: len, events: events as never });
    await cas.put(seg.bytes);
    len += events.length;
    const r: ExecutionRecord = {
      worldId: "w",
      height: h,
      nodeBlockHash: "00".repeat(32),
      executionBlockHash: "11".repeat(32),
      prevExecutionBlockHash: "genesis",
      executionStateRoot: "22".repeat(32),
      journalLen: len,
      manifestRef: "22".repeat(32),
      journalRef: seg.hash,
      timestampMs: 0,
      hash: "blake3",
    };
    await writeRecord(dataDir, r, false);
  }
  return len;
}

Deno.test("journal pages: from/limit over heights with and without events; a page walks at most maxHeights", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-journal-" });
  try {
    const cas = new CasStore(join(dataDir, "store"), { durable: false });
    const total = await journalChain(dataDir, cas);
    assertEquals(total, 10); // 1+2+0+1+2+0+1+2+0+1
    const all = await journalAt(cas, dataDir, 10, 0, 100);
    assertEquals(all.events.map((e) => (e as { index: number }).index), [...Array(10).keys()]);
    assertEquals([all.next, all.journalLen], [10, 10]);
    // Index 3 is the first event of height 4 (heights 1, 2 hold 0..2; height 3 none).
    const mid = await journalAt(cas, dataDir, 10, 3, 2);
    assertEquals(mid.events, [
      { index: 3, height: 4, kind: "rest", agent: "a4-0" },
      { index: 4, height: 5, kind: "rest", agent: "a5-0" },
    ]);
    assertEquals(mid.next, 5);
    // At the height bound: 2 heights from height 5 (2 events) then 6 (none): next = 6.
    const bounded = await journalAt(cas, dataDir, 10, 4, 100, 2);
    assertEquals(bounded.events.length, 2);
    assertEquals(bounded.next, 6);
    // From index 6: heights 7 (1 event) and 8 (2 events), then the bound.
    const next = await journalAt(cas, dataDir, 10, 6, 100, 2);
    assertEquals([next.events.length, next.next], [3, 9]);
    assertEquals((await journalAt(cas, dataDir, 10, 10, 5)).events, []);
    // Only up to the executed height.
    assertEquals((await journalAt(cas, dataDir, 2, 0, 100)).events.length, 3);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
