/**
 * The permissions a driver's Worker runs with. A driver gets only what it needs:
 * read the files of its own plugin folder and the parts of the data folder the host reads for it
 * (`node/<id>/blocks`, `execution/`, `store/`), write `execution/`, `store/` and its
 * own folder `drivers/<name>/`, and nothing else — not the API token, no net, run,
 * env, ffi or sys — unless the operator grants more with
 * `--driver-allow` (parsed by {@link parseDriverAllow}). Plugin files are inspected
 * (`awr drivers list`, name resolution) in a Worker that may only read the files of
 * the plugin's folder. Deno enforces a Worker's read permission on every module it
 * imports, so a plugin importing a file outside its folder (directly, or through a
 * symlink in the folder) fails to load.
 *
 * `Worker` permissions need Deno's `--unstable-worker-options`; without it Deno exits
 * the whole process, so {@link assertWorkerSandbox} checks first and says what to do.
 * @module
 */
import { dirname, fromFileUrl, join, SEPARATOR } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import { blocksDir, driverDir, executionDir, storeDir } from "../storage/data_dir.ts";
import type { ErrorCode } from "../errors.ts";

/** Error for a bad `--driver-allow` value or a runtime that cannot sandbox drivers. */
export class SandboxError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** The permission kinds an operator may grant a driver. */
export const GRANT_KINDS = ["net", "env", "run", "sys", "ffi", "read", "write"] as const;

/** One permission kind of {@link GRANT_KINDS}. */
export type GrantKind = typeof GRANT_KINDS[number];

/** Extra permissions for a driver: `true` = all of that kind, a list = only those. */
export type DriverGrants = Partial<Record<GrantKind, true | string[]>>;

/** Most `--driver-allow` values accepted (each a flag occurrence). */
export const MAX_DRIVER_ALLOW = 32;

/** Environment variables the host code needs (cbor-x reads this one at load). */
const HOST_ENV = ["CBOR_NATIVE_ACCELERATION_DISABLED"];

/**
 * Parses `--driver-allow` values. Each value is either a comma list of kinds
 * (`net,env`: all of each) or one kind with a comma list of what it may reach
 * (`net=127.0.0.1:8080,example.com`, `env=HOME`, `read=/srv/x`, `run=git`).
 *
 * @example
 * ```ts
 * import { parseDriverAllow } from "./sandbox.ts";
 * console.log(parseDriverAllow(["net=127.0.0.1:9000", "env"]));
 * // { net: ["127.0.0.1:9000"], env: true }
 * ```
 */
export function parseDriverAllow(values: readonly string[]): DriverGrants {
  if (values.length > MAX_DRIVER_ALLOW) {
    throw new SandboxError(
      "BAD_DRIVER_ALLOW",
      `--driver-allow is given ${values.length} times; at most ${MAX_DRIVER_ALLOW}`,
      { count: values.length },
    );
  }
  const grants: DriverGrants = {};
  const kindOf = (k: string, value: string): GrantKind => {
    if ((GRANT_KINDS as readonly string[]).includes(k)) return k as GrantKind;
    throw new SandboxError(
      "BAD_DRIVER_ALLOW",
      `--driver-allow "${value}": "${k}" is not one of ${GRANT_KINDS.join(", ")}`,
      { value },
    );
  };
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq < 0) {
      for (const k of value.split(",")) grants[kindOf(k.trim(), value)] = true;
      continue;
    }
    const kind = kindOf(value.slice(0, eq).trim(), value);
    const items = value.slice(eq + 1).split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (items.length === 0) {
      throw new SandboxError("BAD_DRIVER_ALLOW", `--driver-allow "${value}" lists nothing`, {
        value,
      });
    }
    const had = grants[kind];
    if (had !== true) grants[kind] = [...(had ?? []), ...items];
  }
  return grants;
}

