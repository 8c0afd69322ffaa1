/**
 * The API token that guards state-changing HTTP calls: 32 random bytes, hex,
 * created once per data dir in `<data>/api_token` (mode 0600) and printed at start.
 * @module
 */
import { join } from "../std/path.ts";
import { writeFileAtomic } from "../storage/atomic.ts";
import { toHex } from "../storage/hash.ts";

/** Path of the token file. */
export function tokenPath(dataDir: string): string {
  return join(dataDir, "api_token");
}

/**
 * Reads the data dir's token, creating it on first use.
 *
 * @example
 * ```ts
 * import { loadOrCreateToken } from "./token.ts";
 * const token = await loadOrCreateToken("./data");
 * ```
 */
export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = tokenPath(dataDir);
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (/^[0-9a-f]{64}$/.test(existing)) return existing;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  await writeFileAtomic(path, new TextEncoder().encode(token + "\n"));
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return token;
}
