/**
 * One socket write per send. @libp2p/tcp 11.0.28 (src/socket-to-conn.ts `sendData`)
 * writes each buffer of the list it is handed with its own `socket.write`, and Noise
 * hands it every frame as two buffers, the 2-byte length and the ciphertext, so each
 * gossip message left as two TCP segments: two syscalls for the sender and two reads
 * and wake-ups for the receiver (strace of a 4-validator run: about 25 `sendto` per
 * height per node, half of them 2 bytes). Here the list is joined first (a single
 * buffer is passed through without a copy), so everything queued goes out in one
 * write. The sent-bytes and back-pressure results keep their meaning: the socket takes
 * all of it and says whether it wants more. Nothing new is buffered: the bytes joined
 * are the ones libp2p had queued for this call, and once the socket asks for a drain
 * libp2p queues no more until it drains (as before, when the first buffer of a call
 * was written regardless too). The join is one copy of a call's bytes, at most one
 * frame (`MAX_FRAME_BYTES`) plus whatever waited behind a drain.
 *
 * The class is not exported by @libp2p/tcp, so it is found through the first open
 * connection's `maConn` (any later connection shares the prototype).
 * @module
 */

/** The part of a buffer list the write reads (`Uint8ArrayList`). */
export interface ByteList {
  readonly byteLength: number;
  subarray(): Uint8Array;
}

/** The part of the TCP connection the write uses. */
export interface SocketConn {
  readonly socket: { write(bytes: Uint8Array): boolean };
}

/** The replacement `sendData`: one `socket.write` of the whole list. */
export function sendJoined(
  this: SocketConn,
  data: ByteList | Uint8Array,
): { sentBytes: number; canSendMore: boolean } {
  const bytes = data instanceof Uint8Array ? data : data.subarray();
  return { sentBytes: bytes.byteLength, canSendMore: this.socket.write(bytes) };
}

let installed = false;

/** Whether {@link installJoinedWrites} has patched the class (tests). */
export function joinedWritesInstalled(): boolean {
  return installed;
}

/**
 * Installs {@link sendJoined} on the class of `maConn` when it is @libp2p/tcp's
 * connection (it has its own `sendData` and a `socket`); once per process. True when
 * installed now or before.
 */
export function installJoinedWrites(maConn: unknown): boolean {
  if (installed) return true;
  if (maConn === null || typeof maConn !== "object" || !("socket" in maConn)) return false;
  const proto = Object.getPrototypeOf(maConn) as Record<string, unknown> | null;
  if (!proto || !Object.hasOwn(proto, "sendData") || typeof proto.sendData !== "function") {
    return false;
  }
  proto.sendData = sendJoined;
  installed = true;
  return true;
}
