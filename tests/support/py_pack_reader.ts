/**
 * Independent reader of an execution pack store for full tests: a Python script using
 * only `cbor2` and the `b3sum` binary collects every blob (name re-derived with
 * `b3sum`), decodes each record entry and re-derives its height's state root (BLAKE3 of
 * the manifest blob), walking the state tree to every chunk. None of this project's
 * code takes part.
 * @module
 */
import { assertEquals } from "@std/assert";

/** The Python the reader runs on. */
export const PYTHON = "/usr/bin/python3";

/** Runs a command; null when it is not installed. */
export async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string } | null> {
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

/** Why the reader cannot run here, or null. */
export async function missingTool(): Promise<string | null> {
  if ((await run(PYTHON, ["-c", "import cbor2"]))?.code !== 0) {
    return `${PYTHON} with cbor2 not found (apt-get install python3-cbor2)`;
  }
  if ((await run("b3sum", ["--version"]))?.code !== 0) return "b3sum not found";
  return null;
}

const READER = `
import atexit, cbor2, json, os, shutil, struct, subprocess, sys, tempfile
folder, tmp = sys.argv[1], sys.argv[2]
# Scratch files for b3sum go to tmpfs when there is one (a busy disk makes each file
# cost milliseconds); each batch is deleted once hashed, so little space is held.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    tmp = tempfile.mkdtemp(prefix="awr-py-reader-", dir="/dev/shm")
    atexit.register(shutil.rmtree, tmp, True)
def b3sum_batch(batch):
    paths = []
    for i, b in enumerate(batch):
        p = os.path.join(tmp, "e%d" % i)
        with open(p, "wb") as f: f.write(b)
        paths.append(p)
    res = subprocess.run(["b3sum", "--no-names"] + paths, capture_output=True, text=True, check=True)
    for p in paths: os.remove(p)
    return res.stdout.split()
def b3sum(items):
    # One b3sum run per batch of at most 500 blobs or 8 MiB, not one per blob or group.
    out, batch, size = [], [], 0
    for b in items:
        batch.append(b)
        size += len(b)
        if len(batch) >= 500 or size >= 8 << 20:
            out += b3sum_batch(batch)
            batch, size = [], 0
    if batch: out += b3sum_batch(batch)
    return out
blobs, records, errors, blob_entries = {}, {}, [], []
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
        blob_entries += [x for x in group if x["k"] == "blob"]
        for x in group:
            if x["k"] == "named" and x["n"].startswith("record/"):
                records[int(x["n"][7:])] = cbor2.loads(x["b"])
        group = []
for x, s in zip(blob_entries, b3sum([x["b"] for x in blob_entries])):
    if s != x["h"]: errors.append("blob %s hashes to %s" % (x["h"], s))
    blobs[s] = x["b"]
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
    out["heights"][str(h)] = {"root": root,
        "chunks": len(level), "agents": m["agent_count"], "blobs": len(set(seen)) + 1}
done = sorted(out["heights"], key=int)
for h, s in zip(done, b3sum([blobs[out["heights"][h]["root"]] for h in done])):
    out["heights"][h]["manifest_b3"] = s
print(json.dumps(out))
`;

/** What the reader found. */
export interface PackReadOut {
  errors: string[];
  heights: Record<string, { root: string; manifest_b3: string; agents: number; chunks: number }>;
}

/** Runs the reader over `packs` (temp files go to `tmp`). */
export async function readPackWithPython(packs: string, tmp: string): Promise<PackReadOut> {
  const res = await run(PYTHON, ["-c", READER, packs, tmp]);
  assertEquals(res?.code, 0, "the Python reader ran");
  return JSON.parse(res!.stdout) as PackReadOut;
}
