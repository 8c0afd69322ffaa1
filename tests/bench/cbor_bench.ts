// The canonical codec (our own since the library dropped cbor-x) beside cbor-x on
// one 2000-agent chunk: `deno task bench`. cbor-x skips key sorting, so its encode
// is a floor, not a like-for-like comparison.
import { Decoder, Encoder } from "cbor-x";
import { decodeCbor, encodeCanonical } from "../../src/storage/cbor.ts";

const agents = Array.from({ length: 2000 }, (_, i) => ({
  id: `agent-${i}`,
  x: i,
  y: i * 3,
  energy: 100 + i,
  resources: { gold: i + 1, wood: 7 },
}));
const chunk = { schema: 2, kind: "agents", agents };
const bytes = encodeCanonical(chunk);
const theirEncoder = new Encoder({ useRecords: false, mapsAsObjects: true } as never);
const theirDecoder = new Decoder({ useRecords: false, mapsAsObjects: true } as never);

Deno.bench("encodeCanonical, 2000-agent chunk", { group: "encode", baseline: true }, () => {
  encodeCanonical(chunk);
});
Deno.bench("cbor-x encode (unsorted), 2000-agent chunk", { group: "encode" }, () => {
  theirEncoder.encode(chunk);
});
Deno.bench("decodeCbor, 2000-agent chunk", { group: "decode", baseline: true }, () => {
  decodeCbor(bytes);
});
Deno.bench("cbor-x decode, 2000-agent chunk", { group: "decode" }, () => {
  theirDecoder.decode(bytes);
});