/** What a driver Worker's permissions are built from. */
export interface DriverSandboxOptions {
  /** The files of the driver's plugin folder (read), from {@link pluginReadPaths}. */
  pluginFiles: readonly string[];
  /** The node's data folder (see the module doc for what of it is read and written). */
  dataDir: string;
  /** The node's id: its committed blocks are read from `<data>/node/<id>/blocks`. */
  nodeId: string;
  /** The driver's name: it may write its own folder `<data>/drivers/<name>`. */
  driverName: string;
  /** Operator grants (`--driver-allow`); default none. */
  grants?: DriverGrants;
}

function merge(base: string[], extra: true | string[] | undefined): true | string[] {
  if (extra === true) return true;
  return [...base, ...(extra ?? [])];
}

function only(extra: true | string[] | undefined): boolean | string[] {
  return extra ?? false;
}

/** Re-exported from the data-dir layout (`storage/data_dir.ts`). */
export { driverDir } from "../storage/data_dir.ts";

/**
 * The folders a driver's Worker writes (and reads): `<data>/execution`,
 * `<data>/store` and `<data>/drivers/<name>`. The node creates them before the
 * Worker starts, so nothing in the Worker needs to touch `<data>` itself.
 *
 * @example
 * ```ts
 * import { driverWrites } from "./sandbox.ts";
 * console.log(driverWrites("/var/awr", "counter").length); // 3
 * ```
 */
export function driverWrites(dataDir: string, driverName: string): string[] {
  return [executionDir(dataDir), storeDir(dataDir), driverDir(dataDir, driverName)];
}

/**
 * The Worker permissions of a running driver.
 *
 * @example
 * ```ts
 * import { driverPermissions } from "./sandbox.ts";
 * const p = driverPermissions({
 *   pluginFiles: ["/opt/awr/plugins/counter.js"], dataDir: "/var/awr", nodeId: "node-1",
 *   driverName: "counter",
 * });
 * console.log(p.write); // ["/var/awr/execution", "/var/awr/store", "/var/awr/drivers/counter"]
 * ```
 */
export function driverPermissions(options: DriverSandboxOptions): Deno.PermissionOptionsObject {
  const g = options.grants ?? {};
  const env = g.env === true ? true : [...HOST_ENV, ...(g.env ?? [])];
  const written = driverWrites(options.dataDir, options.driverName);
  return {
    read: merge([
      ...options.pluginFiles,
      blocksDir(options.dataDir, options.nodeId),
      ...written,
    ], g.read),
    write: merge(written, g.write),
    net: only(g.net),
    env,
    run: only(g.run),
    sys: only(g.sys) as Deno.PermissionOptionsObject["sys"],
    ffi: only(g.ffi),
    import: false,
  };
}

/**
 * The Worker permissions used to inspect a plugin file: read the files of its
 * folder ({@link pluginReadPaths}), nothing else.
 *
 * @example
 * ```ts
 * import { probePermissions } from "./sandbox.ts";
 * console.log(probePermissions(["/opt/awr/plugins/x.js"]).write); // false
 * ```
 */
export function probePermissions(pluginFiles: readonly string[]): Deno.PermissionOptionsObject {
  return {
    read: [...pluginFiles],
    write: false,
    net: false,
    env: false,
    run: false,
    sys: false,
    ffi: false,
    import: false,
  };
}

/** Most entries walked in a plugin folder by {@link pluginReadPaths}. */
export const MAX_PLUGIN_TREE_ENTRIES = 4_096;
const MAX_PLUGIN_TREE_DEPTH = 8;

/**
 * The files a plugin may read: every regular file under `dir` (sub-folders too,
 * depth ≤ 8), and symlinks that resolve inside it — never the folder itself.
 * Granting the folder would let a symlink in it (`link.js → ../outside/evil.js`)
 * be imported, since Deno checks the path as written. More than
 * {@link MAX_PLUGIN_TREE_ENTRIES} entries is a `PLUGIN_TREE_TOO_BIG` error.
 *
 * @example
 * ```ts
 * import { pluginReadPaths } from "./sandbox.ts";
 * console.log(await pluginReadPaths("/opt/awr/plugins"));
 * ```
 */
