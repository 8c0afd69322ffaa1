/**
 * The live node's Prometheus metrics: counters and histograms fed by
 * {@link NodeEvents}, gauges read from a callback at scrape time, rendered in the
 * text exposition format 0.0.4 (`GET /metrics`).
 * @module
 */
import { COMMIT_LATENCY_WINDOW, CommitLatency } from "./commit_latency.ts";
import type { NodeEvents } from "../node/events.ts";

/** Gauges read at scrape time (heights are taken from events when no source is set). */
export interface LiveGauges {
  /** Highest committed consensus height. */
  committedHeight: number;
  /** Highest executed height. */
  executionHeight: number;
  /** Actions waiting for the next proposal. */
  mempoolSize: number;
  /** Whether the node's tick loop is running (omitted = not reported). */
  running?: boolean;
  /** Whether a failed write halts the node (omitted = not reported). */
  halted?: boolean;
  /** Whether the execution lag bound pauses proposals (omitted = not reported). */
  lagLimitEngaged?: boolean;
  /** Whether the reward runtime's last pass failed (omitted = not reported). */
  rewardFailing?: boolean;
  /** Failed reward passes since start (omitted = not reported). */
  rewardFailures?: number;
  /** Duplicate-vote evidence seen by the node since start (omitted = not reported). */
  evidenceTotal?: number;
  /** The p2p network (omitted when the node runs without one). */
  p2p?: {
    connectedPeers: number;
    networkCommittedHeight: number;
    acceptedFrames: number;
    /** Dropped gossip/sync frames by reason code. */
    rejectedFrames: Readonly<Record<string, number>>;
    /** Dropped frames per peer id (all reasons). */
    rejectedByPeer: Readonly<Record<string, number>>;
  };
  /** Whether this node's execution diverged from the network's (omitted = not reported). */
  executionDiverged?: boolean;
  /** Validators whose execution claims differ from this node's (omitted = not reported). */
  divergedValidators?: number;
}

/** Upper bounds (seconds) of the duration histograms; `+Inf` is implied. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Formats a sample value as a plain decimal (no exponent), or `NaN` / `±Inf`. */
export function formatMetricValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  // Nanosecond resolution is plenty for seconds; trim the zeros toFixed pads with.
  const s = v.toFixed(9).replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Fixed-bucket histogram; `counts[i]` is the number of samples in bucket i alone. */
