/**
 * `awr status` and `awr snapshot inspect`: read persisted node state offline.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { AwrError, type ErrorCode, errorJson, errorMessage } from "../errors.ts";
import { readFileBounded } from "../storage/atomic.ts";
import { type Decoded, decodeFile } from "../storage/schema.ts";
import {
  consensusFromState,
  consensusToJson,
  type NodeConsensusSnapshotJson,
} from "../node/snapshot.ts";
import {
  NODE_STATE_FILE,
  nodeStatePath,
  POS_NODE_STATE_SCHEMA,
  type PosNodeState,
} from "../node/state_file.ts";
import { detectFileKind } from "./file_kind.ts";
import { CliError, type CliIo } from "./io.ts";
import { nodesDir } from "../storage/data_dir.ts";

/**
 * Largest file `awr snapshot inspect` and `awr status` read (1 MiB): a node state
 * snapshot is a few hundred bytes, so anything bigger is not one (and `/dev/zero` is
 * refused without being read).
 */
export const SNAPSHOT_MAX_BYTES = 1 << 20;

/** JSON view of a stored node state, with the seed's field names. */
export interface StoredStatusJson {
  node_id: string;
  world_id: string;
  state_file: string;
  running: false;
  consensus: NodeConsensusSnapshotJson;
  execution_lag: number;
}

/** The status JSON for a stored state (also used by `awr status --json`). */
export function storedStatusJson(state: PosNodeState, file: string): StoredStatusJson {
  return {
    node_id: state.nodeId,
    world_id: state.worldId,
    state_file: file,
    running: false,
    consensus: consensusToJson(consensusFromState(state)),
    execution_lag: state.committedHeight - state.lastExecutionHeight,
  };
}

function humanLines(state: PosNodeState, file: string): string[] {
  const lag = state.committedHeight - state.lastExecutionHeight;
  return [
    `node ${state.nodeId || "(unknown)"}  world ${state.worldId || "(unknown)"}`,
    `  state file          ${file}`,
    `  slot / epoch        ${state.slot} / ${state.epoch}`,
    `  committed height    ${state.committedHeight}`,
    `  last block hash     ${state.lastBlockHash ?? "-"}`,
    `  execution height    ${state.lastExecutionHeight}  (lag ${lag})`,
    `  execution block     ${state.lastExecutionBlockHash ?? "-"}`,
    `  execution root      ${state.lastExecutionStateRoot ?? "-"}`,
  ];
}

async function findNodeIds(dataDir: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(nodesDir(dataDir))) {
      if (e.isDirectory) ids.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CliError(`no node state under ${dataDir} (missing ${nodesDir(dataDir)})`, 1, {
        cause: err,
      });
    }
    throw err;
  }
  return ids.sort();
}

/** A snapshot file refused by {@link loadState}; `code` says why, `kind` what it is. */
class SnapshotFileError extends CliError {
  readonly reason: ErrorCode;
  readonly kind: string | null;
  constructor(
    reason: ErrorCode,
    message: string,
    kind: string | null = null,
    options?: ErrorOptions,
  ) {
    super(message, 1, options);
    this.reason = reason;
    this.kind = kind;
  }
}

// Bounded read, then the file must BE a node state snapshot (recognised by its
// fields) before it is decoded as one: a block file or a ledger decodes to defaults.
async function loadState(file: string): Promise<Decoded<PosNodeState>> {
  let bytes;
  try {
    bytes = await readFileBounded(file, SNAPSHOT_MAX_BYTES);
  } catch (err) {
    throw new SnapshotFileError(
      err instanceof AwrError ? err.code : "FILE_READ",
      errorMessage(err),
      null,
      { cause: err },
    );
  }
  if (!bytes) throw new SnapshotFileError("FILE_MISSING", `${file}: no such file`);
  const found = detectFileKind(bytes);
  if (found.kind !== "node_state") {
    throw new SnapshotFileError(
      "WRONG_FILE_KIND",
      `${file} is ${found.description}, not a node state snapshot (${NODE_STATE_FILE})`,
      found.kind,
    );
  }
  try {
    return decodeFile(POS_NODE_STATE_SCHEMA, bytes, file);
  } catch (err) {
    throw new SnapshotFileError(
      err instanceof AwrError ? err.code : "SNAPSHOT_CORRUPT",
      errorMessage(err),
      null,
      { cause: err },
    );
  }
}

