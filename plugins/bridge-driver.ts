/**
 * The default execution driver, `bridge`: the seed's NodeRuntimeExecutionDriver.
 * It wraps the runtime's one execution core (the same step-and-persist code the
 * legacy bridge fallback and crash replay use), so node-internal execution and the
 * bridge write byte-identical records.
 *
 * Like every plugin it imports nothing from this repo; the types below are the
 * slice of the plugin contract (`src/driver/plugin.ts`) it uses.
 * @module
 */

interface CommitContext {
  readonly height: number;
  readonly nodeBlockHash: string;
}

interface CommitResult {
  readonly executionHeight: number;
  readonly executionBlockHash: string;
  readonly executionStateRoot: string;
}

interface Info {
  readonly lastHeight: number;
  readonly lastNodeBlockHash: string | null;
  readonly lastExecutionBlockHash: string | null;
  readonly lastExecutionStateRoot: string | null;
}

interface ExecutionCore {
  info(): Info;
  executeThrough(ctx: CommitContext): Promise<CommitResult>;
  summary(agentLimit?: number): Promise<Record<string, unknown>>;
  agent(id: string): Promise<Record<string, unknown> | null>;
  journal(from: number, limit: number): Promise<unknown>;
  close(): Promise<void>;
}

interface Host {
  readonly mode: string;
  readonly worldId: string;
  openExecutionCore(): Promise<ExecutionCore>;
  readonly logger: { info(msg: string, fields?: Record<string, unknown>): void };
}

interface BridgeDriver {
  onCommit(ctx: CommitContext): Promise<CommitResult>;
  info(): Promise<Info>;
  close(): Promise<void>;
  summary(agentLimit?: number): Promise<Record<string, unknown>>;
  agent(id: string): Promise<Record<string, unknown> | null>;
  journal(from: number, limit: number): Promise<unknown>;
}

async function create(host: Host): Promise<BridgeDriver> {
  const core = await host.openExecutionCore();
  const start = core.info();
  host.logger.info("bridge driver opened the execution core", {
    world_id: host.worldId,
    mode: host.mode,
    last_height: start.lastHeight,
  });
  return {
    // The core is idempotent for applied heights, fills gaps from the host's
    // block reader and refuses a conflicting node block hash.
    onCommit: (ctx) => core.executeThrough(ctx),
    // Read from the core's state file (loaded at open, kept current by the core).
    info: () => Promise.resolve(core.info()),
    close: () => core.close(),
    // The optional capabilities, read from the core's state (the host's helpers).
    summary: (agentLimit) => core.summary(agentLimit),
    agent: (id) => core.agent(id),
    journal: (from, limit) => core.journal(from, limit),
  };
}

export default {
  name: "bridge",
  apiVersion: 1,
  description: "default driver: the shared execution core (world step, CAS chunks, records)",
  create,
};