export async function pluginReadPaths(dir: string): Promise<string[]> {
  const realDir = await Deno.realPath(dir);
  const inside = (p: string) => p.startsWith(realDir + SEPARATOR);
  const out: string[] = [];
  let seen = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    for await (const e of Deno.readDir(d)) {
      if (++seen > MAX_PLUGIN_TREE_ENTRIES) {
        throw new SandboxError(
          "PLUGIN_TREE_TOO_BIG",
          `plugins folder ${dir} holds more than ${MAX_PLUGIN_TREE_ENTRIES} entries`,
          { dir },
        );
      }
      const path = join(d, e.name);
      if (e.isFile) out.push(path);
      else if (e.isDirectory && depth < MAX_PLUGIN_TREE_DEPTH) await walk(path, depth + 1);
      else if (e.isSymlink) {
        const real = await Deno.realPath(path).catch(() => null);
        if (real !== null && inside(real) && (await Deno.stat(real)).isFile) out.push(path);
      }
    }
  };
  await walk(dir, 0);
  return out.sort();
}

/** Facts about the process that decide whether Worker permissions are available. */
export interface SandboxRuntime {
  /** True inside a `deno compile` binary (compile.sh passes the flag). */
  standalone: boolean;
  /** The process's command line, or null when it cannot be read. */
  cmdline: string[] | null;
  /** Text of the deno.json(c) Deno uses (near the main module or the working folder), or null. */
  configText: string | null;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function configFrom(start: string): string | null {
  let dir = start;
  for (let i = 0; i < 64; i++) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const text = readText(join(dir, name));
      if (text !== null) return text;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

// Deno finds the config from the main module's folder (and the working folder).
function findConfig(): string | null {
  const starts: string[] = [];
  try {
    if (Deno.mainModule.startsWith("file:")) starts.push(dirname(fromFileUrl(Deno.mainModule)));
  } catch { /* no main module */ }
  try {
    starts.push(Deno.cwd());
  } catch { /* no working folder */ }
  for (const s of starts) {
    const text = configFrom(s);
    if (text !== null) return text;
  }
  return null;
}

/** Reads the facts of {@link SandboxRuntime} from this process (Linux: /proc/self/cmdline). */
export function currentSandboxRuntime(): SandboxRuntime {
  const raw = readText("/proc/self/cmdline");
  return {
    standalone: Deno.build.standalone,
    cmdline: raw === null ? null : raw.split("\0").filter((s) => s !== ""),
    configText: findConfig(),
  };
}

/**
 * Whether `new Worker(…, { deno: { permissions } })` will work: the flag is on the
 * command line, or the project's deno.json enables `worker-options` (and no
 * `--config`/`--no-config` points elsewhere). When the command line cannot be read
 * (not Linux) this answers true and Deno's own message names the flag.
 */
export function workerSandboxAvailable(rt: SandboxRuntime): boolean {
  if (rt.standalone || rt.cmdline === null) return true;
  if (rt.cmdline.includes("--unstable-worker-options")) return true;
  if (rt.cmdline.some((a) => a === "--no-config" || a.startsWith("--config") || a === "-c")) {
    return false;
  }
  return rt.configText !== null && /"unstable"\s*:\s*\[[^\]]*"worker-options"/.test(rt.configText);
}

/**
 * Throws `SANDBOX_UNAVAILABLE` when drivers cannot be sandboxed in this process.
 *
 * @example
 * ```ts
 * import { assertWorkerSandbox } from "./sandbox.ts";
 * assertWorkerSandbox(); // throws without --unstable-worker-options
 * ```
 */
export function assertWorkerSandbox(rt: SandboxRuntime = currentSandboxRuntime()): void {
  if (workerSandboxAvailable(rt)) return;
  throw new SandboxError(
    "SANDBOX_UNAVAILABLE",
    "execution drivers run in a permission-restricted Worker, which needs Deno's " +
      "--unstable-worker-options flag: run `deno run -A --unstable-worker-options mod.ts …` " +
      "(the deno.json tasks and compile.sh pass it)",
    { flag: "--unstable-worker-options" },
  );
}
