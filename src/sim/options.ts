/**
 * Options of one simulated run, with defaults (documented in README "BFT consensus").
 * @module
 */
import { AwrError } from "../errors.ts";
import type { ByzantineMode } from "./byzantine.ts";

/** A scripted partition: `isolated` cannot talk to the others during [fromMs, toMs). */
export interface ScriptedPartition {
  readonly fromMs: number;
  readonly toMs: number;
  readonly isolated: readonly string[];
}

/** Network and crash faults of the unstable phase (before stabilisation). */
export interface SimFaults {
  /** Probability a message is dropped. */
  readonly dropRate: number;
  /** Probability a message is delivered twice. */
  readonly duplicateRate: number;
  /** Latency range (ms); random latency also reorders. */
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  /** Per fault tick (every 500 ms): probability a random partition starts. */
  readonly partitionRate: number;
  /** Per fault tick: probability an honest node crashes (restarts 1-5 s later). */
  readonly crashRate: number;
  /** Per step of an honest node: probability it crashes between two of its outputs
   * (after persisting its signer state, before sending). */
  readonly midStepCrashRate: number;
}

/** One run. */
export interface SimOptions {
  readonly seed: number;
  /** Validators (4-16). */
  readonly nodes: number;
  /** Heights every honest node must commit. */
  readonly heights: number;
  /** Byzantine validators (at most f = floor((nodes - 1) / 3); lowest stakes). */
  readonly byzantine: number;
  /** Faults until the max honest height reaches `heights / 2`; none after. */
  readonly faults: SimFaults | null;
  /** Latency bound after stabilisation (ms). */
  readonly stableMaxLatencyMs: number;
  readonly partitions: readonly ScriptedPartition[];
  /** Liveness: after stabilisation each honest node commits within this (simulated ms). */
  readonly livenessBoundMs: number;
  /** Event budget of a run (beyond: a liveness violation). */
  readonly maxEvents: number;
  /** Events kept for the failure trace. */
  readonly traceLines: number;
  /** Force every Byzantine validator into one mode (null: each picks one from the seed). */
  readonly byzantineMode: ByzantineMode | null;
  /** TEST ONLY: engines ignore their lock when prevoting. */
  readonly unsafeDisableLocking: boolean;
  /** TEST ONLY: honest nodes lose their signer state (and lock) when they restart. */
  readonly forgetSignerStateOnRestart: boolean;
}

/** The default fault profile. */
export const defaultFaults: SimFaults = Object.freeze({
  dropRate: 0.05,
  duplicateRate: 0.05,
  minLatencyMs: 1,
  maxLatencyMs: 300,
  partitionRate: 0.05,
  crashRate: 0.03,
  midStepCrashRate: 0.002,
});

/** Defaults of a run (seed 1, 4 nodes, 30 heights, faults on). */
export const defaultSimOptions: SimOptions = Object.freeze({
  seed: 1,
  nodes: 4,
  heights: 30,
  byzantine: 0,
  faults: defaultFaults,
  stableMaxLatencyMs: 50,
  partitions: [],
  livenessBoundMs: 120_000,
  maxEvents: 3_000_000,
  traceLines: 60,
  byzantineMode: null,
  unsafeDisableLocking: false,
  forgetSignerStateOnRestart: false,
});

/** Largest f with f < n/3 for `nodes` validators of any stakes picked lowest-first. */
export function maxByzantine(nodes: number): number {
  return Math.floor((nodes - 1) / 3);
}

/** Fills defaults and checks ranges; a bad value throws `SIM_OPTION` naming it. */
export function resolveSimOptions(o: Partial<SimOptions>): SimOptions {
  const r = { ...defaultSimOptions, ...o };
  const bad = (name: string, why: string): never => {
    throw new AwrError("SIM_OPTION", `sim option ${name} ${why}`, { option: name });
  };
  if (!Number.isSafeInteger(r.seed) || r.seed < 0) bad("seed", "must be a non-negative integer");
  if (!Number.isSafeInteger(r.nodes) || r.nodes < 4 || r.nodes > 16) bad("nodes", "must be 4-16");
  if (!Number.isSafeInteger(r.heights) || r.heights < 1 || r.heights > 100_000) {
    bad("heights", "must be 1-100000");
  }
  if (
    !Number.isSafeInteger(r.byzantine) || r.byzantine < 0 || r.byzantine > maxByzantine(r.nodes)
  ) {
    bad("byzantine", `must be 0-${maxByzantine(r.nodes)} for ${r.nodes} nodes (< 1/3 of stake)`);
  }
  return r;
}
