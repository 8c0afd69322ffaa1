/**
 * `awr drivers list`: the execution drivers this awr can run, and the plugin files
 * it refused (with why). Broken drop-ins are reported, not fatal: exit 0. Each file
 * is inspected in a Worker that may only read its folder's files, so listing runs
 * no plugin code with awr's permissions.
 * @module
 */
// Explicit npm: specifier, so mod.ts imports from projects without our deno.json.
// deno-lint-ignore no-import-prefix
import type { Command } from "npm:commander@14.0.3";
import { type DriverCatalog, listDrivers } from "../driver/loader.ts";
import type { CliIo } from "./io.ts";

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

/** Renders a catalog for people. */
function render(catalog: DriverCatalog, io: CliIo): void {
  const rows = [["NAME", "API", "SOURCE", "FILE"]];
  for (const d of catalog.drivers) rows.push([d.name, String(d.apiVersion), d.source, d.file]);
  for (const line of table(rows)) io.out(line);
  if (catalog.drivers.some((d) => d.description)) {
    io.out("");
    for (const d of catalog.drivers) if (d.description) io.out(`${d.name}: ${d.description}`);
  }
  if (catalog.dropInDir !== null) io.out(`\ndrop-in folder: ${catalog.dropInDir}`);
  if (catalog.problems.length > 0) {
    io.out(`\n${catalog.problems.length} plugin file(s) refused:`);
    for (const p of catalog.problems) io.out(`  [${p.code}] ${p.message}`);
  }
}

/** JSON form (snake_case keys, like every file and report of awr). */
function toJson(catalog: DriverCatalog): unknown {
  return {
    drivers: catalog.drivers.map((d) => ({
      name: d.name,
      api_version: d.apiVersion,
      description: d.description,
      source: d.source,
      file: d.file,
    })),
    problems: catalog.problems.map((p) => ({
      file: p.file,
      code: p.code,
      message: p.message,
      ...(p.name ? { name: p.name } : {}),
    })),
    drop_in_dir: catalog.dropInDir,
  };
}

/**
 * Adds `awr drivers list [--plugins-dir D] [--json]` to `program`.
 *
 * @example
 * ```ts
 * import { Command } from "npm:commander@14.0.3";
 * import { registerDriversCommands } from "./drivers.ts";
 * import { processIo } from "./io.ts";
 * const program = new Command();
 * registerDriversCommands(program, processIo());
 * await program.parseAsync(["drivers", "list"], { from: "user" });
 * ```
 */
export function registerDriversCommands(program: Command, io: CliIo): void {
  const drivers = program.command("drivers").description("execution driver plugins");
  drivers
    .command("list")
    .description(
      "list the embedded and drop-in execution drivers, and the plugin files refused (exit 0);\n" +
        "each file is inspected in a read-only sandbox",
    )
    .option("--plugins-dir <dir>", "drop-in plugins folder (default: plugins/ beside awr)")
    .option("--json", "print JSON")
    .action(async (opts: { pluginsDir?: string; json?: boolean }) => {
      // A --plugins-dir that does not exist throws (exit 1); broken plugins do not.
      const catalog = await listDrivers({ pluginsDir: opts.pluginsDir });
      if (opts.json) io.out(JSON.stringify(toJson(catalog), null, 2));
      else render(catalog, io);
    });
}
