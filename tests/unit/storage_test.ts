import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { removeStaleTemps, writeFileAtomic } from "../../src/storage/atomic.ts";
import { CasError, CasStore } from "../../src/storage/cas.ts";
import { CborError, decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";
import { fromHex, hashHex, toHex } from "../../src/storage/hash.ts";

// RFC 8949 Appendix A examples (the ones within this codec's value space).
const RFC8949: Array<[unknown, string]> = [
  [0, "00"],
  [1, "01"],
  [10, "0a"],
  [23, "17"],
  [24, "1818"],
  [25, "1819"],
  [100, "1864"],
  [1000, "1903e8"],
  [1000000, "1a000f4240"],
  [1000000000000, "1b000000e8d4a51000"],
  [18446744073709551615n, "1bffffffffffffffff"],
  // RFC 8949 also lists -18446744073709551616 (3bffffffffffffffff); cbor-x emits a
  // bignum tag for it, so the codec refuses that one value (tested below).
  [-18446744073709551615n, "3bfffffffffffffffe"],
  [-1, "20"],
  [-10, "29"],
  [-100, "3863"],
  [-1000, "3903e7"],
  [false, "f4"],
  [true, "f5"],
  [null, "f6"],
  ["", "60"],
  ["a", "6161"],
  ["IETF", "6449455446"],
  ['"\\', "62225c"],
  ["\u00fc", "62c3bc"],
  ["\u6c34", "63e6b0b4"],
  [new Uint8Array([]), "40"],
  [new Uint8Array([1, 2, 3, 4]), "4401020304"],
  [[], "80"],
  [[1, 2, 3], "83010203"],
  [[1, [2, 3], [4, 5]], "8301820203820405"],
  [
    Array.from({ length: 25 }, (_, i) => i + 1),
    "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
  ],
  [{}, "a0"],
  [{ a: 1, b: [2, 3] }, "a26161016162820203"],
  [["a", { b: "c" }], "826161a161626163"],
  [{ a: "A", b: "B", c: "C", d: "D", e: "E" }, "a56161614161626142616361436164614461656145"],
];

Deno.test("canonical CBOR matches RFC 8949 Appendix A", () => {
  for (const [value, hex] of RFC8949) {
    assertEquals(toHex(encodeCanonical(value)), hex, `encoding of ${String(value)}`);
  }
});

Deno.test("canonical CBOR decodes RFC 8949 examples back", () => {
  for (const [value, hex] of RFC8949) {
    if (typeof value === "bigint") continue; // beyond the safe integers the decoder hands out
    assertEquals(decodeCbor(fromHex(hex)), value);
  }
});

Deno.test("map keys are sorted by encoded bytes whatever the insertion order", () => {
  const a = encodeCanonical({ b: 1, aa: 2, "1": 3, a: 4 });
  const b = encodeCanonical({ a: 4, "1": 3, aa: 2, b: 1 });
  assertEquals(toHex(a), toHex(b));
  // "1" (6131) < "a" (6161) < "b" (6162) < "aa" (626161): shorter keys first, then bytewise.
  assertEquals(toHex(a), "a461310361610461620162616102");
});

Deno.test("byte strings are plain major type 2 even from views and Buffers", () => {
  const big = new Uint8Array([9, 1, 2, 3, 9]);
  assertEquals(toHex(encodeCanonical(big.subarray(1, 4))), "43010203");
});

Deno.test("integers beyond 2^32 use the 8-byte head, never a float", () => {
  assertEquals(toHex(encodeCanonical(2 ** 32)), "1b0000000100000000");
  assertEquals(decodeCbor(encodeCanonical(2 ** 40)), 2 ** 40);
});

Deno.test("the codec refuses what it cannot encode deterministically", () => {
  assertThrows(() => encodeCanonical({ a: NaN }), CborError, "$.a");
  assertThrows(() => encodeCanonical([undefined]), CborError, "$[0]");
  assertThrows(() => encodeCanonical(new Date()), CborError, "Date");
  assertThrows(() => encodeCanonical(2 ** 60), CborError, "safe range");
  assertThrows(() => encodeCanonical(-(2n ** 64n)), CborError, "64-bit range");
  assertThrows(() => encodeCanonical(2n ** 64n), CborError, "64-bit range");
});

Deno.test("decoding refuses truncated input and trailing bytes", () => {
  const bytes = encodeCanonical({ a: [1, 2, 3], s: "hello" });
  assertThrows(() => decodeCbor(bytes.subarray(0, bytes.length - 2)), CborError);
  assertThrows(() => decodeCbor(new Uint8Array([...bytes, 0])), CborError, "one CBOR item");
  assertThrows(() => decodeCbor(new Uint8Array()), CborError);
});

// BLAKE3's official test-vector inputs (byte i = i mod 251); expected values
// cross-checked with the reference `b3sum`.
const BLAKE3_VECTORS: Array<[number, string]> = [
  [0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
  [1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"],
];

Deno.test("BLAKE3 matches reference vectors", () => {
  for (const [len, hex] of BLAKE3_VECTORS) {
    const input = Uint8Array.from({ length: len }, (_, i) => i % 251);
    assertEquals(hashHex(input), hex, `len ${len}`);
  }
  assertEquals(
    hashHex(new TextEncoder().encode("abc")),
    "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
  );
});

Deno.test("atomic write replaces the file and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "f.cbor");
    await writeFileAtomic(path, new Uint8Array([1, 2]));
    await writeFileAtomic(path, new Uint8Array([3]));
    assertEquals(await Deno.readFile(path), new Uint8Array([3]));
    const names = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
    assertEquals(names, ["f.cbor"]);
    await Deno.writeFile(join(dir, "sub", ".f.cbor.1.2.tmp"), new Uint8Array([0]));
    assertEquals(await removeStaleTemps(join(dir, "sub")), 1);
    assertEquals([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["f.cbor"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic write with syncCalls: same result, missing folders made, a folder in the way named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a", "b", "f.cbor");
    await writeFileAtomic(path, new Uint8Array([1, 2]), { syncCalls: true });
    await writeFileAtomic(path, new Uint8Array([4]), { syncCalls: true });
    assertEquals(await Deno.readFile(path), new Uint8Array([4]));
    assertEquals([...Deno.readDirSync(join(dir, "a", "b"))].map((e) => e.name), ["f.cbor"]);
    // The target is a folder: the rename fails, and no temp file is left behind.
    await Deno.mkdir(join(dir, "a", "b", "d.cbor", "x"), { recursive: true });
    await assertRejects(() =>
      writeFileAtomic(join(dir, "a", "b", "d.cbor"), new Uint8Array([1]), { syncCalls: true })
    );
    assertEquals(
      [...Deno.readDirSync(join(dir, "a", "b"))].map((e) => e.name).sort(),
      ["d.cbor", "f.cbor"],
    );
    // A file where the folder should be: refused, naming it.
    await Deno.writeFile(join(dir, "plain"), new Uint8Array([0]));
    const err = await assertRejects(() =>
      writeFileAtomic(join(dir, "plain", "f.cbor"), new Uint8Array([1]), { syncCalls: true })
    );
    assert(String(err).includes("plain"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CAS stores by BLAKE3 address, dedups, and checks integrity on read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cas = new CasStore(dir);
    const bytes = new TextEncoder().encode("hello world");
    const id = await cas.put(bytes);
    assertEquals(id, hashHex(bytes));
    assertEquals(cas.pathOf(id), join(dir, id.slice(0, 2), id.slice(2, 4), id));
    assertEquals(await cas.get(id), bytes);
    const [a, b] = await cas.putMany([bytes, new Uint8Array([7])]);
    assertEquals(a, id);
    assertEquals(b, hashHex(new Uint8Array([7])));
    // Flip a byte on disk: the read names the blob and the hash its bytes have now.
    const onDisk = await Deno.readFile(cas.pathOf(id));
    onDisk[0] ^= 1;
    await Deno.writeFile(cas.pathOf(id), onDisk);
    const err = await assertRejects(() => cas.get(id), CasError);
    assertEquals(err.code, "CAS_CORRUPT");
    await Deno.remove(cas.pathOf(b));
    assertEquals((await assertRejects(() => cas.get(b), CasError)).code, "CAS_MISSING");
    assertThrows(() => cas.pathOf("../../etc/passwd"), CasError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("canonical encoder refuses floats, NaN and Infinity, naming the value's path", () => {
  for (const bad of [0.5, NaN, Infinity, -Infinity]) {
    const err = assertThrows(
      () => encodeCanonical({ agents: [{ id: 1 }, { id: 2, x: bad }] }),
      CborError,
    );
    assertEquals(err.code, "CBOR_VALUE");
    assertStringIncludes(err.message, "$.agents[1].x");
  }
  assertEquals(encodeCanonical(-0), encodeCanonical(0));
});
