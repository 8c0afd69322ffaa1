/**
 * One execution-height-sized write (about 100 new blobs, a record and the execution
 * state), durable, three ways: a pack group committed with one fdatasync; the same
 * blobs as CAS files plus the record and state as atomic files (what the execution
 * core does today); and the floor — the same bytes as one file with one fsync.
 * Blob sizes: 300 bytes (like a 1k-agent world's chunks) and 2 KiB (like 100k).
 * Blobs are hashed before timing in every case (the core names them while building
 * its tree). Medians are printed when the run ends.
 * @module
 */
import { join } from "@std/path";
import { writeFileAtomic } from "../../src/storage/atomic.ts";
import { CasStore } from "../../src/storage/cas.ts";
import { PackStore } from "../../src/storage/pack.ts";
import { heightGroup } from "../support/pack_fixture.ts";

const BLOBS = 100;
const ITERATIONS = 30;
const SIZES = [300, 2048];

const times = new Map<string, number[]>();
function timed(name: string, ms: number): void {
  times.set(name, [...(times.get(name) ?? []), ms]);
}

const root = await Deno.makeTempDir({ prefix: "awr-bench-pack-" });
const stores: PackStore[] = [];

for (const size of SIZES) {
  const label = `${BLOBS} x ${size} B`;
  const pack = await PackStore.open(join(root, `packs-${size}`));
  stores.push(pack);
  let packHeight = 0;
  Deno.bench({
    name: `pack group (one fdatasync), ${label}`,
    group: label,
    baseline: true,
    n: ITERATIONS,
    warmup: 3,
    async fn(b) {
      const group = heightGroup(++packHeight, BLOBS, size, "pack");
      b.start();
      const t0 = performance.now();
      await pack.commitGroup(group);
      timed(`pack ${label}`, performance.now() - t0);
      b.end();
    },
  });

  const casRoot = join(root, `cas-${size}`);
  const cas = new CasStore(join(casRoot, "store"));
  let casHeight = 0;
  Deno.bench({
    name: `CAS files + atomic record and state, ${label}`,
    group: label,
    n: ITERATIONS,
    warmup: 3,
    async fn(b) {
      const group = heightGroup(++casHeight, BLOBS, size, "cas");
      const [record, state] = group.named;
      b.start();
      const t0 = performance.now();
      await cas.putHashed(group.blobs);
      await writeFileAtomic(join(casRoot, "records", `${record.name.slice(7)}.cbor`), record.bytes);
      await writeFileAtomic(join(casRoot, "state.cbor"), state.bytes);
      timed(`cas ${label}`, performance.now() - t0);
      b.end();
    },
  });

  let floorHeight = 0;
  Deno.bench({
    name: `floor: same bytes, one file, one fsync, ${label}`,
    group: label,
    n: ITERATIONS,
    warmup: 3,
    async fn(b) {
      const group = heightGroup(++floorHeight, BLOBS, size, "floor");
      const parts = [...group.blobs.map((x) => x.bytes), ...group.named.map((x) => x.bytes)];
      b.start();
      const t0 = performance.now();
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        bytes.set(p, o);
        o += p.length;
      }
      const f = await Deno.open(join(root, `floor-${size}-${floorHeight}.bin`), {
        write: true,
        create: true,
      });
      try {
        let off = 0;
        while (off < bytes.length) off += await f.write(bytes.subarray(off));
        await f.sync();
      } finally {
        f.close();
      }
      timed(`floor ${label}`, performance.now() - t0);
      b.end();
    },
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

globalThis.addEventListener("unload", () => {
  const lines = ["", "pack bench medians (ms per height, durable, iterations incl. warmup):"];
  for (const size of SIZES) {
    const label = `${BLOBS} x ${size} B`;
    const [p, c, f] = ["pack", "cas", "floor"].map((k) =>
      median(times.get(`${k} ${label}`) ?? [NaN])
    );
    lines.push(
      `${label}: pack ${p.toFixed(2)}  cas ${c.toFixed(2)}  floor ${f.toFixed(2)}  ` +
        `cas/pack ${(c / p).toFixed(1)}x  pack/floor ${(p / f).toFixed(2)}x`,
    );
  }
  console.log(lines.join("\n"));
  for (const s of stores) void s.close();
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // Best effort: a temp dir.
  }
});
