/**
 * The records inside mempool log frames (canonical CBOR maps with a `type`):
 *
 * - `{type: "base", height}` first frame: heights at or below are already trimmed;
 * - `{type: "add", entries: [[id, key, after, action], …]}` one acknowledged batch
 *   (`after` = committed height when it was queued: no block at or below carries it);
 * - `{type: "done", height, count}` the block at `height` carried the first `count`;
 * - `{type: "included", entries: [[id, key, height, index], …]}` remembered ids
 *   (written by compaction).
 * @module
 */
import type { BlockAction } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";

/** One acknowledged action in the log. */
export interface LogEntry {
  readonly id: string;
  readonly key: string;
  /** Committed height when it was queued. */
  readonly after: number;
  readonly action: BlockAction;
}

/** A remembered included action. */
export interface IncludedEntry {
  readonly id: string;
  readonly key: string;
  readonly height: number;
  readonly index: number;
}

/** A decoded log record. */
export type LogRecord =
  | { readonly type: "base"; readonly height: number }
  | { readonly type: "add"; readonly entries: LogEntry[] }
  | { readonly type: "done"; readonly height: number; readonly count: number }
  | { readonly type: "included"; readonly entries: IncludedEntry[] };

/**
 * Checks one decoded frame payload; throws `MEMPOOL_LOG_RECORD` naming the file, the
 * frame number and the field. (A frame that passed its checksum but is malformed is
 * a bug or tampering, never a torn write, so it stops start-up.)
 *
 * @example
 * ```ts
 * import { decodeRecord } from "./mempool_records.ts";
 * decodeRecord({ type: "done", height: 3, count: 1 }, "log", 0); // { type: "done", … }
 * ```
 */
export function decodeRecord(value: unknown, path: string, frame: number): LogRecord {
  const bad = (what: string): never => {
    throw new AwrError(
      "MEMPOOL_LOG_RECORD",
      `mempool log ${path}, frame ${frame}: ${what}`,
      { path, frame },
    );
  };
  const nat = (v: unknown, name: string): number =>
    Number.isSafeInteger(v) && (v as number) >= 0
      ? v as number
      : bad(`${name} is not a natural number`);
  const str = (v: unknown, name: string): string =>
    typeof v === "string" ? v : bad(`${name} is not a string`);
  const list = (v: unknown, name: string): unknown[] =>
    Array.isArray(v) ? v : bad(`${name} is not an array`);
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad("not a map");
  const r = value as Record<string, unknown>;
  switch (r.type) {
    case "base":
      return { type: "base", height: nat(r.height, "height") };
    case "done":
      return { type: "done", height: nat(r.height, "height"), count: nat(r.count, "count") };
    case "add":
      return {
        type: "add",
        entries: list(r.entries, "entries").map((e, i) => {
          const [id, key, after, action] = list(e, `entries[${i}]`);
          const a = action as BlockAction;
          if (a === null || typeof a !== "object" || typeof a.kind !== "string") {
            bad(`entries[${i}] action has no kind`);
          }
          return {
            id: str(id, `entries[${i}] id`),
            key: str(key, `entries[${i}] key`),
            after: nat(after, `entries[${i}] after`),
            action: a,
          };
        }),
      };
    case "included":
      return {
        type: "included",
        entries: list(r.entries, "entries").map((e, i) => {
          const [id, key, height, index] = list(e, `entries[${i}]`);
          return {
            id: str(id, `entries[${i}] id`),
            key: str(key, `entries[${i}] key`),
            height: nat(height, `entries[${i}] height`),
            index: nat(index, `entries[${i}] index`),
          };
        }),
      };
    default:
      return bad(`unknown type ${JSON.stringify(r.type)}`);
  }
}
