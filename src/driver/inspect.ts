/**
 * Inspects plugin files for the loader: imports each in a Worker that may read only
 * its folder (`probe.ts`) — or on this thread for a compiled binary's embedded files
 * and the one plugin already chosen — and checks the shape of its default export.
 * @module
 */
import { extname } from "../std/path.ts";
import { errorMessage } from "../errors.ts";
import type {
  DriverListing,
  DriverSource,
  LoaderRuntime,
  PluginProblem,
  PluginRefusalCode,
} from "./loader.ts";
import { DRIVER_API_VERSION, type DriverPlugin } from "./plugin.ts";
import { type PluginShape, shapeOf } from "./plugin_shape.ts";
import { probePlugin } from "./probe.ts";

/** Plugin files inspected at the same time (one Worker each). */
const PROBE_CONCURRENCY = 4;

/** A plugin file to inspect. */
export interface Candidate {
  readonly file: string;
  readonly url: string;
  readonly dir: string;
  readonly source: DriverSource;
}

/** A usable plugin file. */
export interface Found {
  /** Set when the file was imported on this thread. */
  readonly plugin?: DriverPlugin;
  readonly listing: DriverListing;
}

function problem(
  c: Candidate,
  code: PluginRefusalCode,
  message: string,
  name?: string,
): PluginProblem {
  return { file: c.file, code, message: `${c.file}: ${message}`, ...(name ? { name } : {}) };
}

// Import errors carry a multi-line code frame; keep its first line and the location.
function oneLine(err: unknown): string {
  const lines = errorMessage(err).split("\n");
  const at = lines.find((l) => /^\s*at \S+:\d+:\d+/.test(l))?.trim();
  return at && !lines[0].includes(at) ? `${lines[0]} (${at})` : lines[0];
}

function importHint(c: Candidate, runtime: LoaderRuntime): string {
  if (runtime.standalone && extname(c.file).toLowerCase() === ".ts") {
    return "; this compiled awr cannot load a .ts drop-in: compile the driver to .js " +
      "(e.g. esbuild) or run awr from source";
  }
  return "";
}

// Whether to import a candidate on this thread: only a compiled binary's own
// embedded files (trusted, and inside the binary) or the one plugin already chosen.
function importsDirectly(c: Candidate, runtime: LoaderRuntime): boolean {
  return runtime.standalone && c.source === "embedded";
}

async function importHere(
  c: Candidate,
  runtime: LoaderRuntime,
): Promise<{ shape: PluginShape; plugin: DriverPlugin } | PluginProblem> {
  try {
    const mod = await import(c.url);
    return { shape: shapeOf(mod), plugin: mod.default as DriverPlugin };
  } catch (err) {
    return importProblem(c, oneLine(err), runtime);
  }
}

function importProblem(c: Candidate, message: string, runtime: LoaderRuntime): PluginProblem {
  // The sandbox denies loading a module outside the plugin's folder: say so plainly.
  // (A denied read of another kind of file is the plugin's top-level code at work.)
  const outside = /Requires read access to "([^"]+\.(?:[cm]?[jt]sx?|json))"/i.exec(message);
  if (outside) {
    return problem(
      c,
      "PLUGIN_OUTSIDE_FOLDER",
      `imports ${outside[1]}, which it may not read: outside its folder ${c.dir} ` +
        `(or a link leading out of it); a plugin must be self-contained ` +
        `(bundle its dependencies into the plugin file or folder)`,
    );
  }
  return problem(c, "PLUGIN_IMPORT_FAILED", `cannot import: ${message}${importHint(c, runtime)}`);
}

/** Inspects one plugin file: in a sandboxed Worker, or on this thread when `direct`. */
export async function inspect(
  c: Candidate,
  runtime: LoaderRuntime,
  probeTimeoutMs: number,
  direct: boolean,
): Promise<Found | PluginProblem> {
  let shape: PluginShape;
  let plugin: DriverPlugin | undefined;
  if (direct || importsDirectly(c, runtime)) {
    const r = await importHere(c, runtime);
    if ("code" in r) return r;
    ({ shape, plugin } = r);
  } else {
    const r = await probePlugin(c.url, c.dir, probeTimeoutMs);
    if (!r.ok) return importProblem(c, r.message, runtime);
    shape = r.shape;
  }
  const checked = checkShape(c, shape);
  if ("code" in checked) return checked;
  return plugin ? { plugin, listing: checked } : { listing: checked };
}

function checkShape(c: Candidate, s: PluginShape): DriverListing | PluginProblem {
  if (s.defaultType === "undefined") {
    return problem(
      c,
      "PLUGIN_NO_DEFAULT_EXPORT",
      "has no default export; a driver plugin's default export is { name, apiVersion, create }",
    );
  }
  if (s.defaultType !== "object") {
    return problem(c, "PLUGIN_BAD_SHAPE", `default export is ${s.defaultText}, not an object`);
  }
  if (s.apiVersion !== DRIVER_API_VERSION) {
    return problem(
      c,
      "PLUGIN_API_VERSION",
      `declares apiVersion ${JSON.stringify(s.apiVersion) ?? "undefined"}; ` +
        `this awr supports apiVersion ${DRIVER_API_VERSION}`,
    );
  }
  if (typeof s.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s.name)) {
    return problem(
      c,
      "PLUGIN_BAD_SHAPE",
      "default export has no valid name (a string of letters, digits, '.', '_' or '-')",
    );
  }
  if (s.createType !== "function") {
    return problem(c, "PLUGIN_BAD_SHAPE", `driver "${s.name}" has no create(host) function`);
  }
  return {
    name: s.name,
    apiVersion: DRIVER_API_VERSION,
    description: typeof s.description === "string" ? s.description : null,
    source: c.source,
    file: c.file,
    url: c.url,
    dir: c.dir,
  };
}

/**
 * Inspects plugin files, a few at a time, each in its own sandboxed Worker: the
 * embedded ones first, then the drop-ins. A drop-in whose import fails inside Deno's
 * module loader (e.g. an npm package the frozen lockfile lacks) can fail the imports
 * running beside it in the same process, so no drop-in is in flight while an
 * embedded driver loads.
 */
export async function inspectAll(
  cs: Candidate[],
  runtime: LoaderRuntime,
  probeTimeoutMs: number,
): Promise<(Found | PluginProblem)[]> {
  const out: (Found | PluginProblem)[] = new Array(cs.length);
  const inspectSome = async (indexes: number[]) => {
    let next = 0;
    const lane = async () => {
      while (next < indexes.length) {
        const i = indexes[next++];
        out[i] = await inspect(cs[i], runtime, probeTimeoutMs, false);
      }
    };
    const lanes = Math.min(PROBE_CONCURRENCY, indexes.length);
    await Promise.all(Array.from({ length: lanes }, lane));
  };
  const all = cs.map((_, i) => i);
  await inspectSome(all.filter((i) => cs[i].source === "embedded"));
  await inspectSome(all.filter((i) => cs[i].source !== "embedded"));
  return out;
}
