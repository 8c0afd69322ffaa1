/**
 * Independent reader of pack segments: a Python script using only `cbor2` and the
 * `b3sum` binary parses every segment the store wrote (4-byte big-endian length,
 * one canonical CBOR map per entry), extracts every blob of every height, re-derives
 * each blob's name and each named entry's digest with `b3sum`, and recomputes each
 * group's commit sum. None of this project's code takes part in the checks. A copy
 * with one flipped payload byte must be caught, so the checker can fail. Without
 * `/usr/bin/python3` + python3-cbor2 or `b3sum` the test is ignored with a printed
 * reason.
 * @module
 */
import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { PackStore } from "../../src/storage/pack.ts";
import { toHex } from "../../src/storage/hash.ts";
import { blobOf, heightGroup, indexOfBytes } from "../support/pack_fixture.ts";
import { missingTool, PYTHON, run } from "../support/py_pack_reader.ts";

const READER = `
import cbor2, json, os, struct, subprocess, sys
folder, tmp = sys.argv[1], sys.argv[2]
out = {"heights": {}, "errors": []}
def b3sum(blobs):
    paths = []
    for i, b in enumerate(blobs):
        p = os.path.join(tmp, "e%d" % i)
        open(p, "wb").write(b)
        paths.append(p)
    if not paths: return []
    res = subprocess.run(["b3sum", "--no-names"] + paths, capture_output=True, text=True, check=True)
    return res.stdout.split()
for name in sorted(os.listdir(folder)):
    if not name.endswith(".pack"): continue
    data = open(os.path.join(folder, name), "rb").read()
    off, group = 0, []
    while off < len(data):
        n = struct.unpack(">I", data[off:off + 4])[0]
        item = data[off + 4:off + 4 + n]
        e = cbor2.loads(item)
        if cbor2.dumps(e, canonical=True) != item:
            out["errors"].append("%s@%d: not canonical CBOR" % (name, off))
        off += 4 + n
        if e["k"] != "commit":
            group.append(e)
            continue
        blobs = [x for x in group if x["k"] == "blob"]
        named = [x for x in group if x["k"] == "named"]
        sums = b3sum([x["b"] for x in blobs] + [x["n"].encode() + b"\\0" + x["b"] for x in named])
        for x, s in zip(blobs, sums):
            if s != x["h"]: out["errors"].append("%s: blob %s hashes to %s" % (name, x["h"], s))
        for x, s in zip(named, sums[len(blobs):]):
            if s != x["s"]: out["errors"].append("%s: named %s digest %s" % (name, x["n"], s))
        digests = b"".join(bytes.fromhex(x["h"] if x["k"] == "blob" else x["s"]) for x in group)
        [total] = b3sum([struct.pack(">Q", e["height"]) + digests])
        if total != e["sum"] or e["n"] != len(group):
            out["errors"].append("%s: group of height %d does not match its marker" % (name, e["height"]))
        out["heights"][str(e["height"])] = {
            "blobs": sorted(x["h"] for x in blobs),
            "named": {x["n"]: x["b"].hex() for x in named},
        }
        group = []
    if group: out["errors"].append("%s: entries after the last commit marker" % name)
print(json.dumps(out))
`;

interface ReaderOut {
  heights: Record<string, { blobs: string[]; named: Record<string, string> }>;
  errors: string[];
}

async function readWithPython(folder: string, tmp: string): Promise<ReaderOut> {
  const res = await run(PYTHON, ["-c", READER, folder, tmp]);
  assertEquals(res?.code, 0, "the Python reader ran");
  return JSON.parse(res!.stdout);
}

const skip = await missingTool();
if (skip) console.log(`pack reader test ignored: ${skip}`);

Deno.test({
  name: "pack: Python cbor2 + b3sum read every blob of every height and check each group sum",
  ignore: skip !== null,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "awr-pack-py-" });
    try {
      const folder = join(root, "packs");
      const store = await PackStore.open(folder, { durable: false, maxSegmentBytes: 8192 });
      const expected: ReaderOut["heights"] = {};
      const shared = blobOf("chunk shared by every height");
      for (let h = 1; h <= 8; h++) {
        const g = heightGroup(h, 6);
        const blobs = [...g.blobs, shared];
        await store.commitGroup({ ...g, blobs });
        expected[String(h)] = {
          // The shared blob is stored with height 1 only: later groups skip it.
          blobs: (h === 1 ? blobs : g.blobs).map((b) => b.hash).sort(),
          named: Object.fromEntries(g.named.map((n) => [n.name, toHex(n.bytes)])),
        };
      }
      const segments = store.segments();
      await store.close();
      assertEquals(segments.length > 1, true, "the test spans several segments");
      const tmp = join(root, "tmp");
      await Deno.mkdir(tmp);
      const read = await readWithPython(folder, tmp);
      assertEquals(read.errors, []);
      assertEquals(read.heights, expected);

      // The same reader catches one flipped payload byte, naming the blob.
      const victim = heightGroup(5, 6).blobs[3];
      for (const seg of segments) {
        const bytes = await Deno.readFile(join(folder, seg));
        const at = indexOfBytes(bytes, victim.bytes);
        if (at < 0) continue;
        bytes[at + 7] ^= 0x01;
        await Deno.writeFile(join(folder, seg), bytes);
      }
      const bad = await readWithPython(folder, tmp);
      assertEquals(bad.errors.length, 1, JSON.stringify(bad.errors));
      assertEquals(bad.errors[0].includes(`blob ${victim.hash} hashes to`), true);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
