/**
 * Read-only views of the executed world from the execution core's files: the
 * world summary (the state manifest), one agent (a walk down the state tree to its
 * bucket's chunk) and a page of the journal (records → journal segments). The host
 * offers them to drivers through `DriverExecutionCore`; the default `bridge` driver
 * exposes them as its optional `summary` / `agent` / `journal` capabilities.
 * @module
 */
import {
  type BlobReader,
  checkTreeShape,
  decodeTreeNode,
  isDigestList,
} from "../state/state_tree.ts";
import { decodeCbor } from "../storage/cbor.ts";
import { toHex } from "../storage/hash.ts";
import { bucketKeyOf, chunkFromWire } from "../world/agent.ts";
import { WORLD_RULES } from "../world/rules.ts";
import { decodeJournal, decodeManifest } from "../state/manifest.ts";
import { readRecord } from "./records.ts";

/** Most heights one journal page walks (heights without events cost a record read each). */
export const JOURNAL_SCAN_MAX_HEIGHTS = 1_000;

/**
 * How many agents `/v1/world`'s `agents` sample lists: `default` unless `?limit=` asks
 * for another count, never more than `max` (each one is a chunk walk away).
 */
export const WORLD_AGENTS_LIMIT = { default: 64, max: 1_000 } as const;

/** A page of journal events. */
export interface JournalPage {
  /** Journal index of `events[0]`. */
  readonly from: number;
  readonly events: readonly unknown[];
  /** Index to ask for next. */
  readonly next: number;
  /** Events in the journal at the executed height. */
  readonly journalLen: number;
}

/**
 * The world summary at state root `root` (snake_case, as `/v1/world` answers it),
 * with a sample of at most `agentLimit` agents (clamped to
 * {@link WORLD_AGENTS_LIMIT}`.max`) for the viewer's map: the agents of the lowest
 * buckets (a bucket is a hash of the id, so the sample is stable and spread over
 * the map), sorted by id; `agents_truncated` says whether the world has more.
 *
 * @example
 * ```ts ignore
 * import { summaryAt } from "./world_views.ts";
 * const summary = await summaryAt(cas, stateRoot, 64);
 * ```
 */
export async function summaryAt(
  cas: BlobReader,
  root: string | null,
  agentLimit: number = WORLD_AGENTS_LIMIT.default,
): Promise<Record<string, unknown>> {
  if (!root) {
    return {
      height: 0,
      agent_count: 0,
      size: WORLD_RULES.size,
      agents: [],
      agents_truncated: false,
    };
  }
  const m = decodeManifest(await cas.get(root), `manifest ${root}`);
  const limit = Math.max(0, Math.min(Math.floor(agentLimit) || 0, WORLD_AGENTS_LIMIT.max));
  const agents = await agentSample(cas, m, limit);
  return {
    height: m.height,
    clock: m.clock,
    agent_count: m.agentCount,
    bucket_count: m.bucketCount,
    // Older name of bucket_count (the viewer page reads it); same value.
    chunk_count: m.bucketCount,
    journal_len: m.journalLen,
    energy_total: m.energyTotal,
    resource_totals: m.resourceTotals,
    state_root: root,
    size: WORLD_RULES.size,
    agents,
    agents_truncated: m.agentCount > agents.length,
  };
}

type Manifest = ReturnType<typeof decodeManifest>;

// Up to `limit` agents, walking the state tree's chunks from bucket 0 upwards; stops
// reading as soon as it has enough. Every empty bucket is one blob: read once.
async function agentSample(
  cas: BlobReader,
  m: Manifest,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const empty = new Set<string>();
  const walk = async (hash: string, level: number, first: number): Promise<void> => {
    if (out.length >= limit || empty.has(hash)) return;
    if (level === 0) {
      const agents = chunkFromWire(decodeCbor(await cas.get(hash)), first, m.bucketCount, hash);
      if (agents.length === 0) empty.add(hash);
      for (const a of agents) {
        if (out.length >= limit) break;
        out.push({
          id: a.id,
          x: a.x,
          y: a.y,
          energy: a.energy,
          resources: Object.fromEntries(a.resources),
        });
      }
      return;
    }
    const node = decodeCbor(await cas.get(hash)) as { children?: unknown };
    if (!isDigestList(node?.children)) return;
    const span = m.fanout ** (level - 1);
    for (let i = 0; i < node.children.length && out.length < limit; i++) {
      await walk(toHex(node.children[i]), level - 1, first + i * span);
    }
  };
  if (limit > 0 && m.agentCount > 0) await walk(m.treeRoot, m.depth, 0);
  return out.sort((a, b) => (a.id as string) < (b.id as string) ? -1 : 1);
}

