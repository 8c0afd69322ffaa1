/**
 * Journal events: what each action did (or why it was refused). Events are
 * snake_case, integers and strings only, because they are hashed into the
 * journal segments.
 * @module
 */

/** Why an action was refused (machine-readable, part of the hashed journal). */
export type RejectReason =
  | "malformed"
  | "unknown_agent"
  | "duplicate_agent"
  | "insufficient_energy"
  | "insufficient_funds"
  | "out_of_bounds"
  | "self_transfer"
  | "overflow";

/** One journal event; `action_index` is the action's position in its block. */
export type WorldEvent =
  | {
    kind: "registered";
    action_index: number;
    agent: string;
    x: number;
    y: number;
    energy: number;
  }
  | { kind: "moved"; action_index: number; agent: string; x: number; y: number; energy: number }
  | { kind: "rested"; action_index: number; agent: string; energy: number }
  | { kind: "granted"; action_index: number; agent: string; resource: string; amount: number }
  | {
    kind: "transferred";
    action_index: number;
    from: string;
    to: string;
    resource: string;
    amount: number;
  }
  | {
    kind: "rejected";
    action_index: number;
    /** The action's `kind` when it was a string (else ""). */
    action_kind: string;
    reason: RejectReason;
    /** For `malformed`: the ActionError code and the field it named. */
    error?: string;
    field?: string;
  };
