/**
 * A crash after the block file (with its certificate) reached disk but before the state
 * file did: the restarted node adopts that block as committed instead of deciding (and
 * signing) its height again; a block file without a valid certificate is overwritten.
 * A networked node's state file trails its block files by design (`commit_writer.ts`):
 * every decided block above it is adopted, up to a bound.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import type { NodeWriters } from "../../src/node/commit_writer.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { resolveNodeConfig } from "../../src/node/config.ts";
import { lastBlockAtStart, MAX_ADOPTED_AT_START } from "../../src/node/local_start.ts";
import { localModeKeys } from "../../src/node/local_keys.ts";
import { silentLogger } from "../../src/logger.ts";
import { blocksDir } from "../../src/storage/data_dir.ts";

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

/**
 * A networked node (`networked: true`: its state file follows its commits every
 * `DIRTY_STATE_GAP_MS`) whose state writes stop reaching disk after height `keepUpTo`
 * (a process killed with its state file behind): returns the blocks it committed.
 */
async function runWithStateBehind(dataDir: string, keepUpTo: number, until: number) {
  const commits: CommittedBlock[] = [];
  const stateWrites: number[] = [];
  const node = new NodeRuntime(
    { nodeId: "n", worldId: "w", dataDir, tickIntervalMs: 2, durable: false },
    {
      networked: true,
      writers: (real): NodeWriters => ({
        putBlock: (b) => real.putBlock(b),
        writeState: async (s, u) => {
          stateWrites.push(s.committedHeight);
          if (s.committedHeight <= keepUpTo) await real.writeState(s, u);
        },
      }),
    },
  );
  node.events.on("commit", (e) => commits.push(e.block));
  await node.start();
  assert(await waitFor(() => commits.length >= until));
  await node.stop();
  return { commits, stateWrites };
}

Deno.test("a networked node's commit is on disk with its block file; a restart adopts every decided block above the state file", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-adopt-" });
  try {
    const { commits, stateWrites } = await runWithStateBehind(dataDir, 3, 12);
    // The state file was written for fewer heights than were committed (paced, not per commit).
    const distinct = new Set(stateWrites.filter((h) => h > 0));
    assert(distinct.size < commits.length, `state writes ${stateWrites} for ${commits.length}`);
    const node = new NodeRuntime({ nodeId: "n", worldId: "w", dataDir, tickIntervalMs: 2 }, {
      networked: true,
    });
    const onDisk = (await readNodeState(node.statePath))!.value.committedHeight;
    assert(onDisk <= 3, `state file at ${onDisk}`);
    const top = commits[commits.length - 1].header.height;
    const signer = new FileSignerStateStore(dataDir, "n");
    const signedBefore = (await signer.load())!.height;
    const again: CommittedBlock[] = [];
    node.events.on("commit", (e) => again.push(e.block));
    await node.start();
    // Adopted during start, in order, each the very block of its file.
    const adopted = again.slice(0, top - onDisk);
    assertEquals(
      adopted.map((b) => b.header.height),
      commits.slice(onDisk).map((b) => b.header.height),
    );
    assertEquals(adopted.map((b) => b.hash), commits.slice(onDisk).map((b) => b.hash));
    assert(await waitFor(() => again.length >= top - onDisk + 2));
    await node.stop();
    // Never signed again below what it had signed; the chain went on from the adopted tip.
    assert((await signer.load())!.height >= signedBefore);
    assertEquals(again[top - onDisk].header.height, top + 1);
    assertEquals(again[top - onDisk].header.parentHash, commits[commits.length - 1].hash);
    // Stopping wrote the state file for the last commit.
    assertEquals(
      (await readNodeState(node.statePath))!.value.committedHeight,
      again[again.length - 1].header.height,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("one start adopts at most maxAdopted decided blocks, then warns", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-adopt-" });
  try {
    const { commits } = await runWithStateBehind(dataDir, 2, 8);
    const config = resolveNodeConfig({ nodeId: "n", worldId: "w", dataDir, durable: false });
    const statePath = nodeStatePath(dataDir, "n");
    const state = (await readNodeState(statePath))!.value;
    const from = state.committedHeight;
    assert(commits.length >= from + 3, `${commits.length} commits above ${from}`);
    const blocks = new BlockStore(blocksDir(dataDir, "n"));
    const adopted: number[] = [];
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const last = await lastBlockAtStart(config, state, blocks, statePath, {
      keys: localModeKeys("w"),
      log,
      maxAdopted: 2,
      adopt: (b) => {
        adopted.push(b.header.height);
        state.committedHeight = b.header.height;
        state.lastBlockHash = b.hash;
        return Promise.resolve();
      },
    });
    assertEquals(adopted, [from + 1, from + 2]);
    assertEquals(last?.header.height, from + 2);
    assertEquals(warnings.length, 1);
    assert(warnings[0].includes("more decided blocks"), warnings[0]);
    // With the default bound the same start takes them all.
    assertEquals(MAX_ADOPTED_AT_START, 10_000);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
