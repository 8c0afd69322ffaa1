/**
 * The test link proxy (tests/support/link_proxy.ts) that the full-tier link-cut test
 * relies on: it forwards bytes, `cut()` closes open links and refuses new ones,
 * `restore()` accepts again, and it carries at most MAX_PROXY_CONNECTIONS at once.
 */
import { assert, assertEquals } from "@std/assert";
import { LinkProxy, MAX_PROXY_CONNECTIONS } from "../support/link_proxy.ts";

/** An echo server on 127.0.0.1:0. */
function echoServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    try {
      for await (const c of listener) {
        conns.add(c);
        tasks.push((async () => {
          const buf = new Uint8Array(1024);
          try {
            for (let n = await c.read(buf); n !== null; n = await c.read(buf)) {
              await c.write(buf.subarray(0, n));
            }
          } catch { /* closed */ }
          conns.delete(c);
          try {
            c.close();
          } catch { /* closed */ }
        })());
      }
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
      await Promise.all(tasks);
    },
  };
}

/** Sends "ping" and returns what came back ("" when the link closed). */
async function ping(c: Deno.Conn): Promise<string> {
  try {
    await c.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(16);
    const n = await c.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    return "";
  }
}

function closeAll(conns: readonly Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed already */ }
  }
}

Deno.test("link proxy: forwards, cut closes and refuses, restore accepts again", async () => {
  const echo = echoServer();
  const proxy = LinkProxy.start(echo.port);
  const conns: Deno.Conn[] = [];
  const connect = async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    conns.push(c);
    return c;
  };
  try {
    const a = await connect();
    assertEquals(await ping(a), "ping");
    assertEquals(proxy.open, 1);
    proxy.cut();
    assertEquals(proxy.open, 0);
    assertEquals(await ping(a), "");
    assertEquals(await ping(await connect()), "");
    assertEquals(proxy.counts.refused, 1);
    proxy.restore();
    assertEquals(await ping(await connect()), "ping");
  } finally {
    closeAll(conns);
    await proxy.close();
    await echo.close();
  }
});

Deno.test("link proxy: at most MAX_PROXY_CONNECTIONS links; one more is refused", async () => {
  const echo = echoServer();
  const proxy = LinkProxy.start(echo.port);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < MAX_PROXY_CONNECTIONS; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      conns.push(c);
      assertEquals(await ping(c), "ping");
    }
    assertEquals(proxy.open, MAX_PROXY_CONNECTIONS);
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    conns.push(extra);
    assertEquals(await ping(extra), "");
    assertEquals(proxy.counts.refused, 1);
    assert(proxy.open <= MAX_PROXY_CONNECTIONS);
  } finally {
    closeAll(conns);
    await proxy.close();
    await echo.close();
  }
});
