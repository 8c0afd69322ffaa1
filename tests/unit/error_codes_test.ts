// The error registry (src/error_codes.ts) against the sources: every code src/ raises
// is registered, every registered code is raised somewhere, the types refuse unknown
// codes and wrong fields, and a wrapped error's cause reaches logs and JSON answers.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  AwrError,
  ERROR_CODES,
  ERROR_REGISTRY,
  errorChain,
  errorJson,
  hasCode,
  isErrorCode,
  MAX_CAUSE_DEPTH,
} from "../../src/errors.ts";
import { HandshakeError } from "../../src/node/handshake.ts";
import { ExecutionError } from "../../src/execution/execution_error.ts";
import { startHttpServer } from "../../src/live/http.ts";
import type { SubmitResult } from "../../src/node/mempool.ts";
import type { WorldAction } from "../../src/world/actions.ts";
import { runCli } from "../../src/cli/main.ts";
import { NODE_STATE_FILE } from "../../src/node/state_file.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";

const SRC = new URL("../../src/", import.meta.url).pathname;
// The registry (two files) names every code; it is not a use of one.
const REGISTRY_FILES = [join(SRC, "error_codes.ts"), join(SRC, "error_codes_lower.ts")];

function sources(dir = SRC): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...sources(path));
    else if (e.name.endsWith(".ts") && !REGISTRY_FILES.includes(path)) {
      // Code only: doc comments show OS errors ({ code: "ENOSPC" }) that are not ours.
      const text = Deno.readTextFileSync(path).split("\n")
        .filter((l) => !/^\s*(\*|\/\/)/.test(l)).join("\n");
      out.push({ path, text });
    }
  }
  return out;
}

