/**
 * The execution driver plugin contract, version 1.
 *
 * A plugin is ONE self-contained module whose default export is a
 * {@link DriverPlugin}. The runtime hands its `create` a {@link DriverHost} and gets
 * back a {@link Driver} (the node's execution hook). This file imports nothing on
 * purpose: a plugin author may copy it verbatim next to a driver, and a driver that
 * imports nothing from this repo loads from any folder and inside the compiled
 * binary. The types are plain structures; the runtime's own types (CommittedBlock,
 * NodeExecutionHook, CasStore, ExecutionCore) satisfy them, which the compiler checks
 * where `host.ts` builds the host.
 * @module
 */

/** The plugin API version this runtime implements. */
export const DRIVER_API_VERSION = 1;

/**
 * Where execution runs: `node` (behind the node's hook) or `bridge` (the legacy mode,
 * not the driver of that name). The runtime's `ExecutionMode`, copied here because
 * this file imports nothing; `host.ts` checks the two are the same type.
 */
export type DriverMode = "node" | "bridge";

/** A world action carried in a block: a JSON-like object with a `kind`. */
export type DriverAction = Readonly<Record<string, unknown>> & { readonly kind: string };

/** What the node hands the driver for one committed height. */
export interface DriverCommitContext {
  readonly worldId: string;
  readonly nodeId: string;
  readonly height: number;
  readonly slot: number;
  readonly epoch: number;
  /** Hash of the committed consensus block at `height`. */
  readonly nodeBlockHash: string;
  /** When the node observed the commit (unix ms). */
  readonly committedAtUnixMs: number;
  /** The committed block's actions, in block order. */
  readonly actions: readonly DriverAction[];
}

/** What the driver reports for a height. */
export interface DriverCommitResult {
  readonly executionHeight: number;
  readonly executionBlockHash: string;
  readonly executionStateRoot: string;
}

/** The driver's own view of how far it got (used by the node's start-up handshake). */
export interface DriverInfo {
  /** Last applied height (0 when none). */
  readonly lastHeight: number;
  readonly lastNodeBlockHash: string | null;
  readonly lastExecutionBlockHash: string | null;
  readonly lastExecutionStateRoot: string | null;
}

/** A page of journal events (the optional `journal` capability). */
export interface DriverJournalPage {
  /** Journal index of `events[0]`. */
  readonly from: number;
  /** JSON-like event objects, oldest first. */
  readonly events: readonly unknown[];
  /** Index to ask for next. */
  readonly next: number;
  /** Events in the journal at the executed height. */
  readonly journalLen: number;
}

/** Names of the optional read-only capabilities a driver may implement. */
export const DRIVER_CAPABILITIES = ["summary", "agent", "journal"] as const;

/** One of {@link DRIVER_CAPABILITIES}. */
export type DriverCapability = typeof DRIVER_CAPABILITIES[number];

/**
 * A running driver: exactly the node's execution hook. `onCommit` is called in
 * height order, one call at a time; it must be idempotent for heights already
 * applied and fill any gap below `ctx.height` (read missing blocks via the host).
 */
export interface Driver {
  onCommit(ctx: DriverCommitContext): Promise<DriverCommitResult>;
  /** Optional: lets the node hand over exactly the heights above the driver's. */
  info?(): Promise<DriverInfo>;
  /** Optional: release files and handles. */
  close?(): Promise<void>;
  /**
   * Optional capability: a JSON-like summary of the executed world (`GET /v1/world`),
   * e.g. `{ height, agent_count, … }`. Without it the API answers 501. An `agents`
   * array in it (`{id, x, y, energy, resources}` each) is drawn by the viewer; the
   * node asks for at most `agentLimit` and cuts a longer list to that.
   */
  summary?(agentLimit?: number): Promise<Record<string, unknown>>;
  /** Optional capability: agent `id` as a JSON-like object, or null (`GET /v1/agents/:id`). */
  agent?(id: string): Promise<Record<string, unknown> | null>;
  /** Optional capability: up to `limit` journal events from index `from` (`GET /v1/journal`). */
  journal?(from: number, limit: number): Promise<DriverJournalPage>;
}

