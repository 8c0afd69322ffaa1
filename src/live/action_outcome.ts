/**
 * What `GET /v1/actions/:id` reports: the mempool's view (pending / included at
 * height, index), completed with the world's verdict once that height is executed.
 * The verdict comes from the height's execution record and its journal segment in
 * the CAS: a `rejected` event at the action's index means the world refused it.
 * Drivers that keep no journal segment in the CAS leave the verdict unknown.
 * @module
 */
import { readRecord } from "../execution/records.ts";
import { decodeJournal } from "../state/manifest.ts";
import type { ActionStatus } from "../node/mempool.ts";

/** Where an action is and, once executed, what the world made of it. */
export type ActionReport =
  | { readonly state: "pending" }
  | {
    readonly state: "included";
    readonly height: number;
    readonly index: number;
    /** True once the height is executed; null when the driver's journal cannot be read. */
    readonly executed: boolean | null;
  }
  | {
    readonly state: "rejected";
    readonly height: number;
    readonly index: number;
    /** The world's machine-readable reason (`unknown_agent`, `insufficient_energy`, …). */
    readonly reason: string;
  };

/**
 * Completes a mempool status with the world's verdict (reads one record and one
 * journal segment, both bounded by one block).
 *
 * @example
 * ```ts ignore
 * import { actionReport } from "./action_outcome.ts";
 * await actionReport({ state: "included", height: 3, index: 0 }, "./data", cas);
 * ```
 */
export async function actionReport(
  status: ActionStatus,
  dataDir: string,
  cas: { get(hash: string): Promise<Uint8Array> },
): Promise<ActionReport> {
  if (status.state === "pending") return status;
  const { height, index } = status;
  const record = await readRecord(dataDir, height).catch(() => null);
  if (!record) return { state: "included", height, index, executed: false };
  let events;
  try {
    events = decodeJournal(await cas.get(record.journalRef), `journal ${record.journalRef}`).events;
  } catch {
    return { state: "included", height, index, executed: null };
  }
  const rejected = events.find((e) => e.kind === "rejected" && e.action_index === index);
  if (rejected?.kind === "rejected") {
    return { state: "rejected", height, index, reason: rejected.reason };
  }
  return { state: "included", height, index, executed: true };
}
