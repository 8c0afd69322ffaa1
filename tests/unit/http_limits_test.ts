/**
 * The bounded HTTP server's limits, each at its bound: connection cap, header /
 * body / idle timeouts (small injected timeouts, generous waits), head and body
 * sizes, HEAD, the loopback Host check, the SSE client cap, and a client that
 * leaves mid-body (not a 500).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { isLoopbackHostHeader, startHttpServer } from "../../src/live/http.ts";
import type { HttpServerOptions } from "../../src/live/http.ts";
import { ClientGoneError, serveBounded } from "../../src/live/http_server.ts";
import type { Logger } from "../../src/logger.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";
import { awr } from "../support/cli.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads from `conn` until the server closes it (failing after `ms`); returns the text. */
async function readToEnd(conn: Deno.Conn, ms = 5000): Promise<string> {
  let text = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  try {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new Error(`the server did not close the connection within ${ms} ms`);
  return text;
}

/** Reads until `pattern` matches the text read so far. */
async function readUntil(conn: Deno.Conn, pattern: RegExp, ms = 5000): Promise<string> {
  let text = "";
  const until = Date.now() + ms;
  const buf = new Uint8Array(4096);
  while (!pattern.test(text)) {
    if (Date.now() > until) throw new Error(`no ${pattern} in ${JSON.stringify(text)}`);
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF before ${pattern}: ${JSON.stringify(text)}`);
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

const hello = () => new Response("hello", { headers: { "content-type": "text/plain" } });

Deno.test("connection cap: exactly maxConnections are served, one more gets 503 and is closed", async () => {
  const server = serveBounded(hello, { hostname: "127.0.0.1", port: 0, maxConnections: 3 });
  const held: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) held.push(await connect(server.addr.port));
    await waitFor(() => server.connectionCount === 3, "3 connections");
    const extra = await connect(server.addr.port);
    const refused = await readToEnd(extra);
    extra.close();
    assertMatch(refused, /^HTTP\/1\.1 503 /);
    assertStringIncludes(refused, "HTTP_TOO_MANY_CONNECTIONS");
    assertEquals(server.connectionCount, 3);
    // The held ones are served normally.
    await held[0].write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    assertMatch(await readUntil(held[0], /hello$/), /^HTTP\/1\.1 200 OK/);
    // One leaves: a new connection gets in.
    held.pop()!.close();
    await waitFor(() => server.connectionCount === 2, "a freed slot");
    const next = await connect(server.addr.port);
    await next.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    const ok = await readToEnd(next);
    next.close();
    assertMatch(ok, /^HTTP\/1\.1 200 OK/);
  } finally {
    held.forEach((c) => c.close());
    await server.shutdown();
  }
});

Deno.test("header timeout: a half-sent head is dropped; a whole head in time is served", async () => {
  const server = serveBounded(hello, { hostname: "127.0.0.1", port: 0, headerTimeoutMs: 200 });
  try {
    const slow = await connect(server.addr.port);
    await slow.write(enc.encode("GET / HTTP/1.1\r\nHost: loc"));
    const started = Date.now();
    assertEquals(await readToEnd(slow, 10_000), "", "closed without an answer");
    slow.close();
    assert(Date.now() - started < 10_000);
    await waitFor(() => server.connectionCount === 0, "the slow client dropped");
    // An idle connection that never sends a byte is dropped too.
    const silent = await connect(server.addr.port);
    assertEquals(await readToEnd(silent, 10_000), "");
    silent.close();
    const fine = await connect(server.addr.port);
    await fine.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    assertMatch(await readToEnd(fine), /^HTTP\/1\.1 200 OK[\s\S]*hello$/);
    fine.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("keep-alive: two requests on one connection, then the idle timeout closes it", async () => {
  const server = serveBounded(hello, { hostname: "127.0.0.1", port: 0, idleTimeoutMs: 200 });
  try {
    const c = await connect(server.addr.port);
    for (let i = 0; i < 2; i++) {
      await c.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      const r = await readUntil(c, /hello$/);
      assertStringIncludes(r, "connection: keep-alive");
      assertStringIncludes(r, "content-length: 5");
    }
    assertEquals(await readToEnd(c, 10_000), "", "closed after idling");
    c.close();
    await waitFor(() => server.connectionCount === 0, "idle connection closed");
  } finally {
    await server.shutdown();
  }
});

Deno.test("head size: maxHeaderBytes is accepted, one byte more is 431", async () => {
  const max = 200;
  const server = serveBounded(hello, { hostname: "127.0.0.1", port: 0, maxHeaderBytes: max });
  try {
    const head = (size: number) => {
      const base = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: ";
      return base + "a".repeat(size - base.length);
    };
    assertEquals(head(max).length, max);
    for (const [size, status] of [[max, 200], [max + 1, 431]] as const) {
      const c = await connect(server.addr.port);
      await c.write(enc.encode(head(size) + "\r\n\r\n"));
      assertMatch(await readToEnd(c), new RegExp(`^HTTP/1\\.1 ${status} `), `head of ${size}`);
      c.close();
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("body size and body timeout: maxBodyBytes read, one more is 413, a stalled body times out", async () => {
  const seen: string[] = [];
  const server = serveBounded(async (req) => {
    try {
      return new Response(String((await req.arrayBuffer()).byteLength));
    } catch (err) {
      seen.push(err instanceof ClientGoneError ? err.code : String(err));
      return new Response("gone", { status: 400 });
    }
  }, { hostname: "127.0.0.1", port: 0, maxBodyBytes: 10, bodyTimeoutMs: 200 });
  try {
    for (
      const [size, expect] of [[10, /^HTTP\/1\.1 200 [\s\S]*\r\n10$/], [
        11,
        /^HTTP\/1\.1 413 /,
      ]] as const
    ) {
      const c = await connect(server.addr.port);
      await c.write(
        enc.encode(
          `POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n` +
            "x".repeat(size),
        ),
      );
      assertMatch(await readToEnd(c), expect, `body of ${size}`);
      c.close();
    }
    const slow = await connect(server.addr.port);
    await slow.write(
      enc.encode("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc"),
    );
    await readToEnd(slow, 10_000);
    slow.close();
    await waitFor(() => seen.length === 1, "the body timeout");
    assertEquals(seen, ["HTTP_BODY_TIMEOUT"]);
    // A chunked body is read too.
    const chunked = await connect(server.addr.port);
    await chunked.write(
      enc.encode(
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      ),
    );
    assertMatch(await readToEnd(chunked), /^HTTP\/1\.1 200 [\s\S]*\r\n5$/);
    chunked.close();
  } finally {
    await server.shutdown();
  }
});

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (l: string) => (msg: string) => lines.push(`${l} ${msg}`);
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

async function withApi(
  fn: (port: number, api: FakeLiveApi) => Promise<void>,
  options: Partial<HttpServerOptions> = {},
): Promise<void> {
  const api = new FakeLiveApi();
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0, ...options });
  try {
    await fn(server.port, api);
  } finally {
    await server.shutdown();
    api.close();
  }
}

Deno.test("a client that leaves mid-body is a debug line, not a 500", async () => {
  const { logger, lines } = capture();
  await withApi(async (port, api) => {
    const c = await connect(port);
    await c.write(
      enc.encode(
        `POST /v1/actions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${api.token}\r\n` +
          `Content-Length: 100\r\n\r\n{"kind":`,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await waitFor(() => lines.some((l) => l.startsWith("debug request body")), "the debug line");
    assertEquals(lines.filter((l) => l.startsWith("error")), []);
    assertEquals(api.submitted.length, 0);
    assert(!/code="500"/.test(api.metrics.render()), "no 500 counted");
    assertMatch(api.metrics.render(), /route="actions",code="400"/);
  }, { logger });
});

Deno.test("HEAD answers like GET without a body, also on /v1/events", async () => {
  await withApi(async (port) => {
    const get = await fetch(`http://127.0.0.1:${port}/v1/status`);
    const body = await get.text();
    const head = await fetch(`http://127.0.0.1:${port}/v1/status`, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("content-length"), String(enc.encode(body).length));
    assertEquals(await head.text(), "");
    const events = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: "HEAD" });
    assertEquals(events.status, 200);
    assertMatch(events.headers.get("content-type") ?? "", /^text\/event-stream/);
    assertEquals(await events.text(), "");
  });
});

