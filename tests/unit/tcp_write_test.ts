import { assert, assertEquals } from "@std/assert";
import {
  installJoinedWrites,
  joinedWritesInstalled,
  sendJoined,
} from "../../src/net/_tcp_write.ts";

/** A buffer list like Uint8ArrayList: its chunks, joined by subarray(). */
function list(...chunks: Uint8Array[]) {
  return {
    byteLength: chunks.reduce((n, c) => n + c.length, 0),
    subarray() {
      const out = new Uint8Array(this.byteLength);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    },
  };
}

function socket(wantsMore: boolean) {
  const writes: Uint8Array[] = [];
  return { writes, write: (b: Uint8Array) => (writes.push(b), wantsMore) };
}

Deno.test("tcp write: a Noise frame's length and ciphertext leave in one socket write", () => {
  const s = socket(true);
  const length = Uint8Array.of(0x01, 0xac);
  const cipher = new Uint8Array(428).map((_, i) => i % 251);
  const r = sendJoined.call({ socket: s }, list(length, cipher));
  assertEquals(s.writes.length, 1);
  assertEquals(s.writes[0], Uint8Array.of(0x01, 0xac, ...cipher));
  assertEquals(r, { sentBytes: 430, canSendMore: true });
});

Deno.test("tcp write: back-pressure is the socket's answer, and every byte counts as sent", () => {
  const s = socket(false);
  const r = sendJoined.call({ socket: s }, list(new Uint8Array(3), new Uint8Array(5)));
  assertEquals(r, { sentBytes: 8, canSendMore: false });
  // A plain Uint8Array is written as it is.
  const bytes = Uint8Array.of(9, 8, 7);
  sendJoined.call({ socket: s }, bytes);
  assertEquals(s.writes.length, 2);
  assert(s.writes[1] === bytes);
});

Deno.test("tcp write: installed only on a connection class with its own sendData and a socket, once", () => {
  class NotTcp {
    sendData() {
      return { sentBytes: 0, canSendMore: true };
    }
  }
  assertEquals(installJoinedWrites(new NotTcp()), false);
  assertEquals(installJoinedWrites(null), false);
  class Base {
    sendData() {
      return { sentBytes: -1, canSendMore: true };
    }
  }
  class Inherits extends Base {
    socket = socket(true);
  }
  // sendData on a parent class is not @libp2p/tcp's: left alone.
  assertEquals(installJoinedWrites(new Inherits()), false);
  assertEquals(joinedWritesInstalled(), false);
  class FakeTcp {
    socket = socket(true);
    sendData(_d: unknown) {
      return { sentBytes: -1, canSendMore: true };
    }
  }
  const conn = new FakeTcp();
  assertEquals(installJoinedWrites(conn), true);
  assertEquals(joinedWritesInstalled(), true);
  const r = conn.sendData(list(Uint8Array.of(1), Uint8Array.of(2, 3)));
  assertEquals(r, { sentBytes: 3, canSendMore: true });
  assertEquals(conn.socket.writes, [Uint8Array.of(1, 2, 3)]);
  assertEquals(installJoinedWrites(new NotTcp()), true); // already installed: nothing more
  assertEquals(new NotTcp().sendData(), { sentBytes: 0, canSendMore: true });
});
