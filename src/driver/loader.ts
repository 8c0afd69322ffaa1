/**
 * Finds and loads execution driver plugins.
 *
 * Two sets: the *embedded* set is the repo's `plugins/` folder, addressed relative
 * to this module so `deno compile --include plugins` carries it inside the binary;
 * the *drop-in* set is a folder on disk (by default `plugins/` beside the compiled
 * binary, or the repo's `plugins/` under `deno run`, where it is the embedded
 * folder itself and is scanned once). A drop-in is imported by the `file://` URL of
 * its real path, and only when that real path lies inside the folder.
 *
 * Names are unique: when a drop-in claims an embedded driver's name the embedded
 * driver wins and the drop-in is refused; when two drop-ins claim the same name
 * both are refused, since picking one would depend on file names.
 *
 * Listing never runs plugin code with the node's permissions: each file is imported
 * in a Worker that may only read its folder's files (`probe.ts`), and only the chosen file
 * is imported again — in the driver's own sandboxed Worker, or on the calling thread
 * for in-process tools. Embedded files inside a compiled binary are trusted and
 * imported directly.
 * @module
 */
import { dirname, extname, fromFileUrl, join, SEPARATOR, toFileUrl } from "../std/path.ts";
import { AwrError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { DriverPlugin } from "./plugin.ts";
import { type Candidate, type Found, inspect, inspectAll } from "./inspect.ts";

/** Error for a plugin that cannot be used, or a driver name that is not there. */
export class PluginError<C extends ErrorCode = ErrorCode> extends AwrError<C> {}

/** Where a driver came from. */
export type DriverSource = "embedded" | "drop-in";

/** One usable driver. */
export interface DriverListing {
  readonly name: string;
  readonly apiVersion: number;
  readonly description: string | null;
  readonly source: DriverSource;
  /** Path of the module (inside the binary for embedded drivers of a compiled awr). */
  readonly file: string;
  /** `file://` URL of the module's real path (what is imported). */
  readonly url: string;
  /** Real folder of the module: what the driver's Worker may read. */
  readonly dir: string;
}

/** The codes of a refused plugin file. */
export type PluginRefusalCode = Extract<ErrorCode, `PLUGIN_${string}`>;

/** A plugin file that was refused, and why. */
export interface PluginProblem {
  readonly file: string;
  /** Why the file is refused. */
  readonly code: PluginRefusalCode;
  readonly message: string;
  /** The driver name the file declares, when it got that far. */
  readonly name?: string;
}

/** Result of {@link listDrivers}. */
export interface DriverCatalog {
  /** Usable drivers, embedded first, each set by file name. */
  readonly drivers: DriverListing[];
  readonly problems: PluginProblem[];
  /** The drop-in folder that was scanned (null when it is the embedded folder). */
  readonly dropInDir: string | null;
}

/** Options shared by {@link listDrivers} and {@link loadDriver}. */
export interface LoaderOptions {
  /** Drop-in folder (`--plugins-dir`); it must exist. Default: {@link defaultPluginsDir}. */
  pluginsDir?: string;
  /**
   * How awr runs; defaults to the real process. Tests pass `{ standalone: true, execPath }`
   * to exercise the compiled-binary paths under `deno run`.
   */
  runtime?: LoaderRuntime;
  /**
   * Load exactly this plugin (already resolved and checked by a listing) on the
   * calling thread, without scanning. The driver Worker uses this.
   */
  only?: DriverListing;
  /** Budget to inspect one plugin file in its Worker, in ms; default 30 000. */
  probeTimeoutMs?: number;
  /** Most drop-in files inspected; default {@link MAX_PLUGIN_FILES}. */
  maxPluginFiles?: number;
}

/** Default most drop-in files inspected; later files are refused (`PLUGIN_TOO_MANY`). */
export const MAX_PLUGIN_FILES = 256;

/** The facts about the running program that change where plugins come from. */
export interface LoaderRuntime {
  /** True inside a `deno compile` binary. */
  standalone: boolean;
  /** Path of the running executable. */
  execPath: string;
}

function currentRuntime(): LoaderRuntime {
  return { standalone: Deno.build.standalone, execPath: Deno.execPath() };
}

/** A loaded driver plugin and where it came from. */
export interface LoadedDriver {
  readonly plugin: DriverPlugin;
  readonly listing: DriverListing;
}

const EMBEDDED_URL = new URL("../../plugins/", import.meta.url);
// Used only if the embedded folder cannot be listed (it always holds these).
const EMBEDDED_FALLBACK = ["bridge-driver.ts"];
const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
const CANDIDATE_EXTENSIONS = new Set([".ts", ".js", ".mjs"]);

/**
 * The drop-in folder used when `--plugins-dir` is not given.
 *
 * @example
 * ```ts
 * import { defaultPluginsDir } from "./loader.ts";
 * console.log(defaultPluginsDir()); // the repo's plugins/ under `deno run`
 * ```
 */
export function defaultPluginsDir(runtime: LoaderRuntime = currentRuntime()): string {
  if (runtime.standalone) return join(dirname(runtime.execPath), "plugins");
  return fromFileUrl(EMBEDDED_URL);
}

/**
 * Whether a folder entry is taken for a plugin. The rule: a file directly in the
 * folder, ending `.ts`, `.js` or `.mjs`, whose name does not start with `.` or `_`
 * and is not a declaration file (`*.d.ts`, `*.d.mts`). Everything else is a support
 * file a plugin may import without being loaded itself: `_`-prefixed helpers (the
 * Deno std habit), a copy of the contract as `_plugin.ts`, `*.d.ts` types, and any
 * subfolder (e.g. `types/`, `lib/`), which is never scanned.
 *
 * @example
 * ```ts
 * import { isPluginFileName } from "./loader.ts";
 * isPluginFileName("echo.js"); // true
 * isPluginFileName("_plugin.ts"); // false
 * ```
 */
export function isPluginFileName(name: string): boolean {
  const lower = name.toLowerCase();
  if (name.startsWith(".") || name.startsWith("_")) return false;
  if (lower.endsWith(".d.ts") || lower.endsWith(".d.mts")) return false;
  return CANDIDATE_EXTENSIONS.has(extname(lower));
}

async function sortedNames(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) if (isPluginFileName(e.name)) entries.push(e);
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function embeddedCandidates(): Promise<Candidate[]> {
  let names: string[];
  try {
    names = (await sortedNames(fromFileUrl(EMBEDDED_URL))).filter((e) => !e.isDirectory).map((
      e,
    ) => e.name);
  } catch {
    names = EMBEDDED_FALLBACK;
  }
  return names.map((n) => {
    const url = new URL(n, EMBEDDED_URL);
    return {
      file: fromFileUrl(url),
      url: url.href,
      dir: fromFileUrl(EMBEDDED_URL),
      source: "embedded",
    };
  });
}

async function realPathOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch {
    return null;
  }
}

