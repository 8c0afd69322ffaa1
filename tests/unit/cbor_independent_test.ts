// The codec is our own (no npm dependency in src/); cbor-x, kept as a test-only
// dependency, is the independent reader and writer it is checked against.
import { assertEquals } from "@std/assert";
import { Decoder, Encoder } from "cbor-x";
import { decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";

const sample = {
  height: 12,
  big: 2 ** 40,
  neg: -70000,
  name: "agent-\u00fc",
  bytes: new Uint8Array([0, 1, 255]),
  list: [true, false, null, [1, [2]], { z: 1, a: "x" }],
  long: "x".repeat(300),
  many: Array.from({ length: 70_000 }, (_, i) => i % 7),
};

Deno.test("cbor-x reads what the canonical codec writes", () => {
  const theirs = new Decoder(
    { mapsAsObjects: true, useRecords: false, int64AsNumber: true } as ConstructorParameters<
      typeof Decoder
    >[0],
  );
  const back = theirs.decode(encodeCanonical(sample)) as Record<string, unknown>;
  assertEquals({ ...back, bytes: new Uint8Array(back.bytes as Uint8Array) } as unknown, sample);
});

Deno.test("the canonical codec reads what cbor-x writes, floats and all", () => {
  const theirs = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
  const value = {
    f: 1.5,
    h: 0.5,
    n: -(2 ** 40),
    s: "s",
    a: [1, "b", null],
    b: new Uint8Array([7]),
  };
  assertEquals(decodeCbor(new Uint8Array(theirs.encode(value))), value);
  // Indefinite-length items (RFC 8949 Appendix A): [_ 1, [2, 3], [_ 4, 5]] and (_ "strea", "ming").
  assertEquals(
    decodeCbor(Uint8Array.from([0x9f, 0x01, 0x82, 0x02, 0x03, 0x9f, 0x04, 0x05, 0xff, 0xff])),
    [1, [2, 3], [4, 5]],
  );
  assertEquals(
    decodeCbor(
      Uint8Array.from([
        0x7f,
        0x65,
        0x73,
        0x74,
        0x72,
        0x65,
        0x61,
        0x64,
        0x6d,
        0x69,
        0x6e,
        0x67,
        0xff,
      ]),
    ),
    "streaming",
  );
  // Half-precision floats: f93c00 = 1.0, f9c400 = -4.0.
  assertEquals(decodeCbor(Uint8Array.from([0xf9, 0x3c, 0x00])), 1);
  assertEquals(decodeCbor(Uint8Array.from([0xf9, 0xc4, 0x00])), -4);
});
