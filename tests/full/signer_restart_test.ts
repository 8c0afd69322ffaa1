/**
 * Restart safety with a real process: `awr live` SIGKILLs itself (hidden, test-only
 * `--crash-at`) right before and right after persisting its signer state; after a
 * restart, no (validator, height, round, step) carries two different signed values
 * across the signer state files and the stored certificates, and the chain goes on.
 */
import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { join } from "@std/path";
import { blockId, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import type { SignedVote, SignerState } from "../../src/consensus/bft/types.ts";
import { BlockStore } from "../../src/node/block_store.ts";
import { FileSignerStateStore } from "../../src/node/signer_state_file.ts";
import { nodeStatePath, readNodeState } from "../../src/node/state_file.ts";
import { hashHex } from "../../src/storage/hash.ts";
import { liveArgs } from "../support/live_process.ts";

const NODE = "node-1";
const WORLD = "world-1";

function spawnLive(dataDir: string, crashAt: string | null): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: liveArgs(dataDir, { tickMs: 5, extra: crashAt ? ["--crash-at", crashAt] : [] }),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function committedHeight(dataDir: string): Promise<number> {
  return (await readNodeState(nodeStatePath(dataDir, NODE)))?.value.committedHeight ?? 0;
}

/** Waits for the child, killing it if it outlives `ms` (so the test always ends). */
async function statusWithin(child: Deno.ChildProcess, ms: number): Promise<Deno.CommandStatus> {
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

interface Signed {
  /** (validator, height, round, step) → hash of the signed bytes. */
  readonly votes: Map<string, string>;
  readonly state: SignerState | null;
  readonly blocks: Map<number, string>;
}

function note(votes: Map<string, string>, sv: SignedVote, where: string): void {
  const v = sv.vote;
  const key = `${v.validator}/${v.height}/${v.round}/${v.type}`;
  const hash = hashHex(voteSignBytes(WORLD, v));
  const before = votes.get(key);
  assert(before === undefined || before === hash, `double sign at ${key} (${where})`);
  votes.set(key, hash);
}

/** Every signature on disk: the certificates of the stored blocks and the signer state. */
async function signedOnDisk(dataDir: string, into: Map<string, string>): Promise<Signed> {
  const store = new BlockStore(join(dataDir, "node", NODE, "blocks"), { durable: false });
  const blocks = new Map<number, string>();
  for (let h = 1;; h++) {
    const b = await store.getBlock(h);
    if (!b) break;
    assert(b.certificate, `block ${h} has its certificate`);
    for (const sv of b.certificate.precommits) note(into, sv, `block ${h}`);
    blocks.set(h, b.hash);
  }
  const state = await new FileSignerStateStore(dataDir, NODE).load();
  for (const sv of state?.lockProof?.prevotes ?? []) note(into, sv, "lock proof");
  return { votes: into, state, blocks };
}

const cmp = (a: SignerState, b: SignerState) =>
  a.height - b.height || a.round - b.round || a.step - b.step;

for (const point of ["after-signer-persist", "before-signer-persist"]) {
  for (const n of [3, 8]) {
    Deno.test(`awr live killed ${point} (#${n}) never double-signs after restart`, async () => {
      const dataDir = await Deno.makeTempDir({ prefix: "awr-signer-restart-" });
      try {
        const crashed = spawnLive(dataDir, `${point}:${n}`);
        const status = await statusWithin(crashed, 60_000);
        const stderr = new TextDecoder().decode(
          (await new Response(crashed.stderr).arrayBuffer()) as ArrayBuffer,
        );
        assertEquals(status.signal, "SIGKILL", `the crash point was reached: ${stderr}`);
        const votes = new Map<string, string>();
        const pre = await signedOnDisk(dataDir, votes);
        const preHeight = await committedHeight(dataDir);
        assertEquals(preHeight, n - 1, "one persist per height: the n-th is height n");
        // After the persist the state names height n (precommit); before it, height n − 1.
        assertEquals(pre.state?.height, point === "after-signer-persist" ? n : n - 1);
        const preLocked = pre.state?.lockProof?.proposal.proposal.block ?? null;

        const child = spawnLive(dataDir, null);
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && await committedHeight(dataDir) < n + 3) {
          await new Promise((r) => setTimeout(r, 50));
        }
        child.kill("SIGTERM");
        const final = await statusWithin(child, 30_000);
        await child.stderr.cancel();
        assertEquals(final.code, 0, "graceful stop after SIGTERM");

        const post = await signedOnDisk(dataDir, votes); // asserts no conflicting signature
        assertGreaterOrEqual(await committedHeight(dataDir), n + 3);
        for (const [h, hash] of pre.blocks) assertEquals(post.blocks.get(h), hash, `block ${h}`);
        assert(post.state && pre.state && cmp(post.state, pre.state) > 0, "signer state moved on");
        // The precommit persisted before the crash: the restarted signer never signs
        // different bytes at that (height, round, step), and the lock it held decided.
        const s = pre.state;
        if (s.step === 3) {
          const key = `${NODE}/${s.height}/${s.round}/precommit`;
          const again = votes.get(key);
          assert(again === undefined || again === s.signBytesHash, `double sign at ${key}`);
          const decided = (await new BlockStore(join(dataDir, "node", NODE, "blocks"))
            .getBlock(s.height))!;
          if (preLocked) assertEquals(decided.certificate!.block, blockId(preLocked));
        }
      } finally {
        await Deno.remove(dataDir, { recursive: true });
      }
    });
  }
}
