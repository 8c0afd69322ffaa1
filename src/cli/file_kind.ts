/**
 * Names what a persisted file is from its decoded structure, so offline tools can
 * refuse a file of another kind by saying what it is ("a block file (height 12)")
 * instead of decoding it as the wrong type and printing zeros.
 * @module
 */
import { decodeCbor } from "../storage/cbor.ts";

/** What a file was recognised as. */
export interface FileKind {
  /** Machine-readable kind, e.g. `node_state`, `block`, `execution_record`. */
  readonly kind: string;
  /** One phrase for people, e.g. `a block file (height 12)`. */
  readonly description: string;
}

const has = (m: Record<string, unknown>, ...keys: string[]) => keys.every((k) => k in m);

function ofMap(m: Record<string, unknown>): FileKind {
  const h = typeof m.height === "number" ? ` (height ${m.height})` : "";
  switch (m.kind) {
    case "state_manifest":
      return { kind: "cas_state_manifest", description: `a CAS blob: state manifest${h}` };
    case "journal_segment":
      return { kind: "cas_journal_segment", description: `a CAS blob: journal segment${h}` };
    case "node":
      return { kind: "cas_tree_node", description: "a CAS blob: state tree node" };
    case "agents":
      return { kind: "cas_state_chunk", description: "a CAS blob: state chunk (agents)" };
  }
  if (has(m, "header", "attestations")) {
    return { kind: "block", description: `a block file (committed block${h})` };
  }
  if (has(m, "execution_block_hash", "prev_execution_block_hash")) {
    return { kind: "execution_record", description: `an execution record${h}` };
  }
  if ("last_applied_height" in m) {
    return {
      kind: "execution_state",
      description: "an execution state file (execution/state.cbor)",
    };
  }
  if ("settled_through_height" in m || "balances" in m) {
    return { kind: "reward_ledger", description: "a reward ledger file" };
  }
  if ("committed_height" in m || has(m, "node_id", "slot")) {
    return { kind: "node_state", description: "a node state snapshot (PosNodeStateSnapshot)" };
  }
  const keys = Object.keys(m);
  return {
    kind: "unknown_cbor_map",
    description: keys.length === 0
      ? "an empty CBOR map"
      : `a CBOR map of unknown kind (fields ${keys.slice(0, 6).join(", ")}${
        keys.length > 6 ? ", …" : ""
      })`,
  };
}

// The decoded value, or null when the bytes are not CBOR.
function tryDecodeCbor(bytes: Uint8Array): { value: unknown } | null {
  try {
    return { value: decodeCbor(bytes) };
  } catch {
    return null;
  }
}

/**
 * Recognises `bytes`: a CBOR file of this project by its fields, a JSON document (a
 * report names its `kind`), or neither.
 *
 * @example
 * ```ts
 * import { detectFileKind } from "./file_kind.ts";
 * detectFileKind(new TextEncoder().encode('{"kind":"awr.latest_report"}')).kind; // "json_report"
 * ```
 */
export function detectFileKind(bytes: Uint8Array): FileKind {
  // JSON first when it looks like JSON: a short JSON text can also be valid CBOR.
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  const jsonFirst = first === 0x7b || first === 0x5b;
  const cbor = jsonFirst ? null : tryDecodeCbor(bytes);
  if (cbor === null) {
    try {
      const json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      if (json && typeof json === "object" && typeof json.kind === "string") {
        return { kind: "json_report", description: `a JSON report (${json.kind})` };
      }
      return { kind: "json", description: "a JSON document" };
    } catch {
      return {
        kind: "unknown",
        description: bytes.length === 0
          ? "an empty file"
          : `neither CBOR nor JSON (${bytes.length} bytes)`,
      };
    }
  }
  const value = cbor.value;
  if (value instanceof Uint8Array) return { kind: "cbor_bytes", description: "a CBOR byte string" };
  if (Array.isArray(value)) return { kind: "cbor_array", description: "a CBOR array" };
  if (value !== null && typeof value === "object") return ofMap(value as Record<string, unknown>);
  return { kind: "cbor_scalar", description: `a CBOR ${value === null ? "null" : typeof value}` };
}
