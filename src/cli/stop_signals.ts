/**
 * How `awr live` reacts to Ctrl-C / SIGTERM: the first signal starts a graceful
 * stop; signals within `forceAfterMs` of it are ignored, because one Ctrl-C often
 * arrives twice (the terminal sends SIGINT to the whole process group and
 * `deno task` forwards it to its child again); while the stop takes long (a driver
 * busy with a height) a progress line is printed every `progressEveryMs`; a signal
 * after `forceAfterMs` forces the exit.
 * @module
 */

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /** Signals sooner than this after the first one are not a force-quit (ms). */
  forceAfterMs: number;
  /** Interval of the "still stopping" line (ms). */
  progressEveryMs: number;
  /** Clock (injected in tests). */
  now: () => number;
  /** Ends the process on a forced quit (injected in tests). */
  exit: (code: number) => void;
}

/** Defaults of {@link StopOnSignalsOptions}. */
export const defaultStopOnSignalsOptions: Readonly<StopOnSignalsOptions> = {
  forceAfterMs: 5_000,
  progressEveryMs: 2_000,
  now: () => Date.now(),
  exit: (code) => Deno.exit(code),
};

/** What is being stopped. */
export interface Stoppable {
  stop(): Promise<void>;
  /** A short description of where the stop is, for the progress line. */
  progress(): string;
}

/** Subscribes `onSignal` to the stop signals; returns the unsubscribe function. */
export type SignalSource = (onSignal: (name: string) => void) => () => void;

/** SIGINT and SIGTERM of this process (SIGINT only on Windows). */
export const processSignals: SignalSource = (onSignal) => {
  const names: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = names.map((name) => {
    const h = () => onSignal(name);
    Deno.addSignalListener(name, h);
    return [name, h] as const;
  });
  return () => handlers.forEach(([name, h]) => Deno.removeSignalListener(name, h));
};

/** A handle on {@link stopOnSignals}. */
export interface SignalStopper {
  /** Settles once the stop after a signal is over (or a forced exit was asked). */
  readonly done: Promise<void>;
  /** Removes the signal handlers without stopping anything (e.g. start-up failed). */
  cancel(): void;
}

/**
 * Stops `target` on the first signal; `done` settles once it stopped.
 * Lines go to `print`; the signal handlers stay installed until the stop is over,
 * so a repeated signal never falls through to the default "kill now".
 *
 * @example
 * ```ts ignore
 * import { processSignals, stopOnSignals } from "./stop_signals.ts";
 * const s = stopOnSignals({ stop: () => live.stop(), progress: () => "" }, console.log, processSignals);
 * await s.done;
 * ```
 */
export function stopOnSignals(
  target: Stoppable,
  print: (line: string) => void,
  signals: SignalSource,
  options: Partial<StopOnSignalsOptions> = {},
): SignalStopper {
  const opts: StopOnSignalsOptions = { ...defaultStopOnSignalsOptions, ...options };
  const done = Promise.withResolvers<void>();
  let startedAt: number | null = null;
  let progress: ReturnType<typeof setInterval> | undefined;
  let unsubscribe = () => {};
  const finish = () => {
    clearInterval(progress);
    unsubscribe();
    done.resolve();
  };
  unsubscribe = signals((name) => {
    if (startedAt === null) {
      startedAt = opts.now();
      print(`awr live: ${name}: stopping (persisting state)…`);
      progress = setInterval(() => {
        const secs = Math.round((opts.now() - startedAt!) / 1000);
        print(
          `awr live: still stopping after ${secs} s (${target.progress()}); ` +
            `press Ctrl-C again to force`,
        );
      }, opts.progressEveryMs);
      target.stop().then(
        () => print("awr live: stopped"),
        (err) => print(`awr live: stop failed: ${err instanceof Error ? err.message : err}`),
      ).finally(finish);
      return;
    }
    const waited = opts.now() - startedAt;
    if (waited < opts.forceAfterMs) {
      print(
        `awr live: ${name} again: already stopping, not forcing (${waited} ms after the first)`,
      );
      return;
    }
    print(
      `awr live: ${name}: forced exit before the stop finished; ` +
        `the next start re-executes what was not persisted`,
    );
    finish();
    opts.exit(130);
  });
  return {
    done: done.promise,
    cancel: () => {
      clearInterval(progress);
      unsubscribe();
    },
  };
}
