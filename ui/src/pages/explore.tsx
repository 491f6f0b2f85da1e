// Explore (`#/explore`): Metrics mode, a PromQL editor completing metric names, label names and label values,
// with the result as a graph or a table; Logs mode (`mode=logs`), a LogQL editor whose log queries show lines
// (explore-logs.tsx) and whose metric queries a graph or a table. The API's error messages are shown as they come.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { align, TimeChart, type ChartData } from "../chart";
import { Empty, ErrorBox, rangeFromParams, TimePicker } from "../controls";
import { Editor, type Completion, type Suggestion } from "../editor";
import { seriesName } from "../format";
import { isLogQuery, logqlCompleter, withLabelFilter } from "../logql";
import { href, setParams, type Route } from "../route";
import { resolveRange, stepFor } from "../time";
import { LIMITS, LogsView } from "./explore-logs";

type Mode = "metrics" | "logs";

/// The query language's endpoints: Prometheus' for Metrics, Loki's for Logs.
interface Lang {
  instant: (q: string, time: number, signal: AbortSignal) => Promise<api.InstantResult>;
  range: (q: string, start: number, end: number, step: number, signal: AbortSignal) => Promise<api.RangeSeries[]>;
}
const PROMQL: Lang = { instant: api.query, range: api.queryRange };
const LOGQL: Lang = { instant: api.lokiQuery, range: api.lokiQueryRange };

const FUNCTIONS = "abs absent absent_over_time avg avg_over_time bottomk ceil changes clamp clamp_max clamp_min count count_over_time count_values day_of_month day_of_week delta deriv exp floor group histogram_quantile holt_winters hour idelta increase irate label_join label_replace last_over_time ln log2 log10 max max_over_time min min_over_time minute month predict_linear quantile quantile_over_time rate resets round scalar sgn sort sort_desc sqrt stddev stddev_over_time stdvar sum sum_over_time time timestamp topk vector year".split(" ");

let metricCache: Promise<string[]> | null = null;
const labelCache = new Map<string, Promise<string[]>>();

function metrics(): Promise<string[]> {
  metricCache ??= api.labelValues("__name__").catch(() => []);
  return metricCache;
}

function cached(key: string, f: () => Promise<string[]>): Promise<string[]> {
  let p = labelCache.get(key);
  if (!p) {
    p = f().catch(() => []);
    labelCache.set(key, p);
  }
  return p;
}

