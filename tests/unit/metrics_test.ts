import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { startHttpServer } from "../../src/live/http.ts";
import { formatMetricValue, LiveMetrics } from "../../src/live/metrics.ts";
import { NodeEvents } from "../../src/node/events.ts";
import { FakeLiveApi } from "../support/fake_live_api.ts";

// A small line grammar for the Prometheus text format 0.0.4, stricter than the
// format itself where our output promises more (plain decimals, HELP on every metric).

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}`;
const VALUE = "[+-]?(?:[0-9]+(?:\\.[0-9]+)?|Inf)|NaN";
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (${VALUE})$`);
const HELP_RE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
  counter: [""],
  gauge: [""],
};

function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (
    const m of (text ?? "").matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, "g"))
  ) {
    out[m[1]] = JSON.parse(m[2]); // the escapes \\ \" \n are JSON escapes too
  }
  return out;
}

function parseValue(text: string): number {
  if (text === "NaN") return NaN;
  if (/^[+-]?Inf$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  const v = Number(text);
  if (Number.isNaN(v)) throw new Error(`not a number: ${text}`);
  return v;
}

/** Parses and checks exposition text; throws naming the first offending line. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { name, samples: [] });
    return f;
  };
  text.slice(0, -1).split("\n").forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    let m: RegExpExecArray | null;
    if ((m = HELP_RE.exec(line))) {
      const f = family(m[1]);
      if (f.help !== undefined || f.samples.length) {
        throw new Error(`${where}: HELP repeated or late`);
      }
      f.help = m[2];
    } else if ((m = TYPE_RE.exec(line))) {
      const f = family(m[1]);
      if (f.type !== undefined || f.samples.length) {
        throw new Error(`${where}: TYPE repeated or late`);
      }
      f.type = m[2];
    } else if ((m = SAMPLE_RE.exec(line))) {
      const name = m[1];
      const owner = [...families.values()].find((f) =>
        (SUFFIXES[f.type ?? ""] ?? [""]).some((s) => f.name + s === name)
      );
      if (!owner) throw new Error(`${where}: sample of an undeclared metric`);
      owner.samples.push({ name, labels: parseLabels(m[2]), value: parseValue(m[3]) });
    } else {
      throw new Error(`${where}: does not match the grammar`);
    }
  });
  for (const f of families.values()) {
    if (f.help === undefined || f.type === undefined) {
      throw new Error(`${f.name}: needs HELP and TYPE`);
    }
    if (f.type === "histogram") checkHistogram(f);
  }
  return families;
}

function checkHistogram(f: Family): void {
  const buckets = f.samples.filter((s) => s.name === `${f.name}_bucket`);
  const count = f.samples.find((s) => s.name === `${f.name}_count`);
  const sum = f.samples.find((s) => s.name === `${f.name}_sum`);
  if (!count || !sum || buckets.length === 0) throw new Error(`${f.name}: incomplete histogram`);
  let prevLe = -Infinity;
  let prevCount = 0;
  for (const b of buckets) {
    const le = parseValue(b.labels.le ?? "");
    if (!(le > prevLe)) {
      throw new Error(`${f.name}: bucket bounds not increasing at le=${b.labels.le}`);
    }
    if (b.value < prevCount) {
      throw new Error(`${f.name}: buckets not cumulative at le=${b.labels.le}`);
    }
    prevLe = le;
    prevCount = b.value;
  }
  if (buckets.at(-1)!.labels.le !== "+Inf") throw new Error(`${f.name}: last bucket is not +Inf`);
  if (buckets.at(-1)!.value !== count.value) throw new Error(`${f.name}: +Inf bucket != _count`);
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  const f = families.get(name) ?? families.get(base);
  const s = f?.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  if (!s) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return s.value;
}

const EXPECTED = [
  "awr_committed_height",
  "awr_execution_height",
  "awr_execution_lag",
  "awr_mempool_size",
  "awr_ticks_total",
  "awr_commits_total",
  "awr_executions_total",
  "awr_execution_errors_total",
  "awr_errors_total",
  "awr_tick_duration_seconds",
  "awr_tick_lateness_seconds",
  "awr_execution_duration_seconds",
];

Deno.test("the grammar refuses broken expositions (so the checks below can fail)", () => {
  const ok = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n";
  parseExposition(ok);
  const broken = [
    "a_total 1\n", // no HELP/TYPE
    "# HELP a_total x\n# TYPE a_total counter\na_total one\n",
    "# HELP a_total x\n# TYPE a_total counter\na_total 1", // no final newline
    '# HELP a_total x\n# TYPE a_total counter\na_total{src="x} 1\n',
    "# TYPE h histogram\n# HELP h x\n" +
    'h_bucket{le="1"} 3\nh_bucket{le="2"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n',
    "# TYPE h histogram\n# HELP h x\n" +
    'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    '# TYPE h histogram\n# HELP h x\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  ];
  for (const text of broken) assertThrows(() => parseExposition(text), Error, undefined, text);
});

Deno.test("formatMetricValue writes plain decimals", () => {
  assertEquals(formatMetricValue(5), "5");
  assertEquals(formatMetricValue(0.0432), "0.0432");
  assertEquals(formatMetricValue(1e-7), "0.0000001");
  assertEquals(formatMetricValue(2.5), "2.5");
  assertEquals(formatMetricValue(Infinity), "+Inf");
  assertEquals(formatMetricValue(-0.0000000001), "0");
});

Deno.test("LiveMetrics renders counters, gauges and cumulative histograms from node events", () => {
  const events = new NodeEvents();
  const metrics = new LiveMetrics();
  const detach = metrics.attach(events);
  const fresh = parseExposition(metrics.render());
  for (const name of EXPECTED) assert(fresh.has(name), `missing ${name}`);
  assertEquals(value(fresh, "awr_tick_duration_seconds_count"), 0);

  for (const [i, ms] of [0.2, 3, 40].entries()) {
    events.emit("tick", { tickCount: i + 1, latenessMs: i === 2 ? 120 : 0.1, durationMs: ms });
  }
  events.emit("execution", {
    result: { executionHeight: 1, executionBlockHash: "ab", executionStateRoot: "cd" },
    nodeBlockHash: "ef",
    durationMs: 12,
  });
  events.emit("error", { source: "execution", height: 2, message: "x" });
  events.emit("error", { source: "execution", height: 2, message: "x" });
  events.emit("error", { source: "consensus", height: 3, message: "y" });
  metrics.setGaugeSource(() => ({ committedHeight: 9, executionHeight: 6, mempoolSize: 4 }));

  const text = metrics.render();
  assert(!/\de[+-]?\d/.test(text), "no exponent notation");
  const f = parseExposition(text);
  assertEquals(value(f, "awr_ticks_total"), 3);
  assertEquals(value(f, "awr_executions_total"), 1);
  assertEquals(value(f, "awr_execution_errors_total"), 2);
  assertEquals(value(f, "awr_errors_total", { source: "execution" }), 2);
  assertEquals(value(f, "awr_errors_total", { source: "consensus" }), 1);
  assertEquals(value(f, "awr_committed_height"), 9);
  assertEquals(value(f, "awr_execution_height"), 6);
  assertEquals(value(f, "awr_execution_lag"), 3);
  assertEquals(value(f, "awr_mempool_size"), 4);
  const tick = "awr_tick_duration_seconds";
  assertEquals(value(f, `${tick}_count`), 3);
  assertEquals(value(f, `${tick}_sum`), 0.0432);
  assertEquals(value(f, `${tick}_bucket`, { le: "0.0005" }), 1);
  assertEquals(value(f, `${tick}_bucket`, { le: "0.005" }), 2);
  assertEquals(value(f, `${tick}_bucket`, { le: "0.025" }), 2);
  assertEquals(value(f, `${tick}_bucket`, { le: "0.05" }), 3);
  assertEquals(value(f, `${tick}_bucket`, { le: "+Inf" }), 3);
  assertEquals(value(f, "awr_tick_lateness_seconds_bucket", { le: "0.1" }), 2);
  assertEquals(value(f, "awr_tick_lateness_seconds_bucket", { le: "0.25" }), 3);
  assertEquals(value(f, "awr_execution_duration_seconds_sum"), 0.012);
  assertEquals(value(f, "awr_execution_duration_seconds_bucket", { le: "0.01" }), 0);
  assertEquals(value(f, "awr_execution_duration_seconds_bucket", { le: "0.025" }), 1);

  detach();
  events.emit("tick", { tickCount: 4, latenessMs: 0, durationMs: 1 });
  assertEquals(value(parseExposition(metrics.render()), "awr_ticks_total"), 3, "detached");
});

Deno.test("LiveMetrics without a gauge source takes heights from commit and execution events", () => {
  const api = new FakeLiveApi();
  const metrics = new LiveMetrics();
  const detach = metrics.attach(api.events);
  api.advance();
  api.advance();
  api.commitNext();
  const f = parseExposition(metrics.render());
  assertEquals(value(f, "awr_committed_height"), 3);
  assertEquals(value(f, "awr_execution_height"), 2);
  assertEquals(value(f, "awr_execution_lag"), 1);
  assertEquals(value(f, "awr_commits_total"), 3);
  detach();
  api.close();
  assertEquals(api.events.listenerCount(), 0);
});

Deno.test("GET /metrics serves Prometheus text that parses the same way", async () => {
  const api = new FakeLiveApi();
  const server = await startHttpServer(api, { hostname: "127.0.0.1", port: 0 });
  try {
    for (let i = 0; i < 4; i++) api.advance();
    api.commitNext();
    await (await fetch(`${server.url}v1/status`)).body?.cancel();
    await (await fetch(`${server.url}v1/blocks/nope`)).body?.cancel();
    const res = await fetch(`${server.url}metrics`);
    const text = await res.text();
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const f = parseExposition(text);
    for (const name of EXPECTED) assert(f.has(name), `missing ${name}`);
    assertEquals(value(f, "awr_committed_height"), 5);
    assertEquals(value(f, "awr_execution_height"), 4);
    assertEquals(value(f, "awr_execution_lag"), 1);
    assertEquals(value(f, "awr_ticks_total"), 5);
    assertEquals(value(f, "awr_execution_duration_seconds_count"), 4);
    assertEquals(value(f, "awr_http_requests_total", { route: "status", code: "200" }), 1);
    assertEquals(value(f, "awr_http_requests_total", { route: "blocks", code: "400" }), 1);
  } finally {
    await server.shutdown();
    api.close();
  }
});

Deno.test("halts, lag-limit episodes and reward failures show as gauges and counters", () => {
  const events = new NodeEvents();
  const metrics = new LiveMetrics();
  const detach = metrics.attach(events);
  let halted = true;
  metrics.setGaugeSource(() => ({
    committedHeight: 5,
    executionHeight: 5,
    mempoolSize: 0,
    running: !halted,
    halted,
    lagLimitEngaged: true,
    rewardFailing: true,
    rewardFailures: 7,
    evidenceTotal: 2,
  }));
  events.emit("halt", { height: 5, code: "ENOSPC", reason: "disk full" });
  events.emit("lag_limit", { engaged: true, lag: 64, limit: 64 });
  events.emit("lag_limit", { engaged: false, lag: 32, limit: 64 });
  events.emit("lag_limit", { engaged: true, lag: 64, limit: 64 });
  let f = parseExposition(metrics.render());
  assertEquals(value(f, "awr_node_halted"), 1);
  assertEquals(value(f, "awr_node_running"), 0);
  assertEquals(value(f, "awr_node_halts_total"), 1);
  assertEquals(value(f, "awr_lag_limit_engaged"), 1);
  assertEquals(value(f, "awr_lag_limit_episodes_total"), 2);
  assertEquals(value(f, "awr_reward_failing"), 1);
  assertEquals(value(f, "awr_reward_failures_total"), 7);
  assertEquals(value(f, "awr_evidence_total"), 2);
  halted = false;
  f = parseExposition(metrics.render());
  assertEquals(value(f, "awr_node_halted"), 0);
  assertEquals(value(f, "awr_node_halts_total"), 1, "a counter never goes down");
  detach();
});
