/**
 * The API token that guards state-changing HTTP calls: 32 random bytes, hex,
 * created once per data dir in `<data>/api_token` with mode 0600.
 *
 * An existing file is used as it is or refused, never replaced: a token file that
 * group or others may read, or that does not hold a token, stops start-up with an
 * error naming the file and the fix. Only a short prefix of the token is ever shown
 * ({@link tokenHint}); clients read the file.
 * @module
 */
import { AwrError, errorMessage } from "../errors.ts";
import { createSecretFile } from "../storage/atomic.ts";
import { toHex } from "../storage/hash.ts";
import { apiTokenPath as tokenPath } from "../storage/data_dir.ts";

/** Largest token file read (a token is 64 hex digits and a newline). */
const MAX_TOKEN_FILE_BYTES = 4096;

/** Path of the token file (`apiTokenPath` of the data-dir layout). */
export { tokenPath };

/**
 * A short, non-secret hint of the token for operator output (`ab12cd34…`).
 *
 * @example
 * ```ts
 * import { tokenHint } from "./token.ts";
 * tokenHint("ab12cd34" + "0".repeat(56)); // "ab12cd34…"
 * ```
 */
export function tokenHint(token: string): string {
  return `${token.slice(0, 8)}…`;
}

async function createToken(path: string): Promise<string> {
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  // 0600 from the first byte, and never over a token another process just made.
  await createSecretFile(path, new TextEncoder().encode(token + "\n"));
  return token;
}

/**
 * Reads the data dir's token, creating it on first use. Throws an {@link AwrError}
 * `TOKEN_MODE` when group or others may read the file, `TOKEN_MALFORMED` when it
 * does not hold exactly one 64-hex-digit token, `TOKEN_READ` when it cannot be read.
 *
 * @example
 * ```ts
 * import { loadOrCreateToken } from "./token.ts";
 * await Deno.mkdir("/tmp/awr-token-example", { recursive: true });
 * const token = await loadOrCreateToken("/tmp/awr-token-example");
 * ```
 */
export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = tokenPath(dataDir);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw readError(path, err);
    try {
      return await createToken(path);
    } catch (createErr) {
      // Another process created it between our stat and link: read theirs.
      if (!(createErr instanceof Deno.errors.AlreadyExists)) throw readError(path, createErr);
      info = await Deno.stat(path);
    }
  }
  if (!info.isFile) {
    throw new AwrError("TOKEN_MALFORMED", `${path} is not a regular file; remove it`, { path });
  }
  if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new AwrError(
      "TOKEN_MODE",
      `${path} has mode ${mode}: group or others can read the API token. ` +
        `Run "chmod 600 ${path}" (or delete the file to get a new token), then start again`,
      { path, mode },
    );
  }
  if (info.size > MAX_TOKEN_FILE_BYTES) throw malformed(path);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw readError(path, err);
  }
  const token = text.trim();
  if (!/^[0-9a-f]{64}$/.test(token)) throw malformed(path);
  return token;
}

function malformed(path: string): AwrError {
  return new AwrError(
    "TOKEN_MALFORMED",
    `${path} does not hold an API token (64 lowercase hex digits). ` +
      `Fix it, or delete it to get a new token at the next start`,
    { path },
  );
}

function readError(path: string, err: unknown): AwrError {
  return new AwrError(
    "TOKEN_READ",
    `cannot read or create the API token file ${path}: ${errorMessage(err)}`,
    { path },
  );
}