class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }

  observe(v: number): void {
    if (!Number.isFinite(v) || v < 0) return;
    const i = this.bounds.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  lines(name: string): string[] {
    const out: string[] = [];
    let cumulative = 0;
    this.bounds.forEach((b, i) => {
      cumulative += this.counts[i];
      out.push(`${name}_bucket{le="${formatMetricValue(b)}"} ${cumulative}`);
    });
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${name}_sum ${formatMetricValue(this.sum)}`);
    out.push(`${name}_count ${this.count}`);
    return out;
  }
}

type Sample = { labels?: Record<string, string>; value: number };

/**
 * Metrics of one live node.
 *
 * @example
 * ```ts
 * import { NodeEvents } from "../node/events.ts";
 * import { LiveMetrics } from "./metrics.ts";
 * const events = new NodeEvents();
 * const metrics = new LiveMetrics();
 * const detach = metrics.attach(events);
 * metrics.setGaugeSource(() => ({ committedHeight: 3, executionHeight: 2, mempoolSize: 0 }));
 * events.emit("tick", { tickCount: 1, latenessMs: 0.4, durationMs: 1.2 });
 * metrics.render().includes("awr_ticks_total 1"); // true
 * detach();
 * ```
 */
export class LiveMetrics {
  #ticks = 0;
  #commits = 0;
  #executions = 0;
  #executionErrors = 0;
  #halts = 0;
  #lagEpisodes = 0;
  readonly #errors = new Map<string, number>([["consensus", 0], ["execution", 0]]);
  readonly #http = new Map<string, number>();
  readonly #tickDuration = new Histogram(DURATION_BUCKETS_SECONDS);
  readonly #tickLateness = new Histogram(DURATION_BUCKETS_SECONDS);
  readonly #executionDuration = new Histogram(DURATION_BUCKETS_SECONDS);
  #lastCommitted = 0;
  #lastExecuted = 0;
  #gaugeSource: (() => LiveGauges) | null = null;
  #sseClients: () => number = () => 0;
  readonly #commitLatency: CommitLatency;

  /** @param clock unix ms for the commit latency (the node's wall clock; tests inject one) */
  constructor(clock: () => number = Date.now) {
    this.#commitLatency = new CommitLatency(clock);
  }

  /** Subscribes to `events`; returns the function that unsubscribes again. */
  attach(events: NodeEvents): () => void {
    const offs = [
      events.on("tick", (e) => {
        this.#ticks++;
        this.#tickDuration.observe(e.durationMs / 1000);
        this.#tickLateness.observe(Math.max(0, e.latenessMs) / 1000);
      }),
      events.on("commit", (e) => {
        this.#commits++;
        this.#lastCommitted = Math.max(this.#lastCommitted, e.block.header.height);
        this.#commitLatency.observe(e.block.header.timestampMs);
      }),
      events.on("execution", (e) => {
        this.#executions++;
        this.#executionDuration.observe(e.durationMs / 1000);
        this.#lastExecuted = Math.max(this.#lastExecuted, e.result.executionHeight);
      }),
      events.on("halt", () => this.#halts++),
      events.on("lag_limit", (e) => {
        if (e.engaged) this.#lagEpisodes++;
      }),
      events.on("error", (e) => {
        if (e.source === "execution") this.#executionErrors++;
        this.#errors.set(e.source, (this.#errors.get(e.source) ?? 0) + 1);
      }),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Reads the gauges from `source` at every render (replaces any earlier source). */
  setGaugeSource(source: () => LiveGauges): void {
    this.#gaugeSource = source;
  }

  /** Reports the number of open server-sent-event streams (set by the HTTP server). */
  setSseClientSource(source: () => number): void {
    this.#sseClients = source;
  }

  /** Counts one answered HTTP request; `route` is a fixed route name, never a raw path. */
  countHttpRequest(route: string, status: number): void {
    const key = `${route}\n${status}`;
    this.#http.set(key, (this.#http.get(key) ?? 0) + 1);
  }

  /** The gauges as they stand now (source values, or heights seen in events). */
  gauges(): LiveGauges {
    if (this.#gaugeSource) return this.#gaugeSource();
    return {
      committedHeight: this.#lastCommitted,
      executionHeight: this.#lastExecuted,
      mempoolSize: 0,
    };
  }

  /** Renders every metric in the Prometheus text format 0.0.4. */
  render(): string {
    const g = this.gauges();
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Sample[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const s of samples) {
        out.push(`${name}${labelText(s.labels ?? {})} ${formatMetricValue(s.value)}`);
      }
    };
    const histogram = (name: string, help: string, h: Histogram) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`, ...h.lines(name));
    };
    metric("awr_committed_height", "gauge", "Highest committed consensus height.", [
      { value: g.committedHeight },
    ]);
    metric("awr_execution_height", "gauge", "Highest executed height.", [
      { value: g.executionHeight },
    ]);
    metric("awr_execution_lag", "gauge", "Committed heights not yet executed.", [
      { value: Math.max(0, g.committedHeight - g.executionHeight) },
    ]);
    metric("awr_mempool_size", "gauge", "Actions waiting for the next proposal.", [
      { value: g.mempoolSize },
    ]);
    if (g.running !== undefined) {
      metric("awr_node_running", "gauge", "1 while the node's tick loop runs.", [
        { value: g.running ? 1 : 0 },
      ]);
    }
    const flag = (name: string, help: string, v: boolean | undefined) => {
      if (v !== undefined) metric(name, "gauge", help, [{ value: v ? 1 : 0 }]);
    };
    flag("awr_node_halted", "1 while a failed write halts commits (retried).", g.halted);
    flag(
      "awr_lag_limit_engaged",
      "1 while proposals pause for execution to catch up.",
      g.lagLimitEngaged,
    );
    flag("awr_reward_failing", "1 while the reward runtime's passes fail.", g.rewardFailing);
    flag(
      "awr_execution_diverged",
      "1 once this node's state root differs from the network's (it stopped voting).",
      g.executionDiverged,
    );
    if (g.divergedValidators !== undefined) {
      metric("awr_diverged_validators", "gauge", "Validators whose state roots differ.", [
        { value: g.divergedValidators },
      ]);
    }
    if (g.rewardFailures !== undefined) {
      metric("awr_reward_failures_total", "counter", "Failed reward runtime passes.", [
        { value: g.rewardFailures },
      ]);
    }
    if (g.evidenceTotal !== undefined) {
      metric("awr_evidence_total", "counter", "Duplicate-vote evidence seen by the node.", [
        { value: g.evidenceTotal },
      ]);
    }
    if (g.p2p) {
      const p = g.p2p;
      metric("awr_p2p_connected_peers", "gauge", "Peers with an open libp2p connection.", [
        { value: p.connectedPeers },
      ]);
      metric("awr_network_committed_height", "gauge", "Highest committed height known.", [
        { value: p.networkCommittedHeight },
      ]);
      metric("awr_p2p_accepted_frames_total", "counter", "Gossip frames accepted.", [
        { value: p.acceptedFrames },
      ]);
      metric(
        "awr_p2p_rejected_frames_total",
        "counter",
        "Gossip and sync frames dropped, by reason.",
        Object.entries(p.rejectedFrames).map(([code, value]) => ({ labels: { code }, value })),
      );
      metric(
        "awr_p2p_peer_rejected_frames_total",
        "counter",
        "Frames dropped per peer (tracked peers only).",
        Object.entries(p.rejectedByPeer).map(([peer, value]) => ({ labels: { peer }, value })),
      );
    }
    metric("awr_node_halts_total", "counter", "Times a failed write halted the node.", [
      { value: this.#halts },
    ]);
    metric(
      "awr_lag_limit_episodes_total",
      "counter",
      "Times the execution lag bound paused proposals.",
      [{ value: this.#lagEpisodes }],
    );
    metric("awr_sse_clients", "gauge", "Open server-sent-event streams.", [
      { value: this.#sseClients() },
    ]);
    metric("awr_ticks_total", "counter", "Consensus ticks run.", [{ value: this.#ticks }]);
    metric("awr_commits_total", "counter", "Blocks committed by this process.", [
      { value: this.#commits },
    ]);
    const lat = this.#commitLatency;
    metric(
      "awr_commit_latency_seconds",
      "summary",
      `Proposal (block timestamp) to commit on this node; quantiles of the last ${COMMIT_LATENCY_WINDOW} commits.`,
      [
        ...[0.5, 0.9].flatMap((q) => {
          const v = lat.quantile(q);
          return v === null ? [] : [{ labels: { quantile: String(q) }, value: v / 1000 }];
        }),
      ],
    );
    out.push(
      `awr_commit_latency_seconds_sum ${formatMetricValue(lat.sumMs / 1000)}`,
      `awr_commit_latency_seconds_count ${lat.count}`,
    );
    metric("awr_executions_total", "counter", "Heights executed by this process.", [
      { value: this.#executions },
    ]);
    metric("awr_execution_errors_total", "counter", "Failed execution attempts.", [
      { value: this.#executionErrors },
    ]);
    metric(
      "awr_errors_total",
      "counter",
      "Errors reported by the node, by source.",
      [...this.#errors].sort().map(([source, value]) => ({ labels: { source }, value })),
    );
    metric(
      "awr_http_requests_total",
      "counter",
      "HTTP requests answered, by route and status code.",
      [...this.#http].sort().map(([key, value]) => {
        const [route, code] = key.split("\n");
        return { labels: { route, code }, value };
      }),
    );
    histogram("awr_tick_duration_seconds", "Time spent in one consensus tick.", this.#tickDuration);
    histogram(
      "awr_tick_lateness_seconds",
      "How late a tick started after its due time.",
      this.#tickLateness,
    );
    histogram(
      "awr_execution_duration_seconds",
      "Time the execution driver took for one height.",
      this.#executionDuration,
    );
    return out.join("\n") + "\n";
  }
}