Deno.test("bound to loopback, a Host that is not a loopback name is refused 421", async () => {
  await withApi(async (port) => {
    const ask = async (host: string) => {
      const c = await connect(port);
      await c.write(
        enc.encode(`GET /v1/status HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      );
      const text = await readToEnd(c);
      c.close();
      return text;
    };
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "127.1.2.3"]) {
      assertMatch(await ask(host), /^HTTP\/1\.1 200 /, host);
    }
    for (const host of [`evil.example:${port}`, "attacker.test", "127.0.0.1.evil.test", ""]) {
      const r = await ask(host);
      assertMatch(r, /^HTTP\/1\.1 421 /, host);
      assertStringIncludes(r, "HTTP_HOST_REFUSED");
    }
  });
});

Deno.test("malformed requests get a 4xx/5xx and are closed, never a logged 500", async () => {
  const { logger, lines } = capture();
  await withApi(async (port) => {
    for (
      const [raw, status] of [
        ["TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400],
        ["GET nope HTTP/1.1\r\nHost: localhost\r\n\r\n", 400],
        ["GET / HTTP/1.1\r\n\r\n", 400],
        ["GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505],
        ["GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n", 400],
        ["POST /v1/actions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
        ["POST /v1/actions HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", 400],
        ["POST /v1/actions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9999999\r\n\r\n", 413],
      ] as const
    ) {
      const c = await connect(port);
      await c.write(enc.encode(raw));
      assertMatch(await readToEnd(c), new RegExp(`^HTTP/1\\.1 ${status} `), raw);
      c.close();
    }
    assertEquals(lines.filter((l) => l.startsWith("error")), []);
  }, { logger });
});

Deno.test("isLoopbackHostHeader: loopback names with or without port only", () => {
  for (
    const ok of ["localhost", "LOCALHOST:80", "127.0.0.1", "127.255.0.9:7070", "[::1]", "[::1]:1"]
  ) {
    assert(isLoopbackHostHeader(ok), ok);
  }
  for (
    const bad of ["", "evil.com", "127.0.0.1.nip.io", "[::2]", "localhost:x", "0.0.0.0", "::1"]
  ) {
    assert(!isLoopbackHostHeader(bad), bad);
  }
});

Deno.test("SSE client cap: maxClients streams, one more is 503", async () => {
  await withApi(async (port) => {
    const open = await Promise.all(
      [0, 1].map(() => fetch(`http://127.0.0.1:${port}/v1/events`)),
    );
    try {
      open.forEach((r) => assertEquals(r.status, 200));
      const third = await fetch(`http://127.0.0.1:${port}/v1/events`);
      assertEquals(third.status, 503);
      assertEquals((await third.json()).code, "HTTP_SSE_FULL");
    } finally {
      for (const r of open) await r.body?.cancel();
    }
  }, { sse: { maxClients: 2 } });
});

Deno.test("shutdown closes idle keep-alive and half-sent-head connections at once", async () => {
  const server = serveBounded(hello, {
    hostname: "127.0.0.1",
    port: 0,
    idleTimeoutMs: 60_000,
    headerTimeoutMs: 60_000,
    shutdownGraceMs: 60_000,
  });
  const c = await connect(server.addr.port);
  await c.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  await readUntil(c, /hello$/);
  const half = await connect(server.addr.port);
  await half.write(enc.encode("GET / HTTP/1.1\r\nHo"));
  await waitFor(() => server.connectionCount === 2, "both connections");
  // Were shutdown to wait for them, the 60 s timeouts and grace would time the test out.
  await server.shutdown();
  assertEquals(await readToEnd(c), "");
  assertEquals(await readToEnd(half), "");
  c.close();
  half.close();
  assertEquals(server.connectionCount, 0);
});

Deno.test("awr live refuses bad --http-* limits with one line naming the flag", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "awr-cli-limits-" });
  try {
    for (
      const flag of [
        "--http-max-connections",
        "--http-max-sse-clients",
        "--http-header-timeout-ms",
        "--http-body-timeout-ms",
        "--http-idle-timeout-ms",
      ]
    ) {
      for (const bad of ["0", "x"]) {
        const r = await awr("live", "--data-dir", dataDir, flag, bad);
        assertEquals(r.code, 2, `${flag} ${bad}: ${r.err}`);
        assertStringIncludes(r.err, flag);
      }
    }
    assertEquals([...Deno.readDirSync(dataDir)], [], "nothing was written");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("write timeout: a client that stops reading a large response is dropped", async () => {
  const big = new Uint8Array(32 * 1024 * 1024); // more than loopback socket buffers hold
  const server = serveBounded(() => new Response(big), {
    hostname: "127.0.0.1",
    port: 0,
    writeTimeoutMs: 200,
  });
  const c = await connect(server.addr.port);
  try {
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    await waitFor(() => server.connectionCount === 1, "the connection");
    // Never read: the server's write stalls, then its timeout closes the socket.
    await waitFor(() => server.connectionCount === 0, "the stalled writer dropped", 10_000);
  } finally {
    c.close();
    await server.shutdown();
  }
});

Deno.test("shutdown grace: a request stuck in its handler is cut off after shutdownGraceMs", async () => {
  const release = Promise.withResolvers<void>();
  const server = serveBounded(async () => {
    await release.promise;
    return new Response("late");
  }, { hostname: "127.0.0.1", port: 0, shutdownGraceMs: 100 });
  const c = await connect(server.addr.port);
  try {
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    await waitFor(() => server.connectionCount === 1, "the request");
    await new Promise((r) => setTimeout(r, 50));
    const stopping = server.shutdown();
    // The socket is closed after the grace, and shutdown ends, although the handler hangs.
    assertEquals(await readToEnd(c, 10_000), "");
    await stopping;
    release.resolve();
    await waitFor(() => server.connectionCount === 0, "the handler's task ended");
  } finally {
    release.resolve();
    c.close();
  }
});
