/**
 * The mempool's data: action ids, what a submission answers, and the records inside
 * mempool log frames (canonical CBOR maps with a `type`):
 *
 * - `{type: "base", height}` first frame: heights at or below are already trimmed;
 * - `{type: "add", entries: [[id, key, after, action], …]}` one acknowledged batch
 *   (`after` = committed height when it was queued: no block at or below carries it);
 * - `{type: "done", height, count}` the block at `height` carried the first `count`;
 * - `{type: "drop", height, ids}` the block at `height` carried these (not the head);
 * - `{type: "included", entries: [[id, key, height, index], …]}` remembered ids
 *   (written by compaction).
 * @module
 */
import type { BlockAction } from "../consensus/types.ts";
import { AwrError } from "../errors.ts";
import { encodeCanonical } from "../storage/cbor.ts";
import { hashCanonical } from "../storage/hash.ts";
import { encodeFrame } from "./mempool_log.ts";

/** What a submission answers. */
export interface SubmitResult {
  /** One id per action, in order. */
  readonly ids: string[];
  /** True when the key was seen before and nothing new was queued. */
  readonly replayed: boolean;
  /** Actions waiting after this submission. */
  readonly mempoolSize: number;
}

/** Options of a submission through the node (`NodeRuntime.submitActions`). */
export interface SubmitActionsOptions {
  /** Idempotency key: a retry with the same key never queues twice (1..128 characters). */
  idempotencyKey?: string | null;
}

/** Where an action is. */
export type ActionStatus =
  | { readonly state: "pending" }
  | { readonly state: "included"; readonly height: number; readonly index: number };

/** Most characters of an idempotency key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/**
 * The id of action `index` of a batch submitted under `key`.
 *
 * @example
 * ```ts
 * import { actionId } from "./mempool_records.ts";
 * actionId("k1", 0, { kind: "rest", agent: "ada" }).length; // 32
 * ```
 */
export function actionId(key: string, index: number, action: BlockAction): string {
  return hashCanonical(["awr-action-id", key, index, action]).slice(0, 32);
}

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
  | { readonly type: "drop"; readonly height: number; readonly ids: readonly string[] }
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
    case "drop":
      return {
        type: "drop",
        height: nat(r.height, "height"),
        ids: list(r.ids, "ids").map((id, i) => str(id, `ids[${i}]`)),
      };
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

/**
 * Canonical CBOR payload of `record`.
 *
 * @example
 * ```ts
 * import { encodeRecord } from "./mempool_records.ts";
 * encodeRecord({ type: "done", height: 3, count: 1 }).length > 0; // true
 * ```
 */
export function encodeRecord(record: LogRecord): Uint8Array {
  switch (record.type) {
    case "add":
      return encodeCanonical({
        type: "add",
        entries: record.entries.map((e) => [e.id, e.key, e.after, e.action]),
      });
    case "included":
      return encodeCanonical({
        type: "included",
        entries: record.entries.map((e) => [e.id, e.key, e.height, e.index]),
      });
    default:
      return encodeCanonical(record);
  }
}

/** Entries per frame in a compacted log. */
const COMPACT_CHUNK = 1024;

/**
 * A whole compacted log: the base frame at `height`, the remembered included ids,
 * then the waiting actions in order (in frames of at most 1,024 entries).
 *
 * @example
 * ```ts
 * import { encodeCompactedLog } from "./mempool_records.ts";
 * encodeCompactedLog(7, new Map(), []).length > 0; // true: just the base frame
 * ```
 */
export function encodeCompactedLog(
  height: number,
  included: ReadonlyMap<string, Omit<IncludedEntry, "id">>,
  pending: readonly LogEntry[],
): Uint8Array {
  const frames = [encodeFrame(encodeRecord({ type: "base", height }))];
  const incl = [...included].map(([id, i]) => ({ id, ...i }));
  for (let i = 0; i < incl.length; i += COMPACT_CHUNK) {
    const entries = incl.slice(i, i + COMPACT_CHUNK);
    frames.push(encodeFrame(encodeRecord({ type: "included", entries })));
  }
  for (let i = 0; i < pending.length; i += COMPACT_CHUNK) {
    const entries = pending.slice(i, i + COMPACT_CHUNK);
    frames.push(encodeFrame(encodeRecord({ type: "add", entries })));
  }
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** Whether two actions have the same canonical bytes. */
export function sameAction(a: BlockAction, b: BlockAction): boolean {
  const x = encodeCanonical(a);
  const y = encodeCanonical(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
