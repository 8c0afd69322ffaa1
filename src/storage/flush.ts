/**
 * Flushes on the calling thread. Deno runs an awaited `sync()`/`syncData()` on its
 * blocking pool: a hand-off to a pool thread and a wake-up back, which on this project's
 * test machine cost as much process CPU as the flush itself (an fdatasync of a small
 * in-place write: 140 µs of CPU awaited, 40 µs blocking; `tests/bench/flush_bench.ts`).
 *
 * A networked node's signer saves and block files flush this way (about four flushes a
 * height on each node): 4 validators on 2 cores are bound by CPU, and two simultaneous
 * pairs of 4-validator runs used 13% and 8% less CPU per height with it. The caller
 * waits for these flushes anyway (a vote leaves only after its signer save; a commit is
 * on disk with its block file). The price: the node's loop does nothing else meanwhile,
 * so a stalled disk stalls it too, its HTTP status included, rather than only the work
 * waiting on the flush. A local node keeps awaiting them: a version that blocked there
 * too (and in the execution worker) failed `tick2_lag_test` at 2 ms ticks, though that
 * test also failed on unchanged code in the same hour (the cause was not isolated), and
 * a local node has no peers' processes competing for the cores.
 * @module
 */

/** fsync `file` (`fdatasync` when `dataOnly`) without leaving the thread. */
export function flushNow(file: Deno.FsFile, dataOnly = false): void {
  if (dataOnly) file.syncDataSync();
  else file.syncSync();
}
