/**
 * Independent readers (DESIGN invariant 7): every execution record and CAS blob
 * decodes with Python's `cbor2`, re-encodes to the same bytes with cbor2's
 * canonical encoder, and holds only plain CBOR types; each blob's address equals
 * `b3sum` of its file; and each record's `execution_block_hash` equals `b3sum` of
 * its preimage array as cbor2 encodes it. None of this project's code takes part in
 * the checks. The tools are found (or installed with apt when running as root) at
 * load time; without them the test is ignored with a printed reason.
 * @module
 */
import { assertEquals, assertGreater } from "@std/assert";
import { join } from "@std/path";
import { ExecutionCore } from "../../src/execution/core.ts";
import { blockReader, ctxOf, randomChain, WORLD } from "../support/chain_fixture.ts";
import { toLegacyLayout } from "../support/legacy_layout.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

// Debian's python3-cbor2 is seen by /usr/bin/python3, not necessarily by a pyenv one.
async function findPython(): Promise<string | null> {
  for (const py of ["/usr/bin/python3", "python3"]) {
    if ((await run(py, ["-c", "import cbor2"]))?.code === 0) return py;
  }
  return null;
}

async function findTools(): Promise<{ python: string } | string> {
  let python = await findPython();
  let b3 = (await run("b3sum", ["--version"]))?.code === 0;
  if ((!python || !b3) && Deno.uid() === 0 && (await run("apt-get", ["--version"]))?.code === 0) {
    console.log("independent readers: installing python3-cbor2 and b3sum with apt-get …");
    await run("apt-get", ["install", "-y", "python3-cbor2", "b3sum"], 180_000).catch(() => null);
    python = await findPython();
    b3 = (await run("b3sum", ["--version"]))?.code === 0;
  }
  if (!python) return "python3 with cbor2 not found (apt-get install python3-cbor2)";
  if (!b3) return "b3sum not found (apt-get install b3sum)";
  return { python };
}

const CHECKER = `
import cbor2, json, os, subprocess, sys
data, tmp = sys.argv[1], sys.argv[2]
out = {"records": 0, "blobs": 0, "decode_errors": [], "non_canonical": [], "bad_types": [],
       "address_mismatch": [], "chain_mismatch": [], "hash_mismatch": [], "missing_refs": []}
def plain(v):
    if isinstance(v, dict): return all(isinstance(k, str) and plain(x) for k, x in v.items())
    if isinstance(v, list): return all(plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, str, bytes))
def load(path):
    b = open(path, "rb").read()
    try:
        v = cbor2.loads(b)
    except Exception as e:
        out["decode_errors"].append(path + ": " + str(e)); return None
    if cbor2.dumps(v, canonical=True) != b: out["non_canonical"].append(path)
    if not plain(v): out["bad_types"].append(path)
    return v
def blob_path(h): return os.path.join(data, "store", h[0:2], h[2:4], h)
def b3sum(paths):
    sums = []
    for i in range(0, len(paths), 400):
        res = subprocess.run(["b3sum"] + paths[i:i + 400], capture_output=True, text=True, check=True)
        sums += [line.split()[0] for line in res.stdout.splitlines()]
    return sums
pre_files, pre_expected, prev = [], [], "genesis"
rec_dir = os.path.join(data, "execution", "records")
for name in sorted(os.listdir(rec_dir)):
    if not name.endswith(".cbor"): continue
    r = load(os.path.join(rec_dir, name))
    if r is None: continue
    out["records"] += 1
    if r["prev_execution_block_hash"] != prev or r["hash"] != "blake3": out["chain_mismatch"].append(r["height"])
    prev = r["execution_block_hash"]
    for ref in (r["manifest_ref"], r["journal_ref"], r["execution_state_root"]):
        if not os.path.isfile(blob_path(ref)): out["missing_refs"].append(ref)
    pre = cbor2.dumps([r["world_id"], r["height"], r["prev_execution_block_hash"],
                       r["execution_state_root"], r["journal_len"], r["node_block_hash"]], canonical=True)
    p = os.path.join(tmp, "pre-%d" % r["height"])
    open(p, "wb").write(pre)
    pre_files.append(p); pre_expected.append(r["execution_block_hash"])
for got, want, p in zip(b3sum(pre_files), pre_expected, pre_files):
    if got != want: out["hash_mismatch"].append(p)
blobs = []
for root, _, files in os.walk(os.path.join(data, "store")):
    for f in files:
        if f.startswith("."): continue
        blobs.append(os.path.join(root, f)); load(blobs[-1])
out["blobs"] = len(blobs)
for got, p in zip(b3sum(blobs), blobs):
    if got != os.path.basename(p): out["address_mismatch"].append(p)
print(json.dumps(out))
`;

const tools = await findTools();
if (typeof tools === "string") console.log(`independent readers test SKIPPED: ${tools}`);

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) n += await countFiles(join(dir, e.name));
    else if (!e.name.startsWith(".")) n++;
  }
  return n;
}

Deno.test({
  name: "independent readers: cbor2 decodes every record and blob, b3sum matches every address",
  ignore: typeof tools === "string",
  async fn() {
    const python = (tools as { python: string }).python;
    const dir = await Deno.makeTempDir({ prefix: "awr-readers-" });
    const tmp = await Deno.makeTempDir({ prefix: "awr-readers-pre-" });
    try {
      const chain = randomChain(40, 2024, 12);
      const core = await ExecutionCore.open({
        dataDir: dir,
        worldId: WORLD,
        blocks: blockReader(chain),
        durable: false,
      });
      await core.executeThrough(ctxOf(chain[chain.length - 1]));
      await core.close();
      // This checker reads the per-blob CAS layout (still read by awr for data dirs from
      // before the pack store); the pack segments themselves are read independently in
      // pack_node_reader_test.ts and live_kill_test.ts.
      await toLegacyLayout(dir);

      const check = async () => {
        const r = await run(python, ["-c", CHECKER, dir, tmp]);
        assertEquals(r?.code, 0, r?.stderr);
        return JSON.parse(r!.stdout);
      };
      const report = await check();
      const blobFiles = await countFiles(join(dir, "store"));
      assertGreater(blobFiles, 80);
      assertEquals(report, {
        records: 40,
        blobs: blobFiles,
        decode_errors: [],
        non_canonical: [],
        bad_types: [],
        address_mismatch: [],
        chain_mismatch: [],
        hash_mismatch: [],
        missing_refs: [],
      });

      // The checker can fail: a flipped byte in one blob is caught by b3sum.
      const record = JSON.parse(
        (await run(python, [
          "-c",
          "import cbor2,sys,json;print(json.dumps(cbor2.load(open(sys.argv[1],'rb'))))",
          join(dir, "execution", "records", "00000000000000000007.cbor"),
        ]))!.stdout,
      );
      const h: string = record.journal_ref;
      const path = join(dir, "store", h.slice(0, 2), h.slice(2, 4), h);
      const bytes = await Deno.readFile(path);
      bytes[bytes.length - 1] ^= 0x01;
      await Deno.writeFile(path, bytes);
      assertEquals((await check()).address_mismatch, [path]);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
