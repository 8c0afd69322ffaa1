/**
 * Worker side of {@link probePlugin}: imports the plugin URL it is sent and answers
 * with the shape of its default export. It runs with read access to the plugin's
 * folder only; whatever the plugin's top-level code tries beyond that is denied.
 * @module
 */
import { type ProbeResult, shapeOf } from "./plugin_shape.ts";

interface ProbeScope {
  onmessage: ((e: MessageEvent<string>) => void) | null;
  postMessage(message: ProbeResult): void;
  addEventListener(type: "error", fn: (e: ErrorEvent) => void): void;
  addEventListener(type: "unhandledrejection", fn: (e: PromiseRejectionEvent) => void): void;
}

const scope = globalThis as unknown as ProbeScope;

// Errors of the plugin's own timers or promises do not matter here: only the
// import's outcome is reported, and the Worker is terminated right after.
scope.addEventListener("error", (e) => e.preventDefault());
scope.addEventListener("unhandledrejection", (e) => e.preventDefault());

scope.onmessage = (e: MessageEvent<string>): void => {
  import(e.data).then(
    (mod: Record<string, unknown>) => scope.postMessage({ ok: true, shape: shapeOf(mod) }),
    (err) =>
      scope.postMessage({
        ok: false,
        message: (err instanceof Error ? err.message : String(err)).split("\n")[0],
      }),
  );
};
