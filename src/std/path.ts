/**
 * Local stand-in for `@std/path` (JSR is unreachable from the build machines).
 * It exposes the same names and signatures as the std functions this project uses,
 * backed by Deno's built-in `node:path` and `node:url`. With JSR access, point
 * `@std/path` in deno.json at `jsr:@std/path` instead; no other file changes.
 * @module
 */
import * as nodePath from "node:path";
import * as nodeUrl from "node:url";

/** Joins path segments with the platform separator and normalises the result. */
export function join(...paths: string[]): string {
  return nodePath.join(...paths);
}

/** Returns the directory part of a path. */
export function dirname(path: string): string {
  return nodePath.dirname(path);
}

/** Returns the last segment of a path, without `suffix` when given and present. */
export function basename(path: string, suffix?: string): string {
  return nodePath.basename(path, suffix);
}

/** Returns the extension of the last segment, including the dot (`""` when none). */
export function extname(path: string): string {
  return nodePath.extname(path);
}

/** Resolves segments to an absolute, normalised path. */
export function resolve(...paths: string[]): string {
  return nodePath.resolve(...paths);
}

/** Reports whether `path` is absolute. */
export function isAbsolute(path: string): boolean {
  return nodePath.isAbsolute(path);
}

/** Returns the relative path from `from` to `to`. */
export function relative(from: string, to: string): string {
  return nodePath.relative(from, to);
}

/** Converts a `file:` URL to a path. */
export function fromFileUrl(url: string | URL): string {
  return nodeUrl.fileURLToPath(url);
}

/** Converts an absolute path to a `file:` URL. */
export function toFileUrl(path: string): URL {
  return nodeUrl.pathToFileURL(path);
}

/** The platform path separator. */
export const SEPARATOR: string = nodePath.sep;
