/**
 * Drop-in test drivers, written as source text into a temp plugins folder. They
 * import nothing from this repo (only the host they are given), which is the point:
 * the loader must run them from any folder. The "counting" driver keeps a running
 * count of actions in its own state file; {@link countingExpected} recomputes its
 * results independently so tests can check them.
 * @module
 */
import { join } from "@std/path";
import type { CommittedBlock } from "../../src/consensus/types.ts";
import {
  commitContext,
  type NodeExecutionCommitContext,
  type NodeExecutionCommitResult,
} from "../../src/node/execution_hook.ts";
import { hashCanonical } from "../../src/storage/hash.ts";

/** Knobs of {@link countingDriverSource}. */
export interface CountingDriverOptions {
  /** Driver name. */
  name: string;
  /** Emit TypeScript (type annotations) instead of plain JavaScript. */
  ts?: boolean;
  /** Spin forever at this height, on the first attempt only (a marker file remembers). */
  hangOnceAt?: number;
  /** Throw an uncaught error at this height, on the first attempt only. */
  crashOnceAt?: number;
  /**
   * Busy-wait this long on every height (CPU, not a timer), until a file
   * `<state file>.fast` appears (see {@link recoverMarker}): the driver "recovers".
   */
  busyMsPerHeight?: number;
  /**
   * TEST ONLY divergence: when `<data>/drivers/<name>/diverge_at` holds a height D
   * (decimal) at start, every state root from D on is salted, so this node's roots
   * differ from every other node's (see {@link divergeMarker}).
   */
  divergeable?: boolean;
}

/**
 * Source text of a counting driver plugin. Its state file is
 * `<data>/drivers/<name>/state.cbor`; heights below the gap are read via `host.blocks`.
 */
export function countingDriverSource(o: CountingDriverOptions): string {
  const t = (annotation: string) => (o.ts ? annotation : "");
  return `
${
    o.ts
      ? `interface Ctx { height: number; nodeBlockHash: string; actions: readonly unknown[] }
interface State { height: number; node_block_hash: string | null; execution_block_hash: string | null; state_root: string | null; actions: number }
// deno-lint-ignore no-explicit-any
type Host = any;`
      : ""
  }
const NAME = ${JSON.stringify(o.name)};
const HANG_AT = ${o.hangOnceAt ?? 0};
const CRASH_AT = ${o.crashOnceAt ?? 0};
const BUSY_MS = ${o.busyMsPerHeight ?? 0};
const DIVERGEABLE = ${o.divergeable === true};

async function create(host${t(": Host")}) {
  // The driver's own folder: the only place under the data dir its sandbox may write.
  const dir = host.dataDir + "/drivers/" + NAME;
  await Deno.mkdir(dir, { recursive: true });
  const file = dir + "/state.cbor";
  let state${t(": State")} = {
    height: 0, node_block_hash: null, execution_block_hash: null, state_root: null, actions: 0,
  };
  try {
    state = host.cbor.decode(await Deno.readFile(file));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  let divergeAt = 0;
  if (DIVERGEABLE) {
    try {
      divergeAt = Number((await Deno.readTextFile(dir + "/diverge_at")).trim());
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const current = () => ({
    executionHeight: state.height,
    executionBlockHash: state.execution_block_hash,
    executionStateRoot: state.state_root,
  });
  async function exists(path${t(": string")}) {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  }
  async function firstAttempt(tag${t(": string")}) {
    try {
      await Deno.stat(file + "." + tag);
      return false;
    } catch {
      await Deno.writeFile(file + "." + tag, new Uint8Array());
      return true;
    }
  }
  async function step(height${t(": number")}, nodeBlockHash${t(": string")}, actionCount${
    t(": number")
  }) {
    if (height === HANG_AT && await firstAttempt("hung")) {
      for (;;) { /* hang: only terminating the worker ends this */ }
    }
    if (height === CRASH_AT && await firstAttempt("crashed")) {
      setTimeout(() => { throw new Error("driver crashed on purpose"); }, 0);
      await new Promise(() => {});
    }
    if (BUSY_MS > 0 && !(await exists(file + ".fast"))) {
      const until = Date.now() + BUSY_MS;
      while (Date.now() < until) { /* burn CPU */ }
    }
    const actions = state.actions + actionCount;
    const stateRoot = divergeAt > 0 && height >= divergeAt
      ? host.hash.canonical({ actions, height, diverged: true })
      : host.hash.canonical({ actions, height });
    const executionBlockHash = host.hash.canonical({
      world_id: host.worldId,
      height,
      prev: state.execution_block_hash ?? "genesis",
      state_root: stateRoot,
      node_block_hash: nodeBlockHash,
    });
    state = { height, node_block_hash: nodeBlockHash, execution_block_hash: executionBlockHash,
      state_root: stateRoot, actions };
    await Deno.writeFile(file, host.cbor.encode(state));
  }
  return {
    info: () => Promise.resolve({
      lastHeight: state.height,
      lastNodeBlockHash: state.node_block_hash,
      lastExecutionBlockHash: state.execution_block_hash,
      lastExecutionStateRoot: state.state_root,
    }),
    async onCommit(ctx${t(": Ctx")}) {
      if (ctx.height < state.height) throw new Error("height " + ctx.height + " is below " + state.height);
      if (ctx.height === state.height) return current();
      for (let h = state.height + 1; h < ctx.height; h++) {
        const block = await host.blocks.getBlock(h);
        if (!block) throw new Error("no committed block at height " + h);
        await step(h, block.hash, block.actions.length);
      }
      await step(ctx.height, ctx.nodeBlockHash, ctx.actions.length);
      return current();
    },
  };
}

export default { name: NAME, apiVersion: 1, description: "counts actions (test driver)", create };
`;
}

/** Path of the file that makes a busy counting driver fast. */
export function recoverMarker(dataDir: string, name: string): string {
  return join(dataDir, "drivers", name, "state.cbor.fast");
}

/** The file that makes a divergeable counting driver diverge (holds the first height). */
export function divergeMarker(dataDir: string, name: string): string {
  return join(dataDir, "drivers", name, "diverge_at");
}

/** Writes a counting driver into `dir` as `<file>`; returns its path. */
export async function writeCountingDriver(
  dir: string,
  file: string,
  o: CountingDriverOptions,
): Promise<string> {
  const path = join(dir, file);
  await Deno.writeTextFile(path, countingDriverSource(o));
  return path;
}

/** The counting driver's results for `blocks` (heights 1..n in order), recomputed here. */
export function countingExpected(
  worldId: string,
  blocks: readonly CommittedBlock[],
): NodeExecutionCommitResult[] {
  let prev = "genesis";
  let actions = 0;
  return blocks.map((b) => {
    const height = b.header.height;
    actions += b.actions.length;
    const stateRoot = hashCanonical({ actions, height });
    const executionBlockHash = hashCanonical({
      world_id: worldId,
      height,
      prev,
      state_root: stateRoot,
      node_block_hash: b.hash,
    });
    prev = executionBlockHash;
    return { executionHeight: height, executionBlockHash, executionStateRoot: stateRoot };
  });
}

/** The hook context the node would build for a committed block. */
export function contextOf(
  block: CommittedBlock,
  worldId: string,
  nodeId: string,
): NodeExecutionCommitContext {
  return commitContext(worldId, nodeId, block);
}
