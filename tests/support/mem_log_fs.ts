/**
 * An in-memory {@link LogFs} for mempool tests: counts writes and fsyncs, can hold
 * every fsync until the test releases it, and can make writes fail.
 * @module
 */
import type { LogFile, LogFs } from "../../src/node/mempool_log.ts";

/** The fake file system. */
export class MemLogFs implements LogFs {
  readonly files = new Map<string, Uint8Array>();
  /** fsyncs started so far. */
  syncs = 0;
  /** Writes so far. */
  writes = 0;
  /** When set, the next writes throw this. */
  failWrites: Error | null = null;
  #gate: PromiseWithResolvers<void> | null = null;
  #syncStarted: PromiseWithResolvers<void> = Promise.withResolvers();

  /** From now on every fsync waits for {@link MemLogFs.release}. */
  hold(): void {
    this.#gate = Promise.withResolvers();
  }

  /** Lets held fsyncs finish and stops holding. */
  release(): void {
    const g = this.#gate;
    this.#gate = null;
    g?.resolve();
  }

  /** Resolves once an fsync has started (after this call). */
  syncStarted(): Promise<void> {
    return this.#syncStarted.promise;
  }

  read(path: string): Promise<Uint8Array | null> {
    const f = this.files.get(path);
    return Promise.resolve(f ? f.slice() : null);
  }

  openAppend(path: string): Promise<LogFile> {
    if (!this.files.has(path)) this.files.set(path, new Uint8Array());
    const files = this.files;
    return Promise.resolve({
      write: (bytes: Uint8Array) => {
        this.writes++;
        if (this.failWrites) return Promise.reject(this.failWrites);
        const old = files.get(path)!;
        const next = new Uint8Array(old.length + bytes.length);
        next.set(old);
        next.set(bytes, old.length);
        files.set(path, next);
        return Promise.resolve();
      },
      sync: async () => {
        this.syncs++;
        const started = this.#syncStarted;
        this.#syncStarted = Promise.withResolvers();
        started.resolve();
        if (this.#gate) await this.#gate.promise;
      },
      truncate: (length: number) => {
        files.set(path, files.get(path)!.slice(0, length));
        return Promise.resolve();
      },
      close: () => {},
    });
  }

  replace(path: string, bytes: Uint8Array): Promise<void> {
    this.files.set(path, bytes.slice());
    return Promise.resolve();
  }

  truncate(path: string, length: number): Promise<void> {
    this.files.set(path, (this.files.get(path) ?? new Uint8Array()).slice(0, length));
    return Promise.resolve();
  }
}