async function dropInCandidates(
  dir: string,
  problems: PluginProblem[],
  maxFiles: number,
): Promise<Candidate[]> {
  const realDir = await realPathOrNull(dir);
  if (realDir === null) {
    throw new PluginError("PLUGINS_DIR_MISSING", `plugins folder ${dir} does not exist`, { dir });
  }
  const out: Candidate[] = [];
  for (const entry of await sortedNames(realDir)) {
    if (out.length >= maxFiles) {
      problems.push({
        file: join(realDir, entry.name),
        code: "PLUGIN_TOO_MANY",
        message: `${join(realDir, entry.name)}: the plugins folder holds more than ` +
          `${maxFiles} plugin files; this one was not inspected`,
      });
      continue;
    }
    const file = join(realDir, entry.name);
    const real = await realPathOrNull(file);
    if (real === null) {
      problems.push({
        file,
        code: "PLUGIN_UNREADABLE",
        message: `${file}: cannot resolve the file (a dangling link?)`,
      });
      continue;
    }
    if (!real.startsWith(realDir + SEPARATOR)) {
      problems.push({
        file,
        code: "PLUGIN_OUTSIDE_FOLDER",
        message: `${file} resolves to ${real}, outside the plugins folder ${realDir}; refused`,
      });
      continue;
    }
    if (!(await Deno.stat(real)).isFile) continue;
    out.push({ file, url: toFileUrl(real).href, dir: realDir, source: "drop-in" });
  }
  return out;
}

async function sameFolder(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([realPathOrNull(a), realPathOrNull(b)]);
  return ra !== null && ra === rb;
}

