/**
 * Fewer yamux window updates. @chainsafe/libp2p-yamux 8.0.1 answers every data frame
 * it reads with a window-update frame (src/stream.ts `handleData` → `sendWindowUpdate`,
 * which sends whenever any credit was used), so each gossip message costs its
 * receiver a second, encrypted TCP write and its sender a second frame to decrypt:
 * with consensus traffic of small messages that is a large share of a node's CPU.
 * Here an established stream's credit is returned only once half of its receive window
 * is used (as the Go implementation does), so the sender's window never runs dry and
 * small messages need no answer. Flags (SYN, ACK) and paused streams are unchanged.
 * @module
 */
// deno-lint-ignore no-import-prefix
import { StreamState, YamuxStream } from "npm:@chainsafe/libp2p-yamux@8.0.1/stream";

/** The yamux stream fields the rule reads (private in its types). */
export interface WindowView {
  readonly state: StreamState;
  /** The receive window granted to the sender (bytes). */
  readonly recvWindow: number;
  /** Credit the sender still has (bytes). */
  readonly recvWindowCapacity: number;
}

/** Whether a window update may wait: an established stream with over half its window left. */
export function windowUpdateCanWait(s: WindowView): boolean {
  return s.state === StreamState.Established && s.recvWindowCapacity * 2 > s.recvWindow;
}

let installed = false;

/** Installs the rule on yamux streams (once per process; later calls do nothing). */
export function installLazyWindowUpdates(): void {
  if (installed) return;
  installed = true;
  const proto = YamuxStream.prototype as unknown as WindowView & { sendWindowUpdate(): void };
  const send = proto.sendWindowUpdate;
  proto.sendWindowUpdate = function (this: WindowView & { sendWindowUpdate(): void }) {
    if (!windowUpdateCanWait(this)) send.call(this);
  };
}

export { StreamState };
