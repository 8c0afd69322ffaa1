/**
 * js-libp2p's peer store locks each peer record with `mortice`, whose first use in a
 * process opens one process-wide `BroadcastChannel("mortice")` for worker-thread lock
 * requests and keeps it for the life of the process (mortice 3.3.1 src/mortice.ts:56
 * caches it in a module variable; src/node.ts:65 opens it; nothing exports a close).
 * No stop path can release it, so test files that start libp2p nodes call
 * {@link openLibp2pProcessChannel} at load time: the channel then exists before any
 * test, and every test runs with the op and resource sanitizers on.
 * @module
 */
import { createHost, stopHost } from "../../src/net/_libp2p.ts";
import { generateValidatorKey } from "../../src/net/keys.ts";

let opened = false;

/** Starts and stops one host with no listener, so the process-wide lock channel is open. */
export async function openLibp2pProcessChannel(): Promise<void> {
  if (opened) return;
  opened = true;
  await stopHost(await createHost(await generateValidatorKey(), [], []));
}