/** Registers `awr status`. */
export function registerStatusCommand(program: Command, io: CliIo): void {
  program
    .command("status")
    .description("show a node's persisted consensus and execution state (works offline)")
    .option("-d, --data-dir <dir>", "data directory", "./data")
    .option("--node-id <id>", "node to show (default: the only node in the data dir)")
    .option("--json", "print JSON with the seed's field names")
    .action((opts: { dataDir: string; nodeId?: string; json?: boolean }) =>
      withJsonErrors(io, opts.json, { data_dir: opts.dataDir }, async () => {
        let nodeId = opts.nodeId;
        if (!nodeId) {
          const ids = await findNodeIds(opts.dataDir);
          if (ids.length === 0) throw new CliError(`no node state under ${opts.dataDir}`);
          if (ids.length > 1) {
            throw new CliError(
              `several nodes in ${opts.dataDir} (${ids.join(", ")}); pick one with --node-id`,
              2,
            );
          }
          nodeId = ids[0];
        }
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(nodeId)) {
          throw new CliError(`--node-id: invalid id "${nodeId}"`, 2);
        }
        const file = nodeStatePath(opts.dataDir, nodeId);
        const state = (await loadState(file)).value;
        if (opts.json) io.out(JSON.stringify(storedStatusJson(state, file), null, 2));
        else for (const line of humanLines(state, file)) io.out(line);
      })
    );
}

// With --json, a failure is printed as JSON on stdout too (`ok: false`, `code`, `kind`
// for a file of another kind, `error`); the exit code and the stderr line stay.
async function withJsonErrors(
  io: CliIo,
  json: boolean | undefined,
  about: Record<string, unknown>,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (json) {
      const refused = err instanceof SnapshotFileError;
      io.out(JSON.stringify(
        {
          ...about,
          ok: false,
          code: refused ? err.reason : err instanceof AwrError ? err.code : "ERROR",
          kind: refused ? err.kind : null,
          error: errorMessage(err),
          ...(err instanceof Error && err.cause !== undefined
            ? { cause: errorJson(err.cause) }
            : {}),
        },
        null,
        2,
      ));
    }
    throw err;
  }
}

/** Registers `awr snapshot inspect`. */
export function registerSnapshotCommands(program: Command, io: CliIo): void {
  const snapshot = program.command("snapshot").description("inspect persisted snapshot files");
  snapshot
    .command("inspect")
    .description(
      `decode a ${NODE_STATE_FILE} file and show every field; refuses other files naming\n` +
        `what they are, and files over ${SNAPSHOT_MAX_BYTES} bytes`,
    )
    .argument("<file>", "path of the snapshot file")
    .option("--json", "print JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      let decoded!: Decoded<PosNodeState>;
      await withJsonErrors(io, opts.json, { file }, async () => {
        decoded = await loadState(file);
      });
      const json = {
        file,
        schema_version: decoded.version,
        ...storedStatusJson(decoded.value, file),
        genesis_unix_ms: decoded.value.genesisUnixMs,
        unknown_fields: Object.keys(decoded.unknown),
      };
      if (opts.json) {
        io.out(JSON.stringify(json, null, 2));
        return;
      }
      io.out(`${file}: PosNodeStateSnapshot schema ${decoded.version}`);
      for (const line of humanLines(decoded.value, file).slice(1)) io.out(line);
      if (json.unknown_fields.length) {
        io.out(`  unknown fields kept ${json.unknown_fields.join(", ")}`);
      }
    });
}
