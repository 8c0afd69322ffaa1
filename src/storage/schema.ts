/**
 * Schema-driven codec for persisted files. Each file type is described once: its
 * fields with their in-memory name, on-disk snake_case name, type and default.
 *
 * - a missing field takes its default (older files load);
 * - a field the code does not know is kept and written back (newer files survive
 *   a rewrite by older code);
 * - a wrong type, or truncated/corrupt bytes, is a {@link SnapshotError} naming the
 *   file and the field — never a silent reset;
 * - every file carries `schema` (its version); a version newer than the code knows
 *   is refused.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { decodeCbor, encodeCanonical } from "./cbor.ts";

/** Field types understood by the codec. */
export type FieldType =
  | "u64"
  | "i64"
  | "u64?"
  | "string"
  | "string?"
  | "bool"
  | "bytes"
  | "string[]"
  | "object"
  | "array";

/** One persisted field. */
export interface FieldSpec<T> {
  /** Name in memory (camelCase). */
  key: keyof T & string;
  /** Name on disk (snake_case, as other tools read it). */
  wire: string;
  /** Type checked on decode and encode. */
  type: FieldType;
  /** Value used when the field is absent from the file. */
  default: T[keyof T & string];
}

/** A persisted file type. */
export interface FileSchema<T> {
  /** What the file is, for messages (e.g. `PosNodeStateSnapshot`). */
  kind: string;
  /** Current version, written as `schema`. */
  version: number;
  /** Every field except `schema`. */
  fields: ReadonlyArray<FieldSpec<T>>;
}

/** A decoded file: typed fields plus whatever the code did not recognise. */
export interface Decoded<T> {
  /** The typed fields. */
  value: T;
  /** Unknown on-disk fields, written back unchanged by {@link encodeFile}. */
  unknown: Record<string, unknown>;
  /** The `schema` version the file carried (0 when it had none). */
  version: number;
}

/** Error for a file that cannot be read as its schema says. */
export class SnapshotError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

function typeOk(type: FieldType, v: unknown): boolean {
  switch (type) {
    case "u64":
      return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    case "u64?":
      return v === null || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0);
    case "i64":
      return typeof v === "number" && Number.isSafeInteger(v);
    case "string":
      return typeof v === "string";
    case "string?":
      return v === null || typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    case "bytes":
      return v instanceof Uint8Array;
    case "string[]":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v) &&
        !(v instanceof Uint8Array);
    case "array":
      return Array.isArray(v);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "number" && !Number.isInteger(v)) return `number ${v}`;
  if (typeof v === "number" && v < 0) return `negative number ${v}`;
  return typeof v;
}

function cloneDefault<V>(v: V): V {
  return v !== null && typeof v === "object" ? structuredClone(v) : v;
}

/**
 * Decodes a file's bytes. `file` names the file in every error.
 *
 * @example
 * ```ts
 * import { decodeFile, type FileSchema } from "./schema.ts";
 * const S: FileSchema<{ height: number }> = {
 *   kind: "Example", version: 1,
 *   fields: [{ key: "height", wire: "height", type: "u64", default: 0 }],
 * };
 * decodeFile(S, new Uint8Array([0xa0]), "example.cbor").value.height; // 0
 * ```
 */
export function decodeFile<T>(schema: FileSchema<T>, bytes: Uint8Array, file: string): Decoded<T> {
  let raw: unknown;
  try {
    raw = decodeCbor(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SnapshotError(
      "SNAPSHOT_CORRUPT",
      `${file}: cannot read ${schema.kind} (truncated or corrupt: ${why})`,
      { file },
    );
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new SnapshotError(
      "SNAPSHOT_CORRUPT",
      `${file}: ${schema.kind} must be a CBOR map, found ${describe(raw)}`,
      { file },
    );
  }
  const obj = raw as Record<string, unknown>;
  let version = 0;
  if ("schema" in obj) {
    const s = obj.schema;
    if (typeof s !== "number" || !Number.isSafeInteger(s) || s < 0) {
      throw new SnapshotError(
        "SNAPSHOT_FIELD_TYPE",
        `${file}: field "schema" must be a non-negative integer, found ${describe(s)}`,
        { file, field: "schema" },
      );
    }
    if (s > schema.version) {
      throw new SnapshotError(
        "SNAPSHOT_SCHEMA_NEWER",
        `${file}: field "schema" is ${s}, newer than this program reads (${schema.version}); upgrade awr`,
        { file, field: "schema", found: s, supported: schema.version },
      );
    }
    version = s;
  }
  const value = {} as T;
  const known = new Set<string>(["schema"]);
  for (const f of schema.fields) {
    known.add(f.wire);
    const v = obj[f.wire];
    if (v === undefined) {
      value[f.key] = cloneDefault(f.default);
      continue;
    }
    if (!typeOk(f.type, v)) {
      throw new SnapshotError(
        "SNAPSHOT_FIELD_TYPE",
        `${file}: field "${f.wire}" must be ${f.type}, found ${describe(v)}`,
        { file, field: f.wire, expected: f.type },
      );
    }
    value[f.key] = v as T[keyof T & string];
  }
  const unknown: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) if (!known.has(k)) unknown[k] = obj[k];
  return { value, unknown, version };
}

/**
 * Encodes `value` (plus the `unknown` fields kept from a decode) as the schema's
 * current version. A field of the wrong type is a {@link SnapshotError}, so a bug
 * can never write a file that the next start refuses.
 */
export function encodeFile<T>(
  schema: FileSchema<T>,
  value: T,
  unknown: Record<string, unknown> = {},
  file = schema.kind,
): Uint8Array {
  const out: Record<string, unknown> = { ...unknown, schema: schema.version };
  for (const f of schema.fields) {
    const v = value[f.key];
    if (!typeOk(f.type, v)) {
      throw new SnapshotError(
        "SNAPSHOT_FIELD_TYPE",
        `${file}: refusing to write field "${f.wire}" as ${describe(v)}; it must be ${f.type}`,
        { file, field: f.wire, expected: f.type },
      );
    }
    out[f.wire] = v;
  }
  return encodeCanonical(out);
}

/** Default values of every field, for a file that does not exist yet. */
export function defaultsOf<T>(schema: FileSchema<T>): T {
  const value = {} as T;
  for (const f of schema.fields) value[f.key] = cloneDefault(f.default);
  return value;
}