// Places a code is written in src/: the first argument of an error constructor (after
// an HTTP status), a consensus rejection, a refused action/plugin/chunk helper, a
// `code:` field, a canned HTTP answer, a CLI snapshot refusal.
const CODE_SITES = [
  /new\s+\w*Error\s*(?:<[^>]*>)?\(\s*(?:\d{3},\s*)?"([A-Z][A-Z0-9_]*)"/g,
  /\b(?:rejection|fail|problem\(c,|bad\([^,]*,|super)\(?\s*"([A-Z][A-Z0-9_]*)"/g,
  /\bcode:\s*"([A-Z][A-Z0-9_]*)"/g,
  /cannedJsonResponse\(\s*\d{3},\s*"([A-Z][A-Z0-9_]*)"/g,
];

Deno.test("error registry: every code written at an error site in src/ is registered", () => {
  const unknown: string[] = [];
  let sites = 0;
  for (const { path, text } of sources()) {
    for (const re of CODE_SITES) {
      for (const m of text.matchAll(re)) {
        sites++;
        if (!isErrorCode(m[1])) unknown.push(`${path.slice(SRC.length)}: ${m[1]}`);
      }
    }
  }
  assertEquals(unknown, []);
  // The scan found the sites (a broken pattern would find none and pass).
  assert(sites > 200, `only ${sites} code sites found`);
});

Deno.test("error registry: no registered code is unused in src/", () => {
  const all = sources().map((s) => s.text).join("\n");
  const unused = ERROR_CODES.filter((c) => !all.includes(`"${c}"`));
  assertEquals(unused, []);
});

Deno.test("error registry: codes are unique UPPER_SNAKE names, each with a meaning", () => {
  assertEquals(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) {
    assert(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(code), code);
    assert(ERROR_REGISTRY[code].doc.length > 5, `${code} has no meaning`);
  }
  assert(isErrorCode("BLOCK_MISSING"));
  assert(!isErrorCode("NO_SUCH_CODE"));
  assert(!isErrorCode("toString"));
});

Deno.test("AwrError: the code types the context; unknown codes and wrong fields do not compile", () => {
  const e = new AwrError("BLOCK_MISSING", "no block 3", { height: 3 });
  const n: number = e.context.height;
  assertEquals(n, 3);
  // Subclasses take their types from the code too.
  const h = new HandshakeError("IDENTITY_MISMATCH", "other world", {
    file: "node/state.cbor",
    field: "world_id",
    found: "w1",
    configured: "w2",
  });
  assertEquals([h.name, h.code, h.context.field], [
    "HandshakeError",
    "IDENTITY_MISMATCH",
    "world_id",
  ]);
  // Codes without required fields may omit the context.
  assertEquals(new AwrError("CORE_CLOSED", "closed").context, {});
  const refused = () => {
    // @ts-expect-error: not a registered code
    new AwrError("NO_SUCH_CODE", "x", {});
    // @ts-expect-error: BLOCK_MISSING needs `height`
    new AwrError("BLOCK_MISSING", "x", {});
    // @ts-expect-error: `height` is a number
    new ExecutionError("BLOCK_MISSING", "x", { height: "3" });
    // @ts-expect-error: CORE_CLOSED has no fields
    new ExecutionError("CORE_CLOSED", "x", { height: 3 });
  };
  assert(typeof refused === "function");
  // hasCode narrows an unknown value to the code's fields.
  const thrown: unknown = new ExecutionError("RECORD_MISSING", "gone", { height: 9, file: "f" });
  assert(hasCode(thrown, "RECORD_MISSING"));
  const height: number = thrown.context.height;
  assertEquals(height, 9);
  assert(!hasCode(thrown, "BLOCK_MISSING"));
});

function wrapped(): AwrError {
  const os = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
  const write = new AwrError("WRITE_FAILED", "writing block 5", {
    what: "block 5",
    osCode: "ENOSPC",
  }, { cause: os });
  return new AwrError("MEMPOOL_IO", "cannot accept actions", { path: "/d/mempool.log" }, {
    cause: write,
  });
}

Deno.test("cause: kept on the error, rendered as JSON and in one-line logs", () => {
  const e = wrapped();
  assert(e.cause instanceof AwrError);
  assertEquals(errorJson(e), {
    message: "cannot accept actions",
    code: "MEMPOOL_IO",
    context: { path: "/d/mempool.log" },
    cause: {
      message: "writing block 5",
      code: "WRITE_FAILED",
      context: { what: "block 5", osCode: "ENOSPC" },
      cause: { message: "No space left on device (os error 28)", code: "ENOSPC" },
    },
  });
  assertEquals(
    errorChain(e),
    "cannot accept actions; caused by: [WRITE_FAILED] writing block 5; caused by: [ENOSPC] " +
      "No space left on device (os error 28)",
  );
  // A wrapper that already quoted its cause's message adds nothing.
  const quoted = new AwrError("FILE_READ", "cannot read a: input/output error", { path: "a" }, {
    cause: Object.assign(new Error("input/output error"), { code: "EIO" }),
  });
  assertEquals(errorChain(quoted), "cannot read a: input/output error");
});

Deno.test("cause: a cycle or a deep chain stops at MAX_CAUSE_DEPTH links", () => {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  let depth = 0;
  for (let j: ReturnType<typeof errorJson> | undefined = errorJson(b); j; j = j.cause) depth++;
  assertEquals(depth, MAX_CAUSE_DEPTH + 1);
  assertEquals(errorChain(b).split("caused by").length - 1, 1); // "a", then "b" is already there
});

class CausingApi extends FakeLiveApi {
  override submitActions(_a: WorldAction[], _k: string | null): Promise<SubmitResult> {
    return Promise.reject(wrapped());
  }
}

Deno.test("cause: an HTTP error answer carries the cause chain as JSON", async () => {
  const api = new CausingApi();
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
  try {
    const res = await fetch(`${server.url}v1/actions`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.token}` },
      body: JSON.stringify({ kind: "rest", agent: "ada" }),
    });
    const body = await res.json();
    assertEquals(res.status, 503);
    assertEquals(body.code, "MEMPOOL_IO");
    assertEquals(body.cause.code, "WRITE_FAILED");
    assertEquals(body.cause.cause.code, "ENOSPC");
  } finally {
    await server.shutdown();
    api.close();
  }
});

Deno.test("cause: a CLI failure prints the cause, and --json carries it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "awr-error-codes-" });
  try {
    await Deno.mkdir(join(dir, "node", "n1"), { recursive: true });
    // A directory where the state file should be: the read fails with an OS error.
    await Deno.mkdir(join(dir, "node", "n1", NODE_STATE_FILE));
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      isTerminal: false,
    };
    const code = await runCli(["status", "--data-dir", dir, "--json"], io);
    assertEquals(code, 1);
    const json = JSON.parse(out.join("\n"));
    assertEquals(json.ok, false);
    assertEquals(json.code, "FILE_NOT_REGULAR");
    assertEquals(json.cause.code, "FILE_NOT_REGULAR");
    assertStringIncludes(err.join("\n"), `awr: ${json.error}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
