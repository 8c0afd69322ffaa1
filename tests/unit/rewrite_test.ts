import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { AwrError } from "../../src/errors.ts";
import {
  MAX_WAITING_REWRITES,
  rewriteFileAtomic,
  rewriteSideNames,
} from "../../src/storage/rewrite.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (p: string) => Deno.readTextFileSync(p);
const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
const linux = Deno.build.os === "linux";
const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-rewrite-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rewriteFileAtomic: the target and its spare swap two inodes, none made or freed", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "state.cbor");
    const { spare, prev } = rewriteSideNames(path);
    await rewriteFileAtomic(path, bytes("one"));
    assertEquals(text(path), "one");
    await rewriteFileAtomic(path, bytes("two"));
    const inodes = new Set([Deno.statSync(path).ino, Deno.statSync(spare).ino]);
    assertEquals(inodes.size, 2);
    for (let i = 3; i <= 12; i++) {
      const before = Deno.statSync(path).ino;
      await rewriteFileAtomic(path, bytes(`write ${i}`));
      assertEquals(text(path), `write ${i}`);
      // The old target is the new spare, and the two inodes are the same two as before.
      assertEquals(Deno.statSync(spare).ino, before);
      if (linux) {
        assertEquals(new Set([Deno.statSync(path).ino, Deno.statSync(spare).ino]), inodes);
      }
      assertEquals(Deno.statSync(path).nlink, 1);
      assert(!exists(prev));
    }
    assertEquals(names(dir), [
      ".state.cbor.spare",
      "state.cbor",
    ]);
  });
});

Deno.test("rewriteFileAtomic: a longer old spare is truncated, not left as a tail", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ledger.cbor");
    await rewriteFileAtomic(path, bytes("a much longer first version of the file"));
    await rewriteFileAtomic(path, bytes("second"));
    await rewriteFileAtomic(path, bytes("x"));
    assertEquals(text(path), "x");
    assertEquals(Deno.statSync(path).size, 1);
  });
});

Deno.test("rewriteFileAtomic: every crash point between the steps leaves a whole target, and the next write recovers", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "node_pos_state.cbor");
    const { spare, prev } = rewriteSideNames(path);
    await rewriteFileAtomic(path, bytes("old"));
    await rewriteFileAtomic(path, bytes("older spare"));
    await rewriteFileAtomic(path, bytes("old"));

    // Crash after step 1 (spare written, nothing renamed): the target is the old bytes.
    Deno.writeTextFileSync(spare, "half-writ");
    assertEquals(text(path), "old");
    await rewriteFileAtomic(path, bytes("new 1"));
    assertEquals(text(path), "new 1");
    assert(!exists(prev));

    // Crash after step 2 (`.prev` is a second name of the target).
    Deno.linkSync(path, prev);
    Deno.writeTextFileSync(spare, "complete but never renamed");
    assertEquals(text(path), "new 1");
    await rewriteFileAtomic(path, bytes("new 2"));
    assertEquals(text(path), "new 2");
    assert(!exists(prev));
    assert(exists(spare));

    // Crash after step 3 (the target is new, the old inode only named `.prev`, no spare).
    Deno.renameSync(spare, prev);
    assertEquals(text(path), "new 2");
    await rewriteFileAtomic(path, bytes("new 3"));
    assertEquals(text(path), "new 3");
    assert(!exists(prev));
    await rewriteFileAtomic(path, bytes("new 4"));
    assertEquals(text(path), "new 4");
    assertEquals(names(dir), [
      ".node_pos_state.cbor.spare",
      "node_pos_state.cbor",
    ]);
  });
});

Deno.test("rewriteFileAtomic: overlapping writes of one path land in call order; past MAX_WAITING_REWRITES waiting, one more is refused", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "latest.json");
    const other = join(dir, "ledger.cbor");
    const writes = [];
    // One in flight and MAX_WAITING_REWRITES waiting: all taken.
    for (let i = 0; i <= MAX_WAITING_REWRITES; i++) {
      writes.push(rewriteFileAtomic(path, bytes(`v${i}`)));
    }
    const refused = await rewriteFileAtomic(path, bytes("one too many")).then(
      () => null,
      (e) => e,
    );
    assert(refused instanceof AwrError);
    assertEquals(refused.code, "REWRITE_BACKLOG");
    assertEquals(refused.context, { path, waiting: MAX_WAITING_REWRITES });
    // The bound is per path: another file is written meanwhile.
    await rewriteFileAtomic(other, bytes("elsewhere"));
    await Promise.all(writes);
    assertEquals(text(path), `v${MAX_WAITING_REWRITES}`);
    assertEquals(text(other), "elsewhere");
    assert(!exists(rewriteSideNames(path).prev));
    // Drained: the next write is taken.
    await rewriteFileAtomic(path, bytes("after"));
    assertEquals(text(path), "after");
  });
});

Deno.test("rewriteFileAtomic: makes missing folders, and a failed write is the caller's error", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "reward", "deep", "ledger.cbor");
    await rewriteFileAtomic(path, bytes("made"), { durable: false });
    assertEquals(text(path), "made");
    // The target's folder is a file: the write rejects, and the next one still runs.
    const blocked = join(dir, "file");
    Deno.writeTextFileSync(blocked, "");
    let failed = false;
    await rewriteFileAtomic(join(blocked, "x.cbor"), bytes("no")).catch(() => failed = true);
    assert(failed);
    await rewriteFileAtomic(path, bytes("after"));
    assertEquals(text(path), "after");
  });
});
