import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { AwrError, type ErrorCode } from "../../src/errors.ts";
import { startHttpServer, statusOfCode } from "../../src/live/http.ts";
import { startLiveNode } from "../../src/live/live.ts";
import type { SubmitResult } from "../../src/node/mempool.ts";
import type { WorldAction } from "../../src/world/actions.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";
import { waitForAsync } from "../support/hooks.ts";

type Json = Record<string, unknown>;

async function call(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; retryAfter?: string }> {
  const res = await fetch(url, init);
  const body = JSON.parse(await res.text());
  const retryAfter = res.headers.get("retry-after");
  return retryAfter === null
    ? { status: res.status, body }
    : { status: res.status, body, retryAfter };
}

/** A fake node that refuses every write with `code`. */
class RefusingApi extends FakeLiveApi {
  constructor(readonly code: ErrorCode) {
    super();
  }
  override submitActions(_a: WorldAction[], _k: string | null): Promise<SubmitResult> {
    return Promise.reject(new AwrError<ErrorCode>(this.code, `refused: ${this.code}`, {}));
  }
}

Deno.test("POST /v1/actions with an Idempotency-Key: a retry answers the same ids and queues nothing", async () => {
  const api = new FakeLiveApi();
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
  try {
    const post = (body: unknown, key?: string) =>
      call(`${server.url}v1/actions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${api.token}`,
          ...(key === undefined ? {} : { "idempotency-key": key }),
        },
        body: JSON.stringify(body),
      });
    const batch = { actions: [{ kind: "register", agent: "ada" }, { kind: "rest", agent: "ada" }] };
    const first = await post(batch, "order-17");
    assertEquals(first.status, 202);
    assertEquals(first.body.replayed, false);
    const ids = first.body.ids as string[];
    assertEquals(ids.length, 2);
    const retry = await post(batch, "order-17");
    assertEquals(retry.status, 200);
    assertEquals(retry.body.ids, ids);
    assertEquals(retry.body.replayed, true);
    assertEquals(api.submitted.length, 2, "the retry queued nothing");
    const ascii = await post(batch, "caf\u00e9");
    assertEquals(ascii.status, 400);

    const longest = await post({ actions: [{ kind: "rest", agent: "bob" }] }, "x".repeat(128));
    assertEquals(longest.status, 202, "a key of exactly 128 characters is accepted");
    const bad = await post(batch, "x".repeat(129));
    assertEquals(bad.status, 400);
    assertEquals(bad.body.code, "HTTP_BAD_IDEMPOTENCY_KEY");

    const pending = await call(`${server.url}v1/actions/${ids[1]}`);
    assertEquals(pending, { status: 200, body: { id: ids[1], state: "pending" } });
    api.advance();
    const included = await call(`${server.url}v1/actions/${ids[1]}`);
    assertEquals(included.body, {
      id: ids[1],
      state: "included",
      height: 1,
      index: 1,
      executed: true,
    });
    // The world's verdict: resting an agent that does not exist is rejected.
    const ghost = await post({ actions: [{ kind: "rest", agent: "ghost" }] });
    api.advance();
    const rejected = await call(`${server.url}v1/actions/${(ghost.body.ids as string[])[0]}`);
    assertEquals(rejected.body.state, "rejected");
    assertEquals(rejected.body.reason, "unknown_agent");
    const unknown = await call(`${server.url}v1/actions/${"0".repeat(32)}`);
    assertEquals(unknown.status, 404);
    assertEquals(unknown.body.code, "ACTION_UNKNOWN");
    const malformed = await call(`${server.url}v1/actions/nope`);
    assertEquals(malformed.status, 400);
    assertEquals(malformed.body.code, "HTTP_BAD_ACTION_ID");
  } finally {
    await server.shutdown();
    api.close();
  }
});

Deno.test("node refusals map to statuses with the code in the body (NODE_HALTED → 503)", async () => {
  assertEquals(statusOfCode("NODE_HALTED"), 503);
  assertEquals(statusOfCode("SOMETHING_ELSE"), null);
  for (
    const [code, status] of [
      ["NODE_HALTED", 503],
      ["MEMPOOL_FULL", 503],
      ["MEMPOOL_IO", 503],
      ["IDEMPOTENCY_KEY_REUSED", 409],
      ["CORE_CLOSED", 500],
    ] as const
  ) {
    const api = new RefusingApi(code);
    const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
    try {
      const res = await call(`${server.url}v1/actions`, {
        method: "POST",
        headers: { authorization: `Bearer ${api.token}` },
        body: JSON.stringify({ kind: "rest", agent: "ada" }),
      });
      assertEquals(res.status, status, code);
      if (status !== 500) assertEquals(res.body.code, code);
      assertEquals(res.retryAfter, status === 503 ? "1" : undefined, `Retry-After of ${code}`);
    } finally {
      await server.shutdown();
      api.close();
    }
  }
});

Deno.test("live node: an acknowledged action is included exactly once, and its status says where", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-http-actions-" });
  const live = await startLiveNode({
    dataDir,
    http: { hostname: "127.0.0.1", port: 0 },
    tickMs: 20,
    statusEveryMs: 0,
    rewardIntervalMs: 50,
  });
  try {
    const url = live.http!.url;
    const init = {
      method: "POST",
      headers: { authorization: `Bearer ${live.token}`, "idempotency-key": "k-live-1" },
      body: JSON.stringify({ actions: [{ kind: "register", agent: "ada" }] }),
    };
    const first = await call(`${url}v1/actions`, init);
    assertEquals(first.status, 202);
    const id = (first.body.ids as string[])[0];
    let status: Json = {};
    const included = await waitForAsync(async () => {
      status = (await call(`${url}v1/actions/${id}`)).body;
      return status.state === "included";
    }, 10_000);
    assert(included, `action ${id} was never included: ${JSON.stringify(status)}`);
    const again = await call(`${url}v1/actions`, init);
    assertEquals(again.status, 200);
    assertEquals(again.body.ids, [id]);
    const block = await call(`${url}v1/blocks/${status.height}`);
    const actions = block.body.actions as Json[];
    assertEquals(actions[status.index as number], { kind: "register", agent: "ada" });
    // Wait a few more heights: the retry must not have queued a second copy.
    const h = status.height as number;
    assert(
      await waitForAsync(
        () => Promise.resolve(live.node.durableCommittedHeight > h + 3),
        10_000,
      ),
      "the node kept committing",
    );
    let copies = 0;
    for (let i = 1; i <= live.node.durableCommittedHeight; i++) {
      const b = await live.node.blocks.getBlock(i);
      copies += b?.actions.filter((a) => a.kind === "register" && a.agent === "ada").length ?? 0;
    }
    assertEquals(copies, 1);
    assertStringIncludes(JSON.stringify(await live.status()), '"mempool_size":0');
    // The world's verdict, read from the execution record's journal segment.
    const ghost = await call(`${url}v1/actions`, {
      method: "POST",
      headers: { authorization: `Bearer ${live.token}` },
      body: JSON.stringify({ kind: "rest", agent: "ghost" }),
    });
    const ghostId = (ghost.body.ids as string[])[0];
    let verdict: Json = {};
    const judged = await waitForAsync(async () => {
      verdict = (await call(`${url}v1/actions/${ghostId}`)).body;
      return verdict.state === "rejected";
    }, 10_000);
    assert(judged, `never rejected: ${JSON.stringify(verdict)}`);
    assertEquals(verdict.reason, "unknown_agent");
    const ada = await call(`${url}v1/actions/${id}`);
    assertEquals(ada.body.executed, true);
  } finally {
    await live.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
