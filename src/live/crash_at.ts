/**
 * TEST ONLY: the hidden `--crash-at <point>:<n>` of `awr live` (for tests/full's
 * restart-safety tests). The process SIGKILLs itself the n-th time it reaches the
 * point: `before-signer-persist` (a vote is signed in memory, its signer state not yet
 * written) or `after-signer-persist` (the state is durable, nothing sent or stored yet).
 * @module
 */
import type { CrashPoint } from "../node/local_consensus.ts";
import { AwrError } from "../errors.ts";

/** A parsed `--crash-at`. */
export interface CrashAt {
  readonly point: CrashPoint;
  /** 1 = the first time the point is reached. */
  readonly count: number;
}

const POINTS: readonly CrashPoint[] = ["before-signer-persist", "after-signer-persist"];

/** Parses `<point>:<n>` (n ≥ 1; `:1` may be left out). Throws `INVALID_OPTION` naming the flag. */
export function parseCrashAt(spec: string): CrashAt {
  const [point, n = "1"] = spec.split(":");
  const count = Number(n);
  if (!POINTS.includes(point as CrashPoint) || !/^\d{1,9}$/.test(n) || count < 1) {
    throw new AwrError(
      "INVALID_OPTION",
      `--crash-at must be <${POINTS.join("|")}>[:<n ≥ 1>], got "${spec}"`,
      { option: "--crash-at" },
    );
  }
  return { point: point as CrashPoint, count };
}

/** The node's crash hook for `spec`: calls `kill` the `count`-th time `point` is reached. */
export function crashAtHook(
  spec: CrashAt,
  kill: () => void = () => Deno.kill(Deno.pid, "SIGKILL"),
): (point: CrashPoint) => void {
  let seen = 0;
  return (point) => {
    if (point === spec.point && ++seen === spec.count) kill();
  };
}