/** A committed consensus block as the host's block reader returns it. */
export interface DriverBlock {
  readonly header: {
    readonly height: number;
    readonly slot: number;
    readonly epoch: number;
    readonly parentHash: string;
    readonly proposer: string;
    readonly actionsRoot: string;
    readonly timestampMs: number;
  };
  readonly hash: string;
  readonly actions: readonly DriverAction[];
  readonly committedAtUnixMs: number;
}

/** Content-addressed blobs (`<data>/store`), addressed by `host.hash.name` hex. */
export interface DriverCas {
  put(bytes: Uint8Array): Promise<string>;
  get(hash: string): Promise<Uint8Array>;
  has(hash: string): Promise<boolean>;
}

/** The runtime's shared execution core (what the default `bridge` driver wraps). */
export interface DriverExecutionCore {
  info(): DriverInfo;
  /** Executes every height above the last applied one up to `ctx.height`. */
  executeThrough(ctx: DriverCommitContext): Promise<DriverCommitResult>;
  /** The recorded result of an applied height, or null. */
  resultAt(height: number): Promise<DriverCommitResult | null>;
  /** The world summary at the last applied height (snake_case keys), with an `agents` sample. */
  summary(agentLimit?: number): Promise<Record<string, unknown>>;
  /** Agent `id` at the last applied height, or null. */
  agent(id: string): Promise<Record<string, unknown> | null>;
  /** Journal events `from`… (at most `limit`) up to the last applied height. */
  journal(from: number, limit: number): Promise<DriverJournalPage>;
  close(): Promise<void>;
}

/** Structured log lines, routed wherever the node sends its logs. */
export interface DriverLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Everything the runtime gives a driver; a driver needs nothing else from this repo. */
export interface DriverHost {
  /** Always {@link DRIVER_API_VERSION} for this runtime. */
  readonly apiVersion: number;
  /** The node's data folder (`--data-dir`); a driver keeps its own files under it. */
  readonly dataDir: string;
  readonly nodeId: string;
  readonly worldId: string;
  readonly mode: DriverMode;
  readonly cas: DriverCas;
  /** Committed blocks by height, for filling gaps. */
  readonly blocks: { getBlock(height: number): Promise<DriverBlock | null> };
  readonly hash: {
    readonly name: "blake3";
    /** Hash of bytes, lowercase hex. */
    hex(bytes: Uint8Array): string;
    /** Hash of a value's canonical CBOR (integers only; no floats in hashed data). */
    canonical(value: unknown): string;
  };
  /** The runtime's deterministic CBOR codec (sorted keys, minimal heads). */
  readonly cbor: {
    encode(value: unknown): Uint8Array;
    decode(bytes: Uint8Array): unknown;
  };
  /** Opens the runtime's execution core over `dataDir` (the same one every time). */
  openExecutionCore(): Promise<DriverExecutionCore>;
  readonly logger: DriverLogger;
}

/**
 * The default export of a plugin module.
 *
 * @example
 * ```ts
 * import type { DriverPlugin } from "./plugin.ts";
 * const plugin: DriverPlugin = {
 *   name: "echo",
 *   apiVersion: 1,
 *   description: "reports the node block hash as its own",
 *   create: () => ({
 *     onCommit: (ctx) =>
 *       Promise.resolve({
 *         executionHeight: ctx.height,
 *         executionBlockHash: ctx.nodeBlockHash,
 *         executionStateRoot: ctx.nodeBlockHash,
 *       }),
 *   }),
 * };
 * export default plugin;
 * ```
 */
export interface DriverPlugin {
  /** Name chosen with `--driver`; unique across the embedded and drop-in sets. */
  readonly name: string;
  /** The contract version the plugin was written for; must equal {@link DRIVER_API_VERSION}. */
  readonly apiVersion: number;
  readonly description?: string;
  create(host: DriverHost): Promise<Driver> | Driver;
}
