/**
 * Independent reader of a real node's execution store: `awr live` (in process) runs
 * with actions, then a Python script using only `cbor2` and the `b3sum` binary reads
 * `<data>/store/packs`, collects every blob (its name re-derived with `b3sum`), and for
 * every height decodes the record entry `record/<20-digit height>`, checks that the
 * manifest blob's BLAKE3 is the record's `execution_state_root`, and extracts every
 * blob of that height's state (manifest → tree nodes → chunks, plus the journal
 * segment). None of this project's code takes part in the checks. Without
 * `/usr/bin/python3` + python3-cbor2 or `b3sum` the test is ignored with a printed
 * reason.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { readRecord } from "../../src/execution/records.ts";
import { startLiveNode } from "../../src/live/live.ts";
import { packDir } from "../../src/storage/blob_store.ts";
import { waitFor } from "../support/hooks.ts";

const PYTHON = "/usr/bin/python3";

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string } | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.timeout(120_000),
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function missingTool(): Promise<string | null> {
  if ((await run(PYTHON, ["-c", "import cbor2"]))?.code !== 0) {
    return `${PYTHON} with cbor2 not found (apt-get install python3-cbor2)`;
  }
  if ((await run("b3sum", ["--version"]))?.code !== 0) return "b3sum not found";
  return null;
}

const READER = `
import cbor2, json, os, struct, subprocess, sys
folder, tmp = sys.argv[1], sys.argv[2]
def b3sum(items):
    paths = []
    for i, b in enumerate(items):
        p = os.path.join(tmp, "e%d" % i)
        open(p, "wb").write(b)
        paths.append(p)
    if not paths: return []
    res = subprocess.run(["b3sum", "--no-names"] + paths, capture_output=True, text=True, check=True)
    return res.stdout.split()
blobs, records, errors = {}, {}, []
for name in sorted(os.listdir(folder)):
    if not name.endswith(".pack"): continue
    data = open(os.path.join(folder, name), "rb").read()
    off, group = 0, []
    while off + 4 <= len(data):
        n = struct.unpack(">I", data[off:off + 4])[0]
        e = cbor2.loads(data[off + 4:off + 4 + n])
        off += 4 + n
        if e["k"] != "commit":
            group.append(e)
            continue
        bl = [x for x in group if x["k"] == "blob"]
        for x, s in zip(bl, b3sum([x["b"] for x in bl])):
            if s != x["h"]: errors.append("blob %s hashes to %s" % (x["h"], s))
            blobs[s] = x["b"]
        for x in group:
            if x["k"] == "named" and x["n"].startswith("record/"):
                records[int(x["n"][7:])] = cbor2.loads(x["b"])
        group = []
out = {"errors": errors, "heights": {}}
for h in sorted(records):
    r = records[h]
    root = r["execution_state_root"]
    if root not in blobs:
        errors.append("height %d: manifest %s not in the pack" % (h, root)); continue
    m = cbor2.loads(blobs[root])
    level, depth, seen = [m["tree_root"]], m["depth"], [root]
    for k in range(depth, 0, -1):
        nxt = []
        for x in level:
            node = cbor2.loads(blobs[x])
            if node["level"] != k: errors.append("height %d: node %s level" % (h, x))
            nxt += [c.hex() for c in node["children"]]
        seen += level
        level = nxt
    missing = [x for x in level if x not in blobs]
    seen += level
    j = r["journal_ref"]
    if j not in blobs: missing.append(j)
    if missing: errors.append("height %d: %d blobs missing" % (h, len(missing)))
    out["heights"][str(h)] = {"root": root, "manifest_b3": b3sum([blobs[root]])[0],
        "chunks": len(level), "agents": m["agent_count"], "blobs": len(set(seen)) + 1}
print(json.dumps(out))
`;

const skip = await missingTool();
if (skip) console.log(`pack node reader test ignored: ${skip}`);

Deno.test({
  name:
    "a live node's pack store: Python cbor2 + b3sum extract every blob of each height and re-derive its state root",
  ignore: skip !== null,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "awr-pack-node-py-" });
    try {
      const live = await startLiveNode({
        dataDir,
        http: null,
        tickMs: 10,
        statusEveryMs: 0,
        rewardIntervalMs: 50,
      });
      try {
        const actions = [];
        for (let i = 0; i < 40; i++) {
          actions.push({ kind: "register" as const, agent: `py-${i}`, x: i, y: 2 * i });
        }
        await live.node.submitActions(actions);
        assert(
          await waitFor(() => live.node.snapshot().consensus.lastExecutionHeight >= 8, 20_000),
          "execution reached height 8",
        );
      } finally {
        await live.stop();
      }
      const n = live.node.snapshot().consensus.lastExecutionHeight;
      const tmp = join(dataDir, "py-tmp");
      await Deno.mkdir(tmp);
      const res = await run(PYTHON, ["-c", READER, packDir(dataDir), tmp]);
      assertEquals(res?.code, 0, "the Python reader ran");
      const out = JSON.parse(res!.stdout) as {
        errors: string[];
        heights: Record<string, { root: string; manifest_b3: string; agents: number }>;
      };
      assertEquals(out.errors, []);
      assertEquals(Object.keys(out.heights).length, n, "every executed height is in the pack");
      let maxAgents = 0;
      for (let h = 1; h <= n; h++) {
        const r = (await readRecord(dataDir, h))!;
        const got = out.heights[String(h)];
        assertEquals(got.root, r.executionStateRoot, `height ${h}`);
        assertEquals(got.manifest_b3, r.executionStateRoot, `height ${h}: BLAKE3(manifest)`);
        maxAgents = Math.max(maxAgents, got.agents);
      }
      assertEquals(maxAgents, 40, "the registered agents are in the state the reader extracted");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
