/**
 * Local stand-in for `@std/assert` (JSR is unreachable from the build machines).
 * Same names and call shapes as the std functions this project uses, backed by
 * Deno's built-in `node:util` deep equality. With JSR access, point `@std/assert`
 * in deno.json at `jsr:@std/assert`; no other file changes.
 * @module
 */
import { inspect, isDeepStrictEqual } from "node:util";

/** Error thrown when an assertion fails. */
export class AssertionError extends Error {
  /** @param message what failed */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  return inspect(value, { depth: 6, colors: false, maxArrayLength: 50 });
}

function fail(msg: string | undefined, detail: string): never {
  throw new AssertionError(msg ? `${msg}: ${detail}` : detail);
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) fail(msg, "expected a truthy value");
}

/** Asserts deep (structural) equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(msg, `values are not equal\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`);
  }
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (isDeepStrictEqual(actual, expected)) fail(msg, `expected values to differ: ${show(actual)}`);
}

/** Asserts `actual === expected`. */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (actual !== expected) {
    fail(msg, `values are not identical: ${show(actual)} !== ${show(expected)}`);
  }
}

/** Asserts that `actual` is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) fail(msg, `expected a value, got ${actual}`);
}

/** Asserts `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual > expected)) fail(msg, `expected ${show(actual)} > ${show(expected)}`);
}

/** Asserts `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual >= expected)) fail(msg, `expected ${show(actual)} >= ${show(expected)}`);
}

/** Asserts `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual < expected)) fail(msg, `expected ${show(actual)} < ${show(expected)}`);
}

/** Asserts `actual <= expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual <= expected)) fail(msg, `expected ${show(actual)} <= ${show(expected)}`);
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    fail(msg, `expected ${show(actual)} to include ${show(expected)}`);
  }
}

/** Asserts that `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) fail(msg, `expected ${show(actual)} to match ${expected}`);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

function checkError<E extends Error>(
  err: unknown,
  ErrorClass?: ErrorClass<E>,
  includes?: string,
  msg?: string,
): E {
  if (ErrorClass && !(err instanceof ErrorClass)) {
    fail(msg, `expected error of class ${ErrorClass.name}, got ${show(err)}`);
  }
  if (includes !== undefined) {
    const text = err instanceof Error ? err.message : String(err);
    if (!text.includes(includes)) {
      fail(msg, `expected error message to include ${show(includes)}, got ${show(text)}`);
    }
  }
  return err as E;
}

/** Asserts that `fn` throws; returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): E {
  try {
    fn();
  } catch (err) {
    return checkError(err, ErrorClass, msgIncludes, msg);
  }
  fail(msg, "expected function to throw");
}

/** Asserts that `fn` rejects; resolves to the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, ErrorClass, msgIncludes, msg);
  }
  fail(msg, "expected promise to reject");
}
