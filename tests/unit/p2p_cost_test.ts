/**
 * What keeps a networked node's CPU per message down: the verified-signature memo,
 * gossipsub without its own message signatures, lazy yamux window updates.
 */
import { assert, assertEquals } from "@std/assert";
import { createHost, stopHost } from "../../src/net/_libp2p.ts";
import { openLibp2pProcessChannel } from "../support/libp2p_process.ts";
import {
  cachedPublicKeys,
  installCachedEd25519,
  MAX_CACHED_PUBLIC_KEYS,
  verifyRaw,
} from "../../src/net/_libp2p_ed25519.ts";
// deno-lint-ignore no-import-prefix
import { privateKeyFromRaw } from "npm:@libp2p/crypto@5.1.23/keys";
import { StreamState, windowUpdateCanWait } from "../../src/net/_yamux_window.ts";
import {
  ed25519Signer,
  ed25519Verifier,
  generateValidatorKey,
  VERIFIED_MEMO_SIZE,
  verifiedMemoSize,
} from "../../src/net/keys.ts";

Deno.test("verify memo: a remembered signature proves only its own bytes; bounded", async () => {
  const key = await generateValidatorKey();
  const signer = ed25519Signer(key);
  const a = ed25519Verifier([{ id: "v1", publicKey: key.publicKeyHex }]);
  const b = ed25519Verifier([{ id: "v1", publicKey: key.publicKeyHex }]);
  const other = await generateValidatorKey();
  const c = ed25519Verifier([{ id: "v1", publicKey: other.publicKeyHex }]);
  const msg = new Uint8Array([1, 2, 3]);
  const sig = signer.sign(msg);
  assert(a.verify("v1", msg, sig));
  assert(b.verify("v1", msg, sig), "another verifier of the same key: a hit");
  assert(!a.verify("v1", new Uint8Array([1, 2, 4]), sig), "same signature, other bytes");
  assert(!a.verify("v1", new Uint8Array([1, 2]), sig), "same signature, shorter bytes");
  assert(!c.verify("v1", msg, sig), "same id, other key");
  assert(!a.verify("v2", msg, sig), "unknown id");
  const bad = sig.slice();
  bad[0] ^= 1;
  assert(!a.verify("v1", msg, bad));
  assert(!a.verify("v1", msg, bad), "a failure is never remembered");
  // The bound: the oldest entries go first.
  for (let i = 0; i < VERIFIED_MEMO_SIZE + 5; i++) {
    const m = new Uint8Array([i & 255, i >> 8, 7]);
    assert(a.verify("v1", m, signer.sign(m)));
  }
  assertEquals(verifiedMemoSize(), VERIFIED_MEMO_SIZE);
  assert(a.verify("v1", msg, sig), "evicted: verified again");
});

Deno.test("yamux: a window update waits while over half of the window is left", () => {
  const w = 256 * 1024;
  const est = StreamState.Established;
  assert(windowUpdateCanWait({ state: est, recvWindow: w, recvWindowCapacity: w - 1 }));
  assert(windowUpdateCanWait({ state: est, recvWindow: w, recvWindowCapacity: w / 2 + 1 }));
  assert(!windowUpdateCanWait({ state: est, recvWindow: w, recvWindowCapacity: w / 2 }));
  assert(!windowUpdateCanWait({ state: est, recvWindow: w, recvWindowCapacity: 0 }));
  // SYN/ACK flags go out at once; a paused stream is left to yamux.
  for (const state of [StreamState.Init, StreamState.SYNReceived, StreamState.Paused]) {
    assert(!windowUpdateCanWait({ state, recvWindow: w, recvWindowCapacity: w - 1 }));
  }
});

Deno.test("libp2p Ed25519 with cached key objects: same signatures, same checks, bounded", async () => {
  const key = await generateValidatorKey();
  const raw = new Uint8Array(64);
  raw.set(key.seed, 0);
  raw.set(key.publicKey, 32);
  const lib = privateKeyFromRaw(raw);
  installCachedEd25519(lib);
  const msg = new Uint8Array([5, 6, 7]);
  const sig = await lib.sign(msg);
  assertEquals([...sig], [...ed25519Signer(key).sign(msg)], "deterministic Ed25519: equal bytes");
  assert(await lib.publicKey.verify(msg, sig));
  assert(!await lib.publicKey.verify(new Uint8Array([5, 6, 8]), sig));
  assert(ed25519Verifier([{ id: "v", publicKey: key.publicKeyHex }]).verify("v", msg, sig));
  let threw = false;
  try {
    verifyRaw(key.publicKey, sig.subarray(0, 63), msg);
  } catch {
    threw = true;
  }
  assert(threw, "a short signature throws, as libp2p's own");
  for (let i = 0; i < MAX_CACHED_PUBLIC_KEYS + 3; i++) {
    const other = await generateValidatorKey();
    assert(!verifyRaw(other.publicKey, sig, msg));
  }
  assertEquals(cachedPublicKeys(), MAX_CACHED_PUBLIC_KEYS);
});

await openLibp2pProcessChannel();

Deno.test("gossipsub runs StrictNoSign: a frame carries one origin signature, its envelope's", async () => {
  const lib = await createHost(await generateValidatorKey(), [], ["/awr/w/consensus/1"]);
  try {
    assertEquals(lib.services.pubsub.globalSignaturePolicy, "StrictNoSign");
  } finally {
    await stopHost(lib);
  }
});