/**
 * Agent `id` at state root `root`, or null when the world has no such agent.
 *
 * @example
 * ```ts ignore
 * import { agentAt } from "./world_views.ts";
 * const ada = await agentAt(cas, stateRoot, "ada");
 * ```
 */
export async function agentAt(
  cas: BlobReader,
  root: string | null,
  id: string,
): Promise<Record<string, unknown> | null> {
  if (!root) return null;
  const m = decodeManifest(await cas.get(root), `manifest ${root}`);
  const bucket = bucketKeyOf(id) % m.bucketCount;
  // Down the tree through the same node validator start-up and `records verify` use.
  const widths = checkTreeShape(m.treeRoot, m.depth, m.bucketCount, m.fanout);
  let hash = m.treeRoot;
  for (let k = m.depth; k >= 1; k--) {
    const pos = Math.floor(bucket / m.fanout ** k);
    const where = `state tree node ${hash} (level ${k}, position ${pos})`;
    const children = decodeTreeNode(await cas.get(hash), k, pos, widths, m.fanout, where);
    hash = toHex(children[Math.floor(bucket / m.fanout ** (k - 1)) % m.fanout]);
  }
  const agents = chunkFromWire(decodeCbor(await cas.get(hash)), bucket, m.bucketCount, hash);
  const a = agents.find((x) => x.id === id);
  if (!a) return null;
  return {
    id: a.id,
    x: a.x,
    y: a.y,
    energy: a.energy,
    resources: Object.fromEntries(a.resources),
    bucket,
    height: m.height,
  };
}

/**
 * Up to `limit` journal events from index `from`, read from the execution records
 * up to `lastHeight`, walking at most `maxHeights` heights (default
 * {@link JOURNAL_SCAN_MAX_HEIGHTS}); the page's `next` says where to go on.
 *
 * @example
 * ```ts ignore
 * import { journalAt } from "./world_views.ts";
 * const page = await journalAt(cas, "./data", 120, 0, 50);
 * ```
 */
export async function journalAt(
  cas: BlobReader,
  dataDir: string,
  lastHeight: number,
  from: number,
  limit: number,
  maxHeights: number = JOURNAL_SCAN_MAX_HEIGHTS,
): Promise<JournalPage> {
  const last = lastHeight > 0 ? await readRecord(dataDir, lastHeight) : null;
  const journalLen = last?.journalLen ?? 0;
  if (from >= journalLen || limit < 1) return { from, events: [], next: from, journalLen };
  // The first height whose cumulative journal length passes `from`.
  let lo = 1;
  let hi = lastHeight;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await readRecord(dataDir, mid);
    if ((r?.journalLen ?? 0) > from) hi = mid;
    else lo = mid + 1;
  }
  const events: unknown[] = [];
  let next = from;
  for (let h = lo; h <= lastHeight && h < lo + maxHeights; h++) {
    const r = await readRecord(dataDir, h);
    if (!r) break;
    const seg = decodeJournal(await cas.get(r.journalRef), `journal ${r.journalRef}`);
    for (let i = 0; i < seg.events.length && events.length < limit; i++) {
      const index = seg.firstIndex + i;
      if (index < next) continue;
      events.push({ index, height: seg.height, ...seg.events[i] });
      next = index + 1;
    }
    if (events.length >= limit) break;
    next = Math.max(next, r.journalLen);
  }
  return { from, events, next, journalLen };
}
