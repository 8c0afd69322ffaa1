import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { AwrError } from "../../src/errors.ts";
import { type HttpServer, type HttpServerOptions, startHttpServer } from "../../src/live/http.ts";
import {
  HttpError,
  MAX_ACTIONS_PER_REQUEST,
  parseHeightParam,
  tokenMatches,
} from "../../src/live/http_input.ts";
import { SseHub } from "../../src/live/sse.ts";
import { VIEWER_ELEMENT_IDS } from "../../src/live/viewer_page.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";

type Json = Record<string, unknown>;

async function withServer(
  fn: (base: string, api: FakeLiveApi, server: HttpServer) => Promise<void>,
  options: Partial<HttpServerOptions> = {},
): Promise<void> {
  const api = new FakeLiveApi();
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0, ...options });
  try {
    await fn(server.url.replace(/\/$/, ""), api, server);
  } finally {
    await server.shutdown();
    api.close();
  }
}

async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; res: Response }> {
  const res = await fetch(url, init);
  const text = await res.text();
  assertMatch(
    res.headers.get("content-type") ?? "",
    /^application\/json/,
    `content type of ${url}`,
  );
  return { status: res.status, body: JSON.parse(text), res };
}

/** Reads the event stream until `pattern` shows up (or 3 s pass). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  seen = { text: "" },
): Promise<string> {
  const dec = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${seen.text}`)), 3000);
  });
  try {
    while (!pattern.test(seen.text)) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`stream ended before ${pattern}: ${seen.text}`);
      seen.text += dec.decode(value, { stream: true });
    }
    return seen.text;
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function frames(text: string, event: string): Json[] {
  return text.split("\n\n")
    .filter((f) => f.startsWith(`event: ${event}\n`))
    .map((f) => JSON.parse(f.split("\n").find((l) => l.startsWith("data: "))!.slice(6)));
}

Deno.test("parseHeightParam: positive decimal integers only", () => {
  assertEquals(parseHeightParam("1"), 1);
  assertEquals(parseHeightParam("9007199254740991"), Number.MAX_SAFE_INTEGER);
  for (const bad of ["abc", "-1", "1.5", "0", "", "1e3", " 1", "0x10", "99999999999999999999"]) {
    const err = assertThrows(() => parseHeightParam(bad), HttpError);
    assertEquals(err.status, 400, bad);
    assertStringIncludes(err.message, "height", bad);
  }
});

Deno.test("tokenMatches: equal tokens only, never an empty one", () => {
  assert(tokenMatches("abc123", "abc123"));
  assert(!tokenMatches("abc123", "abc124"));
  assert(!tokenMatches("abc123", "abc1234"));
  assert(!tokenMatches("abc123", "abc12"));
  assert(!tokenMatches("abc123", ""));
  assert(!tokenMatches("", ""));
});

Deno.test("GET /v1/status and /v1/world answer the node's JSON", async () => {
  await withServer(async (base, api) => {
    api.advance();
    api.advance();
    const { status, body, res } = await getJson(`${base}/v1/status`);
    assertEquals(status, 200);
    assertEquals(res.headers.get("cache-control"), "no-store");
    assertEquals(res.headers.get("x-content-type-options"), "nosniff");
    assertEquals(body.node_id, "node-fake");
    assertEquals(body.world_id, "world-fake");
    const c = body.consensus as Json;
    assertEquals(c.committed_height, 2);
    assertEquals(c.last_execution_height, 2);
    assertEquals(c.last_block_hash, api.blocks[1].hash);
    const world = await getJson(`${base}/v1/world`);
    assertEquals(world.status, 200);
    assertEquals(world.body.clock, 2);
    assertEquals(world.body.agent_count, 0);
  });
});

Deno.test("GET /v1/blocks and /v1/records: found, 404, and 400 for bad heights", async () => {
  await withServer(async (base, api) => {
    for (let i = 0; i < 3; i++) api.advance();
    const block = await getJson(`${base}/v1/blocks/2`);
    assertEquals(block.status, 200);
    assertEquals(block.body.height, 2);
    assertEquals(block.body.hash, api.blocks[1].hash);
    assertEquals((block.body.header as Json).parent_hash, api.blocks[0].hash);
    const record = await getJson(`${base}/v1/records/3`);
    assertEquals(record.status, 200);
    assertEquals(record.body.height, 3);
    assertEquals(record.body.node_block_hash, api.blocks[2].hash);
    assertEquals(record.body.prev_execution_block_hash, api.records[1].execution_block_hash);

    for (const kind of ["blocks", "records"]) {
      const missing = await getJson(`${base}/v1/${kind}/4`);
      assertEquals(missing.status, 404);
      assertStringIncludes(String(missing.body.error), "height 4");
      for (const bad of ["abc", "-1", "1.5", "0"]) {
        const r = await getJson(`${base}/v1/${kind}/${bad}`);
        assertEquals(r.status, 400, `${kind}/${bad}`);
        assertEquals(r.body.code, "HTTP_BAD_HEIGHT");
        assertStringIncludes(String(r.body.error), "height");
      }
    }
    const empty = await getJson(`${base}/v1/blocks/`);
    assertEquals(empty.status, 400);
  });
});

Deno.test("POST /v1/actions: token, JSON and action checks; accepted actions reach a block", async () => {
  await withServer(async (base, api) => {
    const url = `${base}/v1/actions`;
    const auth = { authorization: `Bearer ${api.token}`, "content-type": "application/json" };
    const register = JSON.stringify({ kind: "register", agent: "ada", x: 1, y: 2 });

    const noToken = await getJson(url, { method: "POST", body: register });
    assertEquals(noToken.status, 401);
    assertStringIncludes(String(noToken.body.error), "missing bearer token");
    assertMatch(noToken.res.headers.get("www-authenticate") ?? "", /^Bearer/);
    const wrong = await getJson(url, {
      method: "POST",
      headers: { authorization: "Bearer not-the-token" },
      body: register,
    });
    assertEquals(wrong.status, 401);
    assertStringIncludes(String(wrong.body.error), "wrong bearer token");

    const malformed = await getJson(url, { method: "POST", headers: auth, body: "{kind: " });
    assertEquals(malformed.status, 400);
    assertStringIncludes(String(malformed.body.error), "malformed JSON");
    const unknown = await getJson(url, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ kind: "teleport", agent: "ada" }),
    });
    assertEquals(unknown.status, 400);
    assertEquals(unknown.body.code, "ACTION_UNKNOWN_KIND");
    assertStringIncludes(String(unknown.body.error), 'unknown action kind "teleport"');
    const badField = await getJson(url, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ kind: "move", agent: "ada", dx: "far", dy: 0 }),
    });
    assertEquals(badField.status, 400);
    assertStringIncludes(String(badField.body.error), '"dx" must be an integer');
    const notObject = await getJson(url, { method: "POST", headers: auth, body: "[1]" });
    assertEquals(notObject.status, 400);
    const badBatch = await getJson(url, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ actions: [{ kind: "rest", agent: "ada" }, { kind: "rest" }] }),
    });
    assertEquals(badBatch.status, 400);
    assertStringIncludes(String(badBatch.body.error), "actions[1]");
    assertEquals(api.submitted.length, 0, "nothing is queued from a refused request");

    const ok = await getJson(url, { method: "POST", headers: auth, body: register });
    assertEquals(ok.status, 202);
    assertEquals(ok.body.accepted, 1);
    assertEquals(ok.body.mempool_size, 1);
    const batch = await getJson(url, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        actions: [
          { kind: "grant", agent: "ada", resource: "wood", amount: 5 },
          { kind: "move", agent: "ada", dx: 1, dy: 0 },
        ],
      }),
    });
    assertEquals(batch.status, 202);
    assertEquals(batch.body.accepted, 2);
    assertEquals(batch.body.mempool_size, 3);
    assertEquals(api.submitted.map((a) => a.kind), ["register", "grant", "move"]);
    assertEquals(api.submitted[0], { kind: "register", agent: "ada", x: 1, y: 2 });

    api.advance();
    const block = await getJson(`${base}/v1/blocks/1`);
    assertEquals((block.body.actions as Json[]).map((a) => a.kind), ["register", "grant", "move"]);
    const world = await getJson(`${base}/v1/world`);
    assertEquals(world.body.agent_count, 1);
    assertEquals(world.body.resource_totals, { wood: 5 });
  });
});

Deno.test("POST /v1/actions: 413 beyond 256 actions or 64 KiB, 503 when the node refuses", async () => {
  await withServer(async (base, api) => {
    const url = `${base}/v1/actions`;
    const headers = { authorization: `Bearer ${api.token}` };
    const many = Array.from(
      { length: MAX_ACTIONS_PER_REQUEST + 1 },
      () => ({ kind: "rest", agent: "a" }),
    );
    const tooMany = await getJson(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ actions: many }),
    });
    assertEquals(tooMany.status, 413);
    assertStringIncludes(String(tooMany.body.error), "257 actions");
    const big = JSON.stringify({ kind: "rest", agent: "a", pad: "x".repeat(70_000) });
    const tooBig = await getJson(url, { method: "POST", headers, body: big });
    assertEquals(tooBig.status, 413);
    // Without a content-length (a stream), the limit still holds.
    const streamed = await getJson(url, {
      method: "POST",
      headers,
      body: ReadableStream.from([new TextEncoder().encode(big)]),
    });
    assertEquals(streamed.status, 413);
    const full = await getJson(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ actions: many.slice(0, MAX_ACTIONS_PER_REQUEST) }),
    });
    assertEquals(full.status, 202);
    assertEquals(full.body.accepted, 256);
    assertEquals(api.submitted.length, 256);
  });
  const api = new FakeLiveApi({ mempoolLimit: 1 });
  const server = await startHttpServer(api, { port: 0 });
  try {
    const two = { actions: [{ kind: "rest", agent: "a" }, { kind: "rest", agent: "b" }] };
    const refused = await getJson(`${server.url}v1/actions`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}` },
      body: JSON.stringify(two),
    });
    assertEquals(refused.status, 503);
    assertEquals(refused.body.code, "MEMPOOL_FULL");
    assertEquals(api.submitted.length, 0, "a refused batch queues nothing");
  } finally {
    await server.shutdown();
    api.close();
  }
});

Deno.test("405 for other methods, 404 for unknown paths, 500 when the api fails", async () => {
  await withServer(async (base, api) => {
    const del = await getJson(`${base}/v1/status`, { method: "DELETE" });
    assertEquals(del.status, 405);
    assertEquals(del.res.headers.get("allow"), "GET, HEAD");
    const getActions = await getJson(`${base}/v1/actions`);
    assertEquals(getActions.status, 405);
    assertEquals(getActions.res.headers.get("allow"), "POST");
    const postStatus = await getJson(`${base}/v1/status`, { method: "POST", body: "{}" });
    assertEquals(postStatus.status, 405);
    for (const path of ["/nope", "/v1", "/v1/status/", "/v1/blocks/1/extra"]) {
      const r = await getJson(base + path);
      assertEquals(r.status, 404, path);
      assertEquals(typeof r.body.error, "string");
    }
    api.failStatus = true;
    const failed = await getJson(`${base}/v1/status`);
    assertEquals(failed.status, 500);
    assertStringIncludes(String(failed.body.error), "status store unavailable");
    api.failStatus = false;
    assertEquals((await getJson(`${base}/v1/status`)).status, 200, "the server survives");
  });
});

Deno.test("GET / serves the self-contained viewer page", async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/`);
    const html = await res.text();
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type") ?? "", /^text\/html/);
    assertMatch(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assertGreater(VIEWER_ELEMENT_IDS.length, 10);
    for (const id of VIEWER_ELEMENT_IDS) {
      assertEquals(html.split(`id="${id}"`).length, 2, `exactly one element with id ${id}`);
    }
    assert(!/(src|href)="https?:/.test(html), "no external resources");
    assertStringIncludes(html, 'new EventSource("/v1/events")');
  });
});

Deno.test("GET /v1/events streams commits and executions, and unsubscribes when the client leaves", async () => {
  await withServer(async (base, api) => {
    const before = api.events.listenerCount();
    const res = await fetch(`${base}/v1/events`);
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, /: connected\n\n/, seen);
    assertEquals(api.events.listenerCount("commit"), 2, "metrics + one stream");
    assertStringIncludes(api.metrics.render(), "awr_sse_clients 1");

    api.submitAction({ kind: "register", agent: "bob" });
    api.advance();
    const text = await readUntil(reader, /event: execution\n.*\n\n/, seen);
    const [commit] = frames(text, "commit");
    assertEquals(commit.height, 1);
    assertEquals(commit.hash, api.blocks[0].hash);
    assertEquals(commit.action_count, 1);
    const [execution] = frames(text, "execution");
    assertEquals(execution.execution_height, 1);
    assertEquals(execution.execution_block_hash, api.records[0].execution_block_hash);
    assertEquals(execution.execution_state_root, api.records[0].execution_state_root);

    api.events.emit("error", { source: "execution", height: 2, message: "driver down" });
    const withError = await readUntil(reader, /event: node-error\n/, seen);
    assertEquals(frames(withError, "node-error")[0].message, "driver down");

    await reader.cancel();
    await waitFor(() => api.events.listenerCount() === before, "the stream to unsubscribe");
    assertStringIncludes(api.metrics.render(), "awr_sse_clients 0");
  });
});

Deno.test("GET /v1/events: pings, and shutdown ends open streams", async () => {
  const api = new FakeLiveApi();
  const server = await startHttpServer(api, { port: 0, sse: { pingMs: 20 } });
  const res = await fetch(`${server.url}v1/events`);
  const reader = res.body!.getReader();
  try {
    await readUntil(reader, /: ping\n\n/);
    assertEquals(api.events.listenerCount("commit"), 2);
  } finally {
    await server.shutdown();
  }
  // The stream was closed by the server: the reader sees its end.
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  api.close();
  assertEquals(api.events.listenerCount(), 0);
});

Deno.test("startHttpServer: a busy port is a clear HTTP_LISTEN error", async () => {
  const api = new FakeLiveApi();
  const first = await startHttpServer(api, { port: 0 });
  try {
    const err = await assertRejects(
      () => startHttpServer(api, { port: first.port }),
      AwrError,
    );
    assertEquals(err.code, "HTTP_LISTEN");
    assertStringIncludes(err.message, `127.0.0.1:${first.port}`);
    await assertRejects(() => startHttpServer(api, { port: 70000 }), AwrError, "port");
  } finally {
    await first.shutdown();
    api.close();
  }
});

Deno.test("SseHub drops a client that stops reading, and unsubscribes it", async () => {
  const api = new FakeLiveApi();
  const hub = new SseHub(api.events, { maxQueuedFrames: 5 });
  const res = hub.open(new AbortController().signal);
  assertEquals(hub.clientCount, 1);
  for (let i = 0; i < 4; i++) api.commitNext();
  assertEquals(hub.clientCount, 1, "a short backlog is fine");
  for (let i = 0; i < 4; i++) api.commitNext();
  assertEquals(hub.clientCount, 0, "a long backlog drops the client");
  api.close();
  assertEquals(api.events.listenerCount(), 0);
  // What was queued is still delivered, then the stream ends.
  const text = await res.text();
  assertEquals(frames(text, "commit").map((f) => f.height), [1, 2, 3, 4, 5, 6]);
});