async function scan(options: LoaderOptions): Promise<{ found: Found[] } & DriverCatalog> {
  const problems: PluginProblem[] = [];
  const runtime = options.runtime ?? currentRuntime();
  const dir = options.pluginsDir ?? defaultPluginsDir(runtime);
  const embeddedDir = fromFileUrl(EMBEDDED_URL);
  const skipDropIns = !runtime.standalone && await sameFolder(dir, embeddedDir);
  let dropIns: Candidate[] = [];
  if (!skipDropIns) {
    // The default folder beside a binary is optional; a folder the operator named is not.
    const optional = options.pluginsDir === undefined && await realPathOrNull(dir) === null;
    if (!optional) {
      dropIns = await dropInCandidates(
        dir,
        problems,
        options.maxPluginFiles ?? MAX_PLUGIN_FILES,
      );
    }
  }
  const results = await inspectAll(
    [...await embeddedCandidates(), ...dropIns],
    runtime,
    options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
  );
  const byName = new Map<string, Found[]>();
  for (const r of results) {
    if (!("listing" in r)) {
      problems.push(r);
      continue;
    }
    const list = byName.get(r.listing.name) ?? [];
    list.push(r);
    byName.set(r.listing.name, list);
  }
  const found: Found[] = [];
  for (const [name, list] of byName) {
    const embedded = list.find((f) => f.listing.source === "embedded");
    const keep = embedded ?? (list.length === 1 ? list[0] : null);
    if (keep) found.push(keep);
    for (const f of list) {
      if (f === keep) continue;
      const others = list.filter((o) => o !== f).map((o) =>
        `${o.listing.file} (${o.listing.source})`
      );
      const outcome = keep ? `; ${keep.listing.file} is used` : "; none of them is used";
      problems.push({
        file: f.listing.file,
        code: "PLUGIN_DUPLICATE_NAME",
        name,
        message: `${f.listing.file}: driver name "${name}" is also declared by ${
          others.join(", ")
        }${outcome}`,
      });
    }
  }
  const order = (f: Found) => f.listing.source === "embedded" ? 0 : 1;
  found.sort((a, b) => order(a) - order(b) || (a.listing.file < b.listing.file ? -1 : 1));
  return {
    found,
    drivers: found.map((f) => f.listing),
    problems,
    dropInDir: skipDropIns ? null : dir,
  };
}

/**
 * Lists the usable drivers and the plugin files that were refused.
 *
 * @example
 * ```ts
 * import { listDrivers } from "./loader.ts";
 * const { drivers, problems } = await listDrivers();
 * console.log(drivers.map((d) => d.name), problems.length);
 * ```
 */
export async function listDrivers(options: LoaderOptions = {}): Promise<DriverCatalog> {
  const { drivers, problems, dropInDir } = await scan(options);
  return { drivers, problems, dropInDir };
}

async function find(name: string, options: LoaderOptions): Promise<Found> {
  const { found, problems } = await scan(options);
  const hit = found.find((f) => f.listing.name === name);
  if (hit) return hit;
  const refused = problems.find((p) => p.name === name);
  if (refused) {
    throw new PluginError(refused.code, `driver "${name}" is refused: ${refused.message}`, {
      name,
      file: refused.file,
    });
  }
  const known = found.map((f) => f.listing.name).join(", ") || "none";
  // Name the refused files: the wanted driver may be the one that failed to load.
  const broken = problems.length > 0
    ? `; refused plugin files: ${problems.map((p) => p.message).join("; ")}`
    : "";
  throw new PluginError(
    "DRIVER_NOT_FOUND",
    `no driver named "${name}" (available: ${known})${broken}`,
    { name, problems: problems.map((p) => p.message) },
  );
}

/**
 * Finds the driver called `name` without running its code on this thread (files are
 * inspected in sandboxed Workers); a missing or refused name is a {@link PluginError}.
 *
 * @example
 * ```ts
 * import { resolveDriver } from "./loader.ts";
 * const listing = await resolveDriver("bridge");
 * console.log(listing.url, listing.dir);
 * ```
 */
export async function resolveDriver(
  name: string,
  options: LoaderOptions = {},
): Promise<DriverListing> {
  return (await find(name, options)).listing;
}

/**
 * Loads the driver plugin called `name` on this thread; a missing name, or one
 * refused (duplicate, broken file), is a {@link PluginError} that says why. With
 * `options.only` it imports that one file without scanning.
 *
 * @example
 * ```ts
 * import { loadDriver } from "./loader.ts";
 * const { plugin, listing } = await loadDriver("bridge");
 * console.log(plugin.name, listing.source); // "bridge" "embedded"
 * ```
 */
export async function loadDriver(name: string, options: LoaderOptions = {}): Promise<LoadedDriver> {
  const runtime = options.runtime ?? currentRuntime();
  const listing = options.only ?? (await find(name, options)).listing;
  const c: Candidate = {
    file: listing.file,
    url: listing.url,
    dir: listing.dir,
    source: listing.source,
  };
  const r = await inspect(c, runtime, 0, true);
  if (!("listing" in r)) {
    throw new PluginError(r.code, `driver "${name}" is refused: ${r.message}`, {
      name,
      file: r.file,
    });
  }
  // The file may have changed since it was listed.
  if (r.listing.name !== name || !r.plugin) {
    throw new PluginError(
      "DRIVER_NOT_FOUND",
      `${listing.file} now declares driver "${r.listing.name}", not "${name}"`,
      { name, file: listing.file },
    );
  }
  return { plugin: r.plugin, listing: r.listing };
}
