import { assertEquals, assertThrows } from "@std/assert";
import { JOURNAL_LIMIT } from "../../src/live/driver_api.ts";
import { HttpError } from "../../src/live/http_input.ts";
import { MAX_AGENT_ID_CHARS, parseAgentId, parseJournalQuery } from "../../src/live/http_views.ts";

const q = (query: string) => parseJournalQuery(new URL(`http://h/v1/journal${query}`));

Deno.test("journal query: documented defaults, limit accepted at its bound and refused past it", () => {
  assertEquals(q(""), { from: 0, limit: JOURNAL_LIMIT.default });
  assertEquals(JOURNAL_LIMIT, { default: 100, max: 1_000 });
  assertEquals(q("?from=7&limit=1000"), { from: 7, limit: 1_000 });
  assertEquals(q("?limit=1"), { from: 0, limit: 1 });
  for (
    const bad of ["?limit=1001", "?limit=0", "?limit=-1", "?from=x", "?from=1.5", "?limit=1e3"]
  ) {
    const err = assertThrows(() => q(bad), HttpError);
    assertEquals([err.status, err.code], [400, "HTTP_BAD_QUERY"], bad);
  }
});

Deno.test("agent id in the path: the world's id syntax, at most 64 characters", () => {
  assertEquals(parseAgentId("ada"), "ada");
  assertEquals(parseAgentId("a%3Ab"), "a:b");
  const longest = "a".repeat(MAX_AGENT_ID_CHARS);
  assertEquals(parseAgentId(longest), longest);
  for (const bad of [longest + "a", "", "-ada", "a%20b", "%E0%A4%A"]) {
    const err = assertThrows(() => parseAgentId(bad), HttpError);
    assertEquals([err.status, err.code], [400, "HTTP_BAD_AGENT_ID"], bad);
  }
});
