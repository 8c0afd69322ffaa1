/**
 * Subprocess for crash tests: runs a node whose hook keeps its own state file.
 *   deno run -A crash_node.ts <dataDir> kill-at <K>   → SIGKILLs itself when asked to execute K
 *   deno run -A crash_node.ts <dataDir> run <N>       → runs until execution height >= N, prints a log
 * @module
 */
import { join } from "@std/path";
import type {
  NodeExecutionCommitContext,
  NodeExecutionCommitResult,
  NodeExecutionHook,
  NodeExecutionHookInfo,
} from "../../src/node/execution_hook.ts";
import { NodeRuntime } from "../../src/node/runtime.ts";
import { writeFileAtomic } from "../../src/storage/atomic.ts";
import { expectedResult } from "./hooks.ts";

const [dataDir, mode, arg] = Deno.args;
const target = Number(arg);
const hookFile = join(dataDir, "hook_state.json");
const log: string[] = [];

class FileHook implements NodeExecutionHook {
  async info(): Promise<NodeExecutionHookInfo> {
    try {
      return JSON.parse(await Deno.readTextFile(hookFile));
    } catch {
      return {
        lastHeight: 0,
        lastNodeBlockHash: null,
        lastExecutionBlockHash: null,
        lastExecutionStateRoot: null,
      };
    }
  }
  async onCommit(ctx: NodeExecutionCommitContext): Promise<NodeExecutionCommitResult> {
    if (mode === "kill-at" && ctx.height === target) Deno.kill(Deno.pid, "SIGKILL");
    const info = await this.info();
    if (ctx.height !== info.lastHeight + 1) {
      throw new Error(`hook got ${ctx.height} after ${info.lastHeight}`);
    }
    const r = expectedResult(ctx, info.lastExecutionBlockHash ?? "genesis");
    const next: NodeExecutionHookInfo = {
      lastHeight: ctx.height,
      lastNodeBlockHash: ctx.nodeBlockHash,
      lastExecutionBlockHash: r.executionBlockHash,
      lastExecutionStateRoot: r.executionStateRoot,
    };
    await writeFileAtomic(hookFile, new TextEncoder().encode(JSON.stringify(next)));
    log.push(`exec:${ctx.height}`);
    return r;
  }
}

const node = new NodeRuntime(
  { nodeId: "node-1", worldId: "world-1", dataDir, tickIntervalMs: 5 },
  { executionHook: new FileHook() },
);
node.events.on("commit", ({ block }) => log.push(`commit:${block.header.height}`));
const committedAtStart = await (async () => {
  await node.start();
  return node.snapshot().consensus.committedHeight;
})();
if (mode === "kill-at") {
  await new Promise(() => {}); // the hook kills the process
}
while (node.snapshot().consensus.lastExecutionHeight < target) {
  await new Promise((r) => setTimeout(r, 5));
}
await node.stop();
console.log(JSON.stringify({ log, committedAtStart, snapshot: node.snapshot().consensus }));
