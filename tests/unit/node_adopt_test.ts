/**
 * A crash after the block file (with its certificate) reached disk but before the state
 * file did: the restarted node adopts that block as committed instead of deciding (and
 * signing) its height again; a block file without a valid certificate is overwritten.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import type { NodeWriters } from "../../src/node/commit_writer.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { readNodeState } from "../../src/node/state_file.ts";

async function waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

/** Runs a node until the state write of height `failAt` fails (block file on disk), then stops it. */
async function crashAfterBlockFile(dataDir: string, failAt: number): Promise<CommittedBlock> {
  let orphan: CommittedBlock | null = null;
  const node = new NodeRuntime(
    { nodeId: "n", worldId: "w", dataDir, tickIntervalMs: 2, durable: false },
    {
      retryTimer: { setTimeout: () => 0, clearTimeout: () => {} } as never,
      writers: (real): NodeWriters => ({
        putBlock: async (b) => {
          await real.putBlock(b);
          if (b.header.height === failAt) orphan = b;
        },
        writeState: async (s, u) => {
          if (orphan) throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
          await real.writeState(s, u);
        },
      }),
    },
  );
  await node.start();
  assert(await waitFor(() => node.halted !== null));
  await node.stop();
  return orphan!;
}

Deno.test("a block file with a valid certificate above the state's height is adopted, not re-decided", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-adopt-" });
  try {
    const orphan = await crashAfterBlockFile(dataDir, 4);
    const node = new NodeRuntime({
      nodeId: "n",
      worldId: "w",
      dataDir,
      tickIntervalMs: 2,
      durable: false,
    });
    const statePath = node.statePath;
    assertEquals((await readNodeState(statePath))?.value.committedHeight, 3);
    // The worst case: the signer state of height 4 never reached disk (written in parallel).
    const signer = new FileSignerStateStore(dataDir, "n");
    await Deno.remove(signer.journalPath);
    const commits: CommittedBlock[] = [];
    node.events.on("commit", (e) => commits.push(e.block));
    await node.start();
    // Adopted during start: height 4 is the very block of the file, certificate and all.
    assertEquals(commits[0]?.header.height, 4);
    assertEquals(commits[0].hash, orphan.hash);
    assertEquals(commits[0].certificate, orphan.certificate);
    assert(await waitFor(() => commits.length >= 3));
    await node.stop();
    assertEquals(commits.map((b) => b.header.height).slice(0, 3), [4, 5, 6]);
    // Nothing was signed again at height 4: the next signatures are for later heights.
    const after = await signer.load();
    assert(after!.height > 4, `signer moved past 4 (at ${after?.height})`);
    assertEquals((await node.blocks.getBlock(4))?.hash, orphan.hash);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a block file above the state's height without a valid certificate is overwritten", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-adopt-" });
  try {
    const orphan = await crashAfterBlockFile(dataDir, 4);
    const blocks = new NodeRuntime({ nodeId: "n", worldId: "w", dataDir }).blocks;
    // A forged certificate (no precommits) proves nothing.
    await blocks.put({ ...orphan, certificate: { ...orphan.certificate!, precommits: [] } });
    const node = new NodeRuntime({
      nodeId: "n",
      worldId: "w",
      dataDir,
      tickIntervalMs: 2,
      durable: false,
    });
    const commits: CommittedBlock[] = [];
    node.events.on("commit", (e) => commits.push(e.block));
    await node.start();
    assert(await waitFor(() => commits.length >= 1));
    await node.stop();
    assertEquals(commits[0].header.height, 4);
    // Decided again (the signer's lock keeps the same BFT block; a new certificate round).
    assertNotEquals(commits[0].certificate?.round, orphan.certificate?.round);
    assertEquals(
      (await node.blocks.getBlock(4))?.certificate?.round,
      commits[0].certificate?.round,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
