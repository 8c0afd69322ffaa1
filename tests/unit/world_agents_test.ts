// `/v1/world`'s bounded `agents` sample: the world view lists at most the asked
// number (default 64, at most 1000), sorted by id, with the same fields as
// `/v1/agents/:id`; the HTTP query is checked at its bound; a driver that ignores
// the limit is cut to it.
import { assert, assertEquals } from "@std/assert";
import type { BlockAction } from "../../src/consensus/types.ts";
import { ExecutionCore } from "../../src/execution/core.ts";
import { agentAt, summaryAt, WORLD_AGENTS_LIMIT } from "../../src/execution/world_views.ts";
import { driverApi } from "../../src/live/driver_api.ts";
import { HttpError } from "../../src/live/http_input.ts";
import { parseWorldQuery, worldView } from "../../src/live/http_views.ts";
import { WORLD_RULES } from "../../src/world/rules.ts";
import { blockReader, committedBlock, ctxOf, WORLD } from "../support/chain_fixture.ts";

const AGENTS = 70; // more than the default sample
const name = (i: number) => `agent-${String(i).padStart(2, "0")}`;

async function withWorld(
  fn: (core: ExecutionCore, root: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-world-agents-" });
  const actions: BlockAction[] = Array.from({ length: AGENTS }, (_, i) => ({
    kind: "register",
    agent: name(i),
    x: i,
    y: 2 * i,
  }));
  actions.push({ kind: "grant", agent: name(3), resource: "wood", amount: 7 });
  const block = committedBlock(1, "genesis", actions);
  const core = await ExecutionCore.open({
    dataDir: dir,
    worldId: WORLD,
    blocks: blockReader([block]),
    durable: false,
  });
  try {
    await core.executeThrough(ctxOf(block));
    await fn(core, core.info().lastExecutionStateRoot!);
  } finally {
    await core.close();
    await Deno.remove(dir, { recursive: true });
  }
}

type AgentJson = { id: string; x: number; y: number; energy: number; resources: object };

Deno.test("world view: the agents sample holds the default 64 of 70 agents, sorted, as /v1/agents/:id has them", async () => {
  await withWorld(async (core, root) => {
    const s = await summaryAt(core.store, root);
    assertEquals(WORLD_AGENTS_LIMIT.default, 64);
    assertEquals(s.agent_count, AGENTS);
    assertEquals(s.size, WORLD_RULES.size);
    const agents = s.agents as AgentJson[];
    assertEquals(agents.length, 64);
    assertEquals(s.agents_truncated, true);
    const ids = agents.map((a) => a.id);
    assertEquals(ids, [...ids].sort());
    assertEquals(new Set(ids).size, 64);
    for (const a of agents) {
      const one = await agentAt(core.store, root, a.id);
      assertEquals(a, {
        id: one!.id,
        x: one!.x,
        y: one!.y,
        energy: one!.energy,
        resources: one!.resources,
      } as AgentJson);
      const i = Number(a.id.slice("agent-".length));
      assertEquals([a.x, a.y], [i, 2 * i]);
    }
  });
});

Deno.test("world view: a limit at or above the agent count lists all; 0 lists none; the max caps it", async () => {
  await withWorld(async (core, root) => {
    const all = await summaryAt(core.store, root, AGENTS);
    assertEquals(
      (all.agents as AgentJson[]).map((a) => a.id),
      Array.from({ length: AGENTS }, (_, i) => name(i)),
    );
    assertEquals(all.agents_truncated, false);
    const granted = (all.agents as AgentJson[]).find((a) => a.id === name(3));
    assertEquals(granted?.resources, { wood: 7 });
    const none = await summaryAt(core.store, root, 0);
    assertEquals([(none.agents as unknown[]).length, none.agents_truncated], [0, true]);
    const one = await summaryAt(core.store, root, 1);
    assertEquals((one.agents as unknown[]).length, 1);
    const huge = await summaryAt(core.store, root, 10 * WORLD_AGENTS_LIMIT.max);
    assertEquals((huge.agents as unknown[]).length, AGENTS);
  });
  // Before any height: no agents, same shape.
  const empty = await summaryAt({ get: () => Promise.reject(new Error("not read")) }, null);
  assertEquals([empty.agents, empty.agents_truncated], [[], false]);
});

Deno.test("GET /v1/world?limit=: default 64, 0..1000 accepted, 1001 refused with HTTP_BAD_QUERY", async () => {
  const q = (s: string) => parseWorldQuery(new URL(`http://127.0.0.1/v1/world${s}`));
  assertEquals(q(""), { limit: 64 });
  assertEquals(q("?limit=0"), { limit: 0 });
  assertEquals(q("?limit=1000"), { limit: WORLD_AGENTS_LIMIT.max });
  // The route hands the limit to the API.
  const asked: (number | undefined)[] = [];
  const api = { world: (n?: number) => (asked.push(n), Promise.resolve({})) };
  await worldView(api, "http://127.0.0.1/v1/world?limit=7");
  await worldView(api, "http://127.0.0.1/v1/world");
  assertEquals(asked, [7, 64]);
  for (const bad of ["?limit=1001", "?limit=-1", "?limit=ten"]) {
    try {
      q(bad);
      throw new Error(`${bad} was accepted`);
    } catch (err) {
      assert(err instanceof HttpError, String(err));
      assertEquals([err.status, err.code, err.context.param], [400, "HTTP_BAD_QUERY", "limit"]);
    }
  }
});

Deno.test("driver api: the limit is passed to the driver's summary, and a longer agents list is cut", async () => {
  const asked: unknown[][] = [];
  const agents = Array.from({ length: 2_000 }, (_, i) => ({ id: `a${i}`, x: 0, y: 0 }));
  const api = driverApi(
    {
      driverName: "greedy",
      capabilities: ["summary"],
      query: (name: string, args: readonly unknown[]) => {
        asked.push([name, ...args]);
        return Promise.resolve({ agent_count: agents.length, agents });
      },
    },
    { executionResult: () => Promise.resolve(null) },
    "/nonexistent",
  );
  const def = await api.world();
  assertEquals((def.agents as unknown[]).length, 64);
  assertEquals(def.agents_truncated, true);
  const ten = await api.world(10);
  assertEquals((ten.agents as unknown[]).length, 10);
  const over = await api.world(5_000);
  assertEquals((over.agents as unknown[]).length, WORLD_AGENTS_LIMIT.max);
  assertEquals(asked, [["summary", 64], ["summary", 10], ["summary", 1_000]]);
});