/// What the word before the cursor is, and what could complete it.
async function promqlComplete(text: string, cursor: number): Promise<Completion> {
  const before = text.slice(0, cursor);
  // Inside `{...}`: a label name, or a value after `label=` / `label=~"`.
  const open = before.lastIndexOf("{");
  if (open > before.lastIndexOf("}")) {
    const metric = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(before.slice(0, open))?.[1] ?? "";
    const inner = before.slice(open + 1);
    const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(inner);
    const match = metric ? [metric] : [];
    if (value) {
      const vals = await cached(`${metric}\u0000${value[1]}`, () => api.labelValues(value[1], match));
      const prefix = value[3];
      return { from: cursor - prefix.length, items: vals.filter((v) => v.startsWith(prefix)).slice(0, 50).map((v) => ({ text: v, kind: "value" })) };
    }
    const name = /([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(inner)?.[1] ?? "";
    if (/(^|,)\s*[a-zA-Z_0-9]*$/.test(inner)) {
      const names = await cached(`${metric}\u0000`, () => api.labelNames(match));
      return { from: cursor - name.length, items: names.filter((n) => n.startsWith(name) && n !== "__name__").slice(0, 50).map((n) => ({ text: n, kind: "label" })) };
    }
    return { from: cursor, items: [] };
  }
  // Inside `by (...)` / `without (...)`: label names.
  if (/\b(by|without)\s*\([^)]*$/.test(before)) {
    const name = /([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(before)?.[1] ?? "";
    const names = await cached("\u0000", () => api.labelNames());
    return { from: cursor - name.length, items: names.filter((n) => n.startsWith(name)).slice(0, 50).map((n) => ({ text: n, kind: "label" })) };
  }
  const word = /([a-zA-Z_:][a-zA-Z0-9_:]*)$/.exec(before)?.[1] ?? "";
  if (!word) return { from: cursor, items: [] };
  const lower = word.toLowerCase();
  const all = await metrics();
  const items: Suggestion[] = [
    ...FUNCTIONS.filter((f) => f.startsWith(lower)).map((f) => ({ text: f, kind: "function" as const })),
    ...all.filter((m) => m.toLowerCase().includes(lower)).sort((a, b) => Number(!a.startsWith(word)) - Number(!b.startsWith(word)) || a.localeCompare(b)).map((m) => ({ text: m, kind: "metric" as const })),
  ];
  return { from: cursor - word.length, items: items.filter((i) => i.text !== word).slice(0, 50) };
}

function TableView({ q, time, tick, lang }: { q: string; time: number; tick: number; lang: Lang }) {
  const [result, setResult] = useState<api.InstantResult | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const ctl = new AbortController();
    setResult(null);
    lang.instant(q, time, ctl.signal).then(
      (r) => {
        setResult(r);
        setError("");
      },
      (e: Error) => e.name !== "AbortError" && setError(e.message),
    );
    return () => ctl.abort();
  }, [q, time, tick, lang]);
  if (error) return <ErrorBox error={error} />;
  if (!result) return <div class="chart-placeholder" />;
  if (result.resultType === "scalar" || result.resultType === "string")
    return (
      <table class="result">
        <tbody>
          <tr>
            <td>{result.resultType}</td>
            <td class="num">{result.result[1]}</td>
          </tr>
        </tbody>
      </table>
    );
  const rows = result.result as (api.InstantSample | api.RangeSeries)[];
  if (rows.length === 0) return <Empty>Empty result: no series match at this time.</Empty>;
  return (
    <div class="table-wrap">
      <table class="result">
        <thead>
          <tr>
            <th class="left">Series</th>
            <th>Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 2000).map((r) => (
            <tr>
              <td class="left mono">{seriesName(r.metric)}</td>
              <td class="num">{"value" in r ? r.value[1] : `${r.values.length} samples`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > 2000 && <p class="foot">Showing 2000 of {rows.length} series.</p>}
    </div>
  );
}

function GraphView({ q, from, to, tick, lang }: { q: string; from: string; to: string; tick: number; lang: Lang }) {
  const ref = useRef<HTMLDivElement>(null);
  const [data, setData] = useState<ChartData | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const el = ref.current;
    const { start: s, end: e } = resolveRange({ from, to });
    const step = stepFor(s, e, el?.clientWidth || 800);
    const start = Math.floor(s / step) * step;
    const end = Math.ceil(e / step) * step;
    const ctl = new AbortController();
    setData(null);
    lang.range(q, start, end, step, ctl.signal).then(
      (r) => {
        setData(align(start, end, step, r.slice(0, 200).map((x) => ({ name: seriesName(x.metric), values: x.values }))));
        setError("");
      },
      (e: Error) => e.name !== "AbortError" && setError(e.message),
    );
    return () => ctl.abort();
  }, [q, from, to, tick, lang]);
  const zoom = (a: number, b: number) => setParams({ from: String(a * 1000), to: String(b * 1000) });
  return (
    <div ref={ref} class="graph">
      {error ? <ErrorBox error={error} /> : !data ? <div class="chart-placeholder tall" /> : data.series.length === 0 ? <Empty>Empty result: no series match in this time range.</Empty> : <TimeChart data={data} unit="short" height={340} onZoom={zoom} />}
    </div>
  );
}

/// Links to a log query per job the log store knows, for an empty Logs mode.
function LogExamples({ start, end }: { start: number; end: number }) {
  const [jobs, setJobs] = useState<string[]>([]);
  useEffect(() => {
    api.lokiLabelValues("job", start, end).then((j) => setJobs(Array.isArray(j) ? j.slice(0, 8) : []), () => setJobs([]));
  }, []);
  const link = (q: string) => (
    <a href={href(["explore"], { mode: "logs", q })}>
      <code>{q}</code>
    </a>
  );
  return (
    <Empty>
      Type a LogQL query and press Enter: a stream selector like <code>{'{job="varlogs"}'}</code>, then filters such as <code>|= "error"</code> or{" "}
      <code>| event_action="ssh-login"</code>, or a metric query like <code>sum by (host) (count_over_time({'{job="security"}'}[5m]))</code>.
      {jobs.length > 0 && <div class="log-examples">Jobs with logs: {jobs.map((j) => link(`{job=${JSON.stringify(j)}}`))}</div>}
    </Empty>
  );
}

/// The last query of each mode, so switching back and forth keeps both.
const lastQuery: Record<Mode, string> = { metrics: "", logs: "" };

export function Explore({ route }: { route: Route }) {
  const q = route.params.get("q") ?? "";
  const mode: Mode = route.params.get("mode") === "logs" ? "logs" : "metrics";
  const logs = mode === "logs";
  // LogQL metric queries are about time: their default is the graph.
  const tab = (route.params.get("tab") ?? (logs ? "graph" : "table")) === "graph" ? "graph" : "table";
  const range = rangeFromParams(route.params);
  const [tick, setTick] = useState(0);
  const time = useMemo(() => resolveRange(range).end, [range.from, range.to, tick]);
  const limitParam = Number(route.params.get("limit"));
  const limit = Number.isInteger(limitParam) && limitParam > 0 && limitParam <= 5000 ? limitParam : LIMITS[2];
  const fields = useRef(new Set<string>());
  const complete = useMemo(() => {
    if (!logs) return promqlComplete;
    const { start, end } = resolveRange(range);
    return logqlCompleter({ start, end, fields: () => [...fields.current] });
  }, [logs, range.from, range.to]);
  lastQuery[mode] = q;
  const run = (text: string) => {
    if (text.trim() === q) setTick((t) => t + 1);
    else setParams({ q: text.trim() });
  };
  const switchMode = (m: Mode) => m !== mode && setParams({ mode: m === "logs" ? "logs" : undefined, q: lastQuery[m] || undefined, tab: undefined });
  const setTab = (t: "table" | "graph") => setParams({ tab: t === (logs ? "graph" : "table") ? undefined : t }, true);
  const logQuery = logs && isLogQuery(q);
  return (
    <main class="page">
      <div class="toolbar">
        <h1>Explore</h1>
        <div class="segmented" role="tablist" aria-label="Query language">
          <button role="tab" aria-selected={!logs} class={!logs ? "active" : ""} onClick={() => switchMode("metrics")}>
            Metrics
          </button>
          <button role="tab" aria-selected={logs} class={logs ? "active" : ""} onClick={() => switchMode("logs")}>
            Logs
          </button>
        </div>
        <span class="grow" />
        <TimePicker range={range} />
      </div>
      <Editor
        key={mode}
        value={q}
        onRun={run}
        complete={complete}
        label={logs ? "LogQL query" : "PromQL query"}
        placeholder={logs ? 'LogQL, e.g. {job="varlogs"} |= "error" or rate({job="varlogs"}[5m])' : 'PromQL, e.g. rate(node_network_receive_bytes_total{device!="lo"}[5m])'}
      />
      {!logQuery && (q || !logs) && (
        <div class="tabs" role="tablist">
          <button role="tab" aria-selected={tab === "table"} class={tab === "table" ? "active" : ""} onClick={() => setTab("table")}>
            Table
          </button>
          <button role="tab" aria-selected={tab === "graph"} class={tab === "graph" ? "active" : ""} onClick={() => setTab("graph")}>
            Graph
          </button>
        </div>
      )}
      {!q ? (
        logs ? (
          <LogExamples {...resolveRange(range)} />
        ) : (
          <Empty>
            Type a PromQL query and press Enter. Try <code>up</code>, <code>node_load1</code> or the CPU busy percentage per host: <code>100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{'{mode="idle"}'}[5m])))</code>.
          </Empty>
        )
      ) : logQuery ? (
        <LogsView
          key={q}
          q={q}
          range={range}
          tick={tick}
          limit={limit}
          onFilter={(name, value, keep) => setParams({ q: withLabelFilter(q, name, value, keep) })}
          onFields={(names) => names.forEach((n) => fields.current.add(n))}
        />
      ) : tab === "table" ? (
        <TableView q={q} time={time} tick={tick} lang={logs ? LOGQL : PROMQL} />
      ) : (
        <GraphView q={q} from={range.from} to={range.to} tick={tick} lang={logs ? LOGQL : PROMQL} />
      )}
    </main>
  );
}
