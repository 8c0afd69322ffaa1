import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { AwrError } from "../../src/errors.ts";
import {
  ed25519Signer,
  ed25519Verifier,
  generateValidatorKey,
  loadOrCreateValidatorKey,
  loadValidatorKey,
  MAX_KEY_FILE_BYTES,
  validatorKeyPath,
} from "../../src/net/keys.ts";
import { fromHex, toHex } from "../../src/storage/hash.ts";

// RFC 8032 section 7.1, TEST 2: a published seed, its public key and the signature
// of the one-byte message 0x72 (vectors nobody on this team wrote).
const RFC_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const RFC_PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const RFC_SIG = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

function keyJson(seed: string, pub: string): string {
  return JSON.stringify({ version: 1, type: "ed25519", public_key: pub, private_key: seed });
}

async function writeKey(path: string, text: string, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
}

Deno.test("keys: sign/verify round trip; a changed byte, signer or id fails", async () => {
  const a = await generateValidatorKey();
  const b = await generateValidatorKey();
  assertEquals(a.publicKey.length, 32);
  assertEquals(a.seed.length, 32);
  assertEquals(a.publicKeyHex, toHex(a.publicKey));
  assert(a.publicKeyHex !== b.publicKeyHex);
  const verifier = ed25519Verifier([
    { id: "a", publicKey: a.publicKeyHex },
    { id: "b", publicKey: b.publicKeyHex },
  ]);
  const msg = new TextEncoder().encode("vote h=1 r=0");
  const sig = ed25519Signer(a).sign(msg);
  assertEquals(sig.length, 64);
  assert(verifier.verify("a", msg, sig));
  assert(!verifier.verify("b", msg, sig), "b's key must not verify a's signature");
  assert(!verifier.verify("c", msg, sig), "unknown validator");
  const flipped = msg.slice();
  flipped[0] ^= 1;
  assert(!verifier.verify("a", flipped, sig));
  const badSig = sig.slice();
  badSig[10] ^= 0x40;
  assert(!verifier.verify("a", msg, badSig));
  assert(!verifier.verify("a", msg, sig.slice(0, 63)), "short signature");
  assert(!ed25519Verifier([{ id: "a", publicKey: "zz" }]).verify("a", msg, sig), "bad pubkey");
});

Deno.test("keys: signatures match RFC 8032 TEST 2 and WebCrypto verifies ours", async () => {
  const rfc = { seed: fromHex(RFC_SEED), publicKey: fromHex(RFC_PUBLIC), publicKeyHex: RFC_PUBLIC };
  const msg = new Uint8Array([0x72]);
  assertEquals(toHex(ed25519Signer(rfc).sign(msg)), RFC_SIG);
  assert(ed25519Verifier([{ id: "v", publicKey: RFC_PUBLIC }]).verify("v", msg, fromHex(RFC_SIG)));

  // An independent check: WebCrypto verifies a signature made through node:crypto
  // with a freshly generated key.
  const key = await generateValidatorKey();
  const data = new TextEncoder().encode("proposal h=7");
  const sig = new Uint8Array(ed25519Signer(key).sign(data));
  const pub = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(key.publicKey),
    { name: "Ed25519" },
    false,
    [
      "verify",
    ],
  );
  assert(await crypto.subtle.verify({ name: "Ed25519" }, pub, sig, data));
  data[0] ^= 1;
  assert(!(await crypto.subtle.verify({ name: "Ed25519" }, pub, sig, data)));
});

Deno.test("keys: created 0600 on first call, loaded unchanged on the second", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = validatorKeyPath(dir);
    assertEquals(path, join(dir, "validator_key.json"));
    const first = await loadOrCreateValidatorKey(path, { durable: false });
    assert(first.created);
    const st = await Deno.stat(path);
    assertEquals((st.mode ?? 0) & 0o777, 0o600);
    const text = await Deno.readTextFile(path);
    const json = JSON.parse(text);
    assertEquals(json.version, 1);
    assertEquals(json.type, "ed25519");
    assertEquals(json.public_key, first.key.publicKeyHex);
    assertEquals(json.private_key, toHex(first.key.seed));
    const second = await loadOrCreateValidatorKey(path);
    assert(!second.created);
    assertEquals(second.key.publicKeyHex, first.key.publicKeyHex);
    assertEquals(toHex(second.key.seed), toHex(first.key.seed));
    assertEquals(await Deno.readTextFile(path), text, "file not rewritten");
    // No temp file left behind.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["validator_key.json"]);
    const loaded = await loadValidatorKey(path);
    assertEquals(loaded.publicKeyHex, first.key.publicKeyHex);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: a group-readable key file is refused with KEY_MODE naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = validatorKeyPath(dir);
    await writeKey(path, keyJson(RFC_SEED, RFC_PUBLIC), 0o640);
    for (const load of [() => loadValidatorKey(path), () => loadOrCreateValidatorKey(path)]) {
      const err = await assertRejects(load, AwrError);
      assertEquals(err.code, "KEY_MODE");
      assert(err.message.includes(path), err.message);
      assert(err.message.includes("0640"), err.message);
    }
    // Left as it was: never replaced.
    assertEquals(await Deno.readTextFile(path), keyJson(RFC_SEED, RFC_PUBLIC));
    await Deno.chmod(path, 0o600);
    assertEquals((await loadValidatorKey(path)).publicKeyHex, RFC_PUBLIC);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: malformed key files are refused with KEY_MALFORMED naming the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = validatorKeyPath(dir);
    const otherPub = "00".repeat(32);
    const cases: [string, string][] = [
      ["not json", "not JSON"],
      ["[1]", "not a JSON object"],
      [JSON.stringify({ version: 2 }), `"version"`],
      [JSON.stringify({ version: 1, type: "rsa" }), `"type"`],
      [keyJson(RFC_SEED.toUpperCase(), RFC_PUBLIC), `"private_key"`],
      [keyJson(RFC_SEED, RFC_PUBLIC.slice(2)), `"public_key"`],
      [keyJson(RFC_SEED, otherPub), `does not belong`],
      [" ".repeat(MAX_KEY_FILE_BYTES + 1), "larger than"],
    ];
    for (const [text, why] of cases) {
      await Deno.remove(path).catch(() => {});
      await writeKey(path, text);
      const err = await assertRejects(() => loadOrCreateValidatorKey(path), AwrError);
      assertEquals(err.code, "KEY_MALFORMED", text.slice(0, 40));
      assert(err.message.includes(path), err.message);
      assert(err.message.includes(why), `${why} not in: ${err.message}`);
      assertEquals(await Deno.readTextFile(path), text, "never replaced");
    }
    const missing = join(dir, "nope.json");
    const err = await assertRejects(() => loadValidatorKey(missing), AwrError);
    assertEquals(err.code, "KEY_READ");
    assert(err.message.includes(missing));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
