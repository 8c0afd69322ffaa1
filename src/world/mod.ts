/**
 * The deterministic agent world (pure): actions, the state machine, its chunked
 * wire form and a summary for viewers.
 *
 * @example
 * ```ts
 * import { parseAction, World, worldSummary } from "./mod.ts";
 * const world = new World();
 * world.step({ height: 1, nodeBlockHash: "ab", actions: [parseAction({ kind: "register", agent: "ada" })] });
 * worldSummary(world).agentCount; // 1
 * ```
 * @module
 */
export * from "./actions.ts";
export * from "./agent.ts";
export * from "./events.ts";
export * from "./rules.ts";
export * from "./summary.ts";
export * from "./world.ts";
