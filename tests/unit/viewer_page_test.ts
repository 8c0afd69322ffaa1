/**
 * The viewer page as served: its CSP allows exactly its one inline script and one
 * inline style (hashes recomputed here with WebCrypto, not the page's own code),
 * nothing in it would be blocked by that CSP, the script compiles, and the API
 * token typed into the form is never written to storage.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { VIEWER_ELEMENT_IDS, viewerPageCsp, viewerPageHtml } from "../../src/live/viewer_page.ts";

function between(html: string, open: string, close: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const a = html.indexOf(open, at);
    if (a < 0) return out;
    const b = html.indexOf(close, a);
    out.push(html.slice(a + open.length, b));
    at = b + close.length;
  }
}

async function sha256Source(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

Deno.test("viewer page: the CSP names exactly the page's inline script and style by hash", async () => {
  const html = viewerPageHtml();
  const csp = Object.fromEntries(
    viewerPageCsp().split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]),
  );
  const scripts = between(html, "<script>", "</script>");
  const styles = between(html, "<style>", "</style>");
  assertEquals(scripts.length, 1);
  assertEquals(styles.length, 1);
  assertEquals(csp["script-src"], await sha256Source(scripts[0]));
  assertEquals(csp["style-src"], await sha256Source(styles[0]));
  assertEquals(csp["default-src"], "'none'");
  assertEquals(csp["connect-src"], "'self'");
});

Deno.test("viewer page: nothing the CSP would block, no external resource, ids unique", () => {
  const html = viewerPageHtml();
  assert(!/\son[a-z]+=/i.test(html), "no inline event handler attributes");
  assert(!/\sstyle=/i.test(html), "no style attributes");
  assert(!/(src|href)="(https?:)?\/\//.test(html), "no external resources");
  for (const id of VIEWER_ELEMENT_IDS) {
    assertEquals(html.split(`id="${id}"`).length, 2, `exactly one element with id ${id}`);
  }
});

Deno.test("viewer page: the script compiles and keeps the token out of storage", () => {
  const [script] = between(viewerPageHtml(), "<script>", "</script>");
  // Compiles without running (a syntax error throws here).
  new Function(script);
  assertMatch(script, /fetch\(path/);
  for (const store of ["localStorage", "sessionStorage", "document.cookie", "indexedDB"]) {
    assert(!script.includes(store), `the script does not use ${store}`);
  }
  assertMatch(script, /"NOT_PROVIDED_BY_DRIVER"/);
});
