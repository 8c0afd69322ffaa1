import { assert, assertEquals } from "@std/assert";
import { MAX_EARLY_STEPS_PER_TICK, TickLoop } from "../../src/node/tick_loop.ts";

/** Lets pending immediates and the steps they start run (no timing is asserted). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
}

const HOUR = 3_600_000;

/** A loop whose only tick is the one at start (interval one hour), and a log of steps. */
function hourLoop(max?: number) {
  const log: string[] = [];
  let firstTick!: () => void;
  const ticked = new Promise<void>((r) => (firstTick = r));
  const errors: unknown[] = [];
  const loop = new TickLoop({
    intervalMs: HOUR,
    step: () => {
      log.push("tick");
      firstTick();
      return Promise.resolve();
    },
    earlyStep: () => {
      log.push("early");
      return Promise.resolve();
    },
    maxEarlyStepsPerTick: max,
    onTick: () => {},
    onError: (e) => errors.push(e),
  });
  return { loop, log, ticked, errors };
}

Deno.test("wakes before the step runs are coalesced into one early step", async () => {
  const { loop, log, ticked } = hourLoop();
  loop.start();
  await ticked;
  await settle();
  for (let i = 0; i < 10; i++) loop.wake();
  await settle();
  await loop.stop();
  assertEquals(log, ["tick", "early"]);
  assertEquals(loop.earlySteps, 1);
});

Deno.test("at most maxEarlyStepsPerTick early steps run between two ticks (at the bound, then none)", async () => {
  const { loop, log, ticked } = hourLoop(3);
  loop.start();
  await ticked;
  for (let i = 0; i < 10; i++) {
    loop.wake();
    await settle();
  }
  await loop.stop();
  assertEquals(log, ["tick", "early", "early", "early"]);
  assertEquals(loop.earlySteps, 3);
  // The default bound is documented in README.md.
  assertEquals(MAX_EARLY_STEPS_PER_TICK, 16);
});

Deno.test("maxEarlyStepsPerTick 0 and a loop without earlyStep ignore wakes; a stopped loop too", async () => {
  const zero = hourLoop(0);
  zero.loop.start();
  await zero.ticked;
  zero.loop.wake();
  await settle();
  await zero.loop.stop();
  assertEquals(zero.log, ["tick"]);

  const log: string[] = [];
  const plain = new TickLoop({
    intervalMs: HOUR,
    step: () => Promise.resolve(void log.push("tick")),
    onTick: () => {},
    onError: () => {},
  });
  plain.start();
  await settle();
  plain.wake();
  await settle();
  await plain.stop();
  plain.wake();
  await settle();
  assertEquals(log, ["tick"]);
  assertEquals(plain.earlySteps, 0);
});

Deno.test("an early step never runs beside a tick or another early step", async () => {
  let active = 0;
  let most = 0;
  const log: string[] = [];
  const work = async (name: string) => {
    active++;
    most = Math.max(most, active);
    log.push(`${name} start`);
    // Each step yields several times; wakes arrive while it is in flight.
    for (let i = 0; i < 3; i++) {
      loop.wake();
      await new Promise((r) => setTimeout(r, 0));
    }
    log.push(`${name} end`);
    active--;
  };
  const loop: TickLoop = new TickLoop({
    intervalMs: 100,
    step: () => work("tick"),
    earlyStep: () => work("early"),
    maxEarlyStepsPerTick: 2,
    onTick: () => {},
    onError: (e) => {
      throw e;
    },
  });
  loop.start();
  while (log.filter((l) => l === "tick end").length < 3) await settle();
  await loop.stop();
  assertEquals(most, 1, log.join(","));
  // Between two ticks, at most the bound of early steps (flooded with wakes).
  const gaps = log.filter((l) => l.endsWith("start")).join(",").split("tick start").slice(1);
  for (const gap of gaps) {
    assert((gap.match(/early/g) ?? []).length <= 2, log.join(","));
  }
  assert(loop.earlySteps >= 1, log.join(","));
});

Deno.test("an early step that throws stops the loop and reports the error", async () => {
  const errors: unknown[] = [];
  let firstTick!: () => void;
  const ticked = new Promise<void>((r) => (firstTick = r));
  const loop = new TickLoop({
    intervalMs: HOUR,
    step: () => Promise.resolve(firstTick()),
    earlyStep: () => Promise.reject(new Error("disk full")),
    onTick: () => {},
    onError: (e) => errors.push(e),
  });
  loop.start();
  await ticked;
  loop.wake();
  await settle();
  assertEquals(loop.running, false);
  assertEquals((errors[0] as Error).message, "disk full");
  loop.wake(); // ignored: stopped
  await settle();
  assertEquals(errors.length, 1);
  await loop.stop();
});

Deno.test("tickSoon brings only the next scheduled tick forward; a second call waits for the schedule", async () => {
  const log: string[] = [];
  let firstTick!: () => void;
  const ticked = new Promise<void>((r) => (firstTick = r));
  const loop: TickLoop = new TickLoop({
    intervalMs: HOUR,
    step: () => Promise.resolve(void (log.push("tick"), firstTick())),
    // Each early step "commits" and asks for the next tick at once.
    earlyStep: () => Promise.resolve(void (log.push("early"), loop.tickSoon())),
    onTick: () => {},
    onError: () => {},
  });
  loop.start();
  await ticked;
  await settle();
  for (let i = 0; i < 3; i++) {
    loop.wake();
    await settle();
  }
  await loop.stop();
  // start tick, early → brought-forward tick, early (tickSoon ignored: the schedule is
  // an interval ahead), early.
  assertEquals(log, ["tick", "early", "tick", "early", "early"]);
});
