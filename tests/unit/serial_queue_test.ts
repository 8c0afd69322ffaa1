// The one bounded serial queue: order, error isolation, and the bound. No timers:
// jobs are held open with promises the test resolves by hand.
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { SerialQueue } from "../../src/std/serial_queue.ts";
import { AwrError } from "../../src/errors.ts";

/** A promise the test settles by hand. */
function gate<T = void>() {
  let open!: (v: T) => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

Deno.test("serial queue: jobs run one at a time in call order", async () => {
  const q = new SerialQueue({ maxWaiting: 8 });
  const log: string[] = [];
  const g1 = gate();
  const a = q.run(async () => {
    log.push("a start");
    await g1.promise;
    log.push("a end");
    return "a";
  });
  const b = q.run(() => {
    log.push("b");
    return "b";
  });
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(log, ["a start"]);
  assertEquals(q.running, true);
  assertEquals(q.waiting, 1);
  g1.open();
  assertEquals([await a, await b], ["a", "b"]);
  assertEquals(log, ["a start", "a end", "b"]);
  await q.idle();
  assertEquals([q.running, q.waiting], [false, 0]);
});

Deno.test("serial queue: a failing job rejects its own caller only; later jobs still run", async () => {
  const q = new SerialQueue();
  const bad = q.run(() => {
    throw new Error("first job fails");
  });
  const rejectedAsync = q.run(() => Promise.reject(new Error("second fails")));
  const good = q.run(() => 7);
  const e1 = await assertRejects(() => bad, Error);
  const e2 = await assertRejects(() => rejectedAsync, Error);
  assertEquals([e1.message, e2.message], ["first job fails", "second fails"]);
  assertEquals(await good, 7);
  await q.idle(); // idle never rejects, even after failures
});

Deno.test("serial queue: at maxWaiting the next job is refused with SERIAL_QUEUE_FULL and never runs", async () => {
  const q = new SerialQueue({ maxWaiting: 2, name: "test queue" });
  const hold = gate();
  const ran: number[] = [];
  const first = q.run(async () => {
    ran.push(1);
    await hold.promise;
  });
  const second = q.run(() => void ran.push(2));
  const third = q.run(() => void ran.push(3));
  // One running (or about to) and two waiting: exactly the bound.
  await Promise.resolve();
  assertEquals([q.waiting, q.running], [2, true]);
  let fourthRan = false;
  const err = await assertRejects(
    () =>
      q.run(() => {
        fourthRan = true;
      }),
    AwrError,
  );
  assertEquals(err.code, "SERIAL_QUEUE_FULL");
  assertEquals(err.context, { queue: "test queue", pending: 3, maxWaiting: 2 });
  assertEquals(err.message.includes("test queue"), true);
  hold.open();
  await Promise.all([first, second, third]);
  assertEquals(ran, [1, 2, 3]);
  assertEquals(fourthRan, false);
  // Space again once the queue drained.
  assertEquals(await q.run(() => "again"), "again");
});

Deno.test("serial queue: maxWaiting 0 runs one job at a time and refuses a second caller", async () => {
  const q = new SerialQueue({ maxWaiting: 0 });
  const one = q.run(() => 1);
  const err = await assertRejects(() => q.run(() => 2), AwrError);
  assertEquals(err.code, "SERIAL_QUEUE_FULL");
  assertEquals(await one, 1);
  await q.idle();
  assertEquals(await q.run(() => 3), 3);
});

Deno.test("serial queue: a bad maxWaiting is refused with SERIAL_QUEUE_OPTIONS naming the field", () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    const err = assertThrows(() => new SerialQueue({ maxWaiting: bad }), AwrError);
    assertEquals(err.code, "SERIAL_QUEUE_OPTIONS");
    assertEquals(err.message.includes("maxWaiting"), true);
  }
});
