/**
 * Inspects a plugin file without giving its code the node's permissions: the file
 * is imported in a Worker (`probe_worker.ts`) that may read only the plugin's
 * folder, and only a plain description of its default export comes back.
 * @module
 */
import { fromFileUrl } from "../std/path.ts";
import { errorMessage } from "../errors.ts";
import type { ProbeResult } from "./plugin_shape.ts";
import { assertWorkerSandbox, pluginReadPaths, probePermissions } from "./sandbox.ts";

/** Source files larger than this are not scanned for `npm:` (the frozen lockfile still holds). */
const MAX_SCAN_BYTES = 4 * 1024 * 1024;
const SOURCE = /\.(?:[cm]?[jt]s|[jt]sx)$/i;

// An `npm:` import would make the node's module loader fetch and install a package
// with the node's permissions (deno.json's frozen lockfile refuses new ones too).
// Say so plainly for the literal case.
async function npmImporter(files: readonly string[]): Promise<string | null> {
  for (const f of files) {
    if (!SOURCE.test(f) || (await Deno.stat(f)).size > MAX_SCAN_BYTES) continue;
    if (/["'`]npm:/.test(await Deno.readTextFile(f))) {
      return `${f} imports an npm: package; plugins must be self-contained ` +
        `(bundle the package into the plugin file)`;
    }
  }
  return null;
}

const PROBE_WORKER_URL = new URL("./probe_worker.ts", import.meta.url);

/**
 * Imports `url` in a Worker that may read only the files of `dir`, and describes its default
 * export. Import errors (including a denied read outside `dir`) and a file that does
 * not load within `timeoutMs` come back as `{ ok: false, message }`.
 *
 * @example
 * ```ts
 * import { probePlugin } from "./probe.ts";
 * const r = await probePlugin("file:///opt/awr/plugins/x.js", "/opt/awr/plugins", 10_000);
 * console.log(r.ok);
 * ```
 */
export async function probePlugin(
  url: string,
  dir: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  assertWorkerSandbox();
  let files: string[];
  try {
    files = await pluginReadPaths(dir);
    const npm = await npmImporter([fromFileUrl(url)]);
    if (npm !== null) return { ok: false, message: npm };
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  }
  const worker = new Worker(PROBE_WORKER_URL, {
    type: "module",
    name: "plugin-probe",
    deno: { permissions: probePermissions(files) },
  });
  return await new Promise<ProbeResult>((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, message: `did not load within ${timeoutMs} ms` }),
      timeoutMs,
    );
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      resolve(r);
    };
    worker.onmessage = (e: MessageEvent<ProbeResult>) => done(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      done({ ok: false, message: e.message });
    };
    worker.onmessageerror = () => done({ ok: false, message: "sent an unreadable message" });
    try {
      worker.postMessage(url);
    } catch (err) {
      done({ ok: false, message: errorMessage(err) });
    }
  }).finally(() => worker.terminate());
}
