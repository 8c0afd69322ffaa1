/**
 * World actions: what a block may ask the world to do, and the one parser that
 * decides whether a JSON value is such an action. The mempool (HTTP 400s) and the
 * world itself (rejected events) both go through {@link parseAction}, so a value is
 * refused the same way wherever it shows up.
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { WORLD_RULES } from "./rules.ts";

/** Adds an agent; without `x`/`y` its position derives from the block hash. */
export type RegisterAction = {
  readonly kind: "register";
  readonly agent: string;
  readonly x?: number;
  readonly y?: number;
};
/** Moves an agent by `(dx, dy)`, paying energy per step. */
export type MoveAction = {
  readonly kind: "move";
  readonly agent: string;
  readonly dx: number;
  readonly dy: number;
};
/** Moves `amount` of `resource` from one agent to another. */
export type TransferAction = {
  readonly kind: "transfer";
  readonly from: string;
  readonly to: string;
  readonly resource: string;
  readonly amount: number;
};
/** Brings `amount` of `resource` into the world, to `agent`. */
export type GrantAction = {
  readonly kind: "grant";
  readonly agent: string;
  readonly resource: string;
  readonly amount: number;
};
/** Restores some of an agent's energy. */
export type RestAction = { readonly kind: "rest"; readonly agent: string };

/** Every action the world understands. */
export type WorldAction = RegisterAction | MoveAction | TransferAction | GrantAction | RestAction;

/** The action kinds, in the order the README lists them. */
export const ACTION_KINDS: readonly WorldAction["kind"][] = [
  "register",
  "move",
  "transfer",
  "grant",
  "rest",
];

/** Error for a value that is not a valid action; `context.field` names the field. */
export class ActionError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

const AGENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const RESOURCE_RE = /^[a-z][a-z0-9_]*$/;

type FieldKind = "agent" | "resource" | "amount" | "coord" | "delta";

const FIELDS: Record<WorldAction["kind"], Record<string, FieldKind>> = {
  register: { agent: "agent", x: "coord", y: "coord" },
  move: { agent: "agent", dx: "delta", dy: "delta" },
  transfer: { from: "agent", to: "agent", resource: "resource", amount: "amount" },
  grant: { agent: "agent", resource: "resource", amount: "amount" },
  rest: { agent: "agent" },
};
const OPTIONAL = new Set(["register.x", "register.y"]);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return typeof v === "object" ? "an object" : typeof v;
}

/** The codes of a refused action (`context.kind` and `context.field` name what). */
export type ActionErrorCode =
  | "ACTION_NOT_OBJECT"
  | "ACTION_MISSING_FIELD"
  | "ACTION_UNKNOWN_KIND"
  | "ACTION_UNKNOWN_FIELD"
  | "ACTION_FIELD_TYPE"
  | "ACTION_FIELD_RANGE";

function fail(
  code: ActionErrorCode,
  kind: string,
  field: string | undefined,
  message: string,
): never {
  throw new ActionError(code, message, { kind, field });
}

function checkField(kind: string, field: string, type: FieldKind, v: unknown): string | number {
  if (type === "agent" || type === "resource") {
    const max = type === "agent" ? WORLD_RULES.maxAgentIdLength : WORLD_RULES.maxResourceLength;
    const re = type === "agent" ? AGENT_RE : RESOURCE_RE;
    if (typeof v !== "string") {
      fail(
        "ACTION_FIELD_TYPE",
        kind,
        field,
        `${kind}: "${field}" must be a string, got ${describe(v)}`,
      );
    }
    if (v.length === 0 || v.length > max || !re.test(v)) {
      const shape = type === "agent"
        ? "letters, digits and _ . : - (starting with a letter or digit)"
        : "lowercase letters, digits and _ (starting with a letter)";
      fail(
        "ACTION_FIELD_RANGE",
        kind,
        field,
        `${kind}: "${field}" must be 1-${max} characters of ${shape}, got ${describe(v)}`,
      );
    }
    return v;
  }
  if (typeof v !== "number" || !Number.isInteger(v)) {
    fail(
      "ACTION_FIELD_TYPE",
      kind,
      field,
      `${kind}: "${field}" must be an integer, got ${describe(v)}`,
    );
  }
  const size = WORLD_RULES.size;
  const [lo, hi] = type === "amount"
    ? [1, WORLD_RULES.maxAmount]
    : type === "coord"
    ? [0, size - 1]
    : [-(size - 1), size - 1];
  if (v < lo || v > hi) {
    fail(
      "ACTION_FIELD_RANGE",
      kind,
      field,
      `${kind}: "${field}" must be in ${lo}..${hi}, got ${v}`,
    );
  }
  return v;
}

/**
 * Checks that `json` is a world action and returns a fresh, normalised copy holding
 * only the action's fields. Throws an {@link ActionError} whose message names the
 * problem and whose `code` is one of `ACTION_NOT_OBJECT`, `ACTION_UNKNOWN_KIND`,
 * `ACTION_MISSING_FIELD`, `ACTION_UNKNOWN_FIELD`, `ACTION_FIELD_TYPE`,
 * `ACTION_FIELD_RANGE`.
 *
 * @example
 * ```ts
 * import { parseAction } from "./actions.ts";
 * const action = parseAction({ kind: "move", agent: "ada", dx: 1, dy: -2 });
 * ```
 */
export function parseAction(json: unknown): WorldAction {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    fail(
      "ACTION_NOT_OBJECT",
      "",
      undefined,
      `an action must be a JSON object, got ${describe(json)}`,
    );
  }
  const obj = json as Record<string, unknown>;
  const kind = obj.kind;
  if (kind === undefined) fail("ACTION_MISSING_FIELD", "", "kind", `action is missing "kind"`);
  if (typeof kind !== "string" || !Object.hasOwn(FIELDS, kind)) {
    fail(
      "ACTION_UNKNOWN_KIND",
      typeof kind === "string" ? kind : "",
      "kind",
      `unknown action kind ${describe(kind)}; expected one of ${ACTION_KINDS.join(", ")}`,
    );
  }
  const spec = FIELDS[kind as WorldAction["kind"]];
  for (const key of Object.keys(obj)) {
    if (key !== "kind" && !Object.hasOwn(spec, key)) {
      fail("ACTION_UNKNOWN_FIELD", kind, key, `${kind}: unknown field "${key}"`);
    }
  }
  const out: Record<string, string | number> = { kind };
  for (const [field, type] of Object.entries(spec)) {
    const v = obj[field];
    if (v === undefined) {
      if (OPTIONAL.has(`${kind}.${field}`)) continue;
      fail("ACTION_MISSING_FIELD", kind, field, `${kind}: missing field "${field}"`);
    }
    out[field] = checkField(kind, field, type, v);
  }
  if (kind === "register" && (out.x === undefined) !== (out.y === undefined)) {
    const missing = out.x === undefined ? "x" : "y";
    fail(
      "ACTION_MISSING_FIELD",
      kind,
      missing,
      `register: "x" and "y" go together; "${missing}" is missing`,
    );
  }
  return out as WorldAction;
}
