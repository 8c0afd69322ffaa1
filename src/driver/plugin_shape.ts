/**
 * A plain description of a plugin module's default export, the only thing that
 * comes back from inspecting a plugin in its Worker. Imports nothing, so the probe
 * Worker loads fast.
 * @module
 */

/** What a plugin module's default export looks like, as plain data. */
export interface PluginShape {
  /** `typeof` the default export, with `"null"` for null. */
  readonly defaultType: string;
  /** The default export as text when it is not an object. */
  readonly defaultText: string;
  readonly name: unknown;
  readonly apiVersion: unknown;
  readonly description: unknown;
  /** `typeof` the default export's `create`. */
  readonly createType: string;
}

/** Result of {@link probePlugin}. */
export type ProbeResult =
  | { readonly ok: true; readonly shape: PluginShape }
  | { readonly ok: false; readonly message: string };

/**
 * Describes a module's default export (clonable across a Worker boundary).
 *
 * @example
 * ```ts
 * import { shapeOf } from "./plugin_shape.ts";
 * console.log(shapeOf({ default: { name: "x", apiVersion: 1, create() {} } }).createType);
 * ```
 */
export function shapeOf(mod: Record<string, unknown>): PluginShape {
  const d = mod.default as Record<string, unknown> | null | undefined;
  const obj = d !== null && typeof d === "object";
  // Primitives cross as they are; anything else as a marker that no check accepts.
  const plain = (v: unknown) =>
    v === null || ["string", "number", "boolean", "undefined"].includes(typeof v)
      ? v
      : `[${typeof v}]`;
  return {
    defaultType: d === null ? "null" : typeof d,
    defaultText: obj ? "[object]" : String(d),
    name: obj ? plain(d.name) : undefined,
    apiVersion: obj ? plain(d.apiVersion) : undefined,
    description: obj && typeof d.description === "string" ? d.description : undefined,
    createType: obj ? typeof d.create : "undefined",
  };
}
