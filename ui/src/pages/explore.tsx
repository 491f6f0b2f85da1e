// Explore (`#/explore`): a PromQL editor completing metric names, label names and label values, with the result
// as a graph or a table, and the API's error messages shown as they come.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { align, TimeChart, type ChartData } from "../chart";
import { Empty, ErrorBox, rangeFromParams, TimePicker } from "../controls";
import { seriesName } from "../format";
import { setParams, type Route } from "../route";
import { resolveRange, stepFor } from "../time";

interface Suggestion { text: string; kind: "metric" | "label" | "value" | "function" }

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
async function suggest(text: string, cursor: number): Promise<{ from: number; items: Suggestion[] }> {
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

function Editor({ value, onRun }: { value: string; onRun: (q: string) => void }) {
  const [text, setText] = useState(value);
  const [sugg, setSugg] = useState<{ from: number; items: Suggestion[] }>({ from: 0, items: [] });
  const [sel, setSel] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const seq = useRef(0);
  useEffect(() => setText(value), [value]);
  const update = (t: string, cursor: number) => {
    setText(t);
    const n = ++seq.current;
    suggest(t, cursor).then((s) => {
      if (n === seq.current) {
        setSugg(s);
        setSel(0);
      }
    });
  };
  const accept = (s: Suggestion) => {
    const el = ref.current;
    if (!el) return;
    const cursor = el.selectionStart;
    const next = text.slice(0, sugg.from) + s.text + (s.kind === "function" ? "(" : "") + text.slice(cursor);
    setText(next);
    setSugg({ from: 0, items: [] });
    const pos = sugg.from + s.text.length + (s.kind === "function" ? 1 : 0);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(pos, pos);
    });
  };
  const keydown = (e: KeyboardEvent) => {
    const open = sugg.items.length > 0;
    if (e.key === "Enter" && !e.shiftKey && !(open && sel >= 0)) {
      e.preventDefault();
      setSugg({ from: 0, items: [] });
      onRun(text);
    } else if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      setSel((s) => (s + (e.key === "ArrowDown" ? 1 : -1) + sugg.items.length) % sugg.items.length);
    } else if (open && (e.key === "Tab" || e.key === "Enter")) {
      e.preventDefault();
      accept(sugg.items[sel]);
    } else if (e.key === "Escape") {
      setSugg({ from: 0, items: [] });
    }
  };
  return (
    <div class="editor">
      <textarea
        ref={ref}
        class="query"
        rows={Math.min(8, Math.max(2, text.split("\n").length))}
        spellcheck={false}
        autocomplete="off"
        placeholder='PromQL, e.g. rate(node_network_receive_bytes_total{device!="lo"}[5m])'
        value={text}
        aria-label="PromQL query"
        onInput={(e) => {
          const el = e.target as HTMLTextAreaElement;
          update(el.value, el.selectionStart);
        }}
        onKeyDown={keydown}
        onBlur={() => setTimeout(() => setSugg({ from: 0, items: [] }), 150)}
      />
      {sugg.items.length > 0 && (
        <ul class="suggest" role="listbox">
          {sugg.items.map((s, i) => (
            <li role="option" aria-selected={i === sel} class={i === sel ? "sel" : ""} onMouseDown={(e) => (e.preventDefault(), accept(s))}>
              <span class={`kind k-${s.kind}`}>{s.kind[0]}</span>
              {s.text}
            </li>
          ))}
        </ul>
      )}
      <button class="btn primary run" onClick={() => onRun(text)}>
        Run
      </button>
      <div class="hint">Enter runs, Shift+Enter adds a line, Tab completes.</div>
    </div>
  );
}

function TableView({ q, time, tick }: { q: string; time: number; tick: number }) {
  const [result, setResult] = useState<api.InstantResult | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const ctl = new AbortController();
    setResult(null);
    api.query(q, time, ctl.signal).then(
      (r) => {
        setResult(r);
        setError("");
      },
      (e: Error) => e.name !== "AbortError" && setError(e.message),
    );
    return () => ctl.abort();
  }, [q, time, tick]);
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

function GraphView({ q, from, to, tick }: { q: string; from: string; to: string; tick: number }) {
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
    api.queryRange(q, start, end, step, ctl.signal).then(
      (r) => {
        setData(align(start, end, step, r.slice(0, 200).map((x) => ({ name: seriesName(x.metric), values: x.values }))));
        setError("");
      },
      (e: Error) => e.name !== "AbortError" && setError(e.message),
    );
    return () => ctl.abort();
  }, [q, from, to, tick]);
  const zoom = (a: number, b: number) => setParams({ from: String(a * 1000), to: String(b * 1000) });
  return (
    <div ref={ref} class="graph">
      {error ? <ErrorBox error={error} /> : !data ? <div class="chart-placeholder tall" /> : data.series.length === 0 ? <Empty>Empty result: no series match in this time range.</Empty> : <TimeChart data={data} unit="short" height={340} onZoom={zoom} />}
    </div>
  );
}

export function Explore({ route }: { route: Route }) {
  const q = route.params.get("q") ?? "";
  const tab = route.params.get("tab") === "graph" ? "graph" : "table";
  const range = rangeFromParams(route.params);
  const [tick, setTick] = useState(0);
  const time = useMemo(() => resolveRange(range).end, [range.from, range.to, tick]);
  const run = (text: string) => {
    if (text.trim() === q) setTick((t) => t + 1);
    else setParams({ q: text.trim() });
  };
  return (
    <main class="page">
      <div class="toolbar">
        <h1>Explore</h1>
        <span class="grow" />
        <TimePicker range={range} />
      </div>
      <Editor value={q} onRun={run} />
      <div class="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "table"} class={tab === "table" ? "active" : ""} onClick={() => setParams({ tab: undefined }, true)}>
          Table
        </button>
        <button role="tab" aria-selected={tab === "graph"} class={tab === "graph" ? "active" : ""} onClick={() => setParams({ tab: "graph" }, true)}>
          Graph
        </button>
      </div>
      {!q ? (
        <Empty>
          Type a PromQL query and press Enter. Try <code>up</code>, <code>node_load1</code> or the CPU busy percentage per host: <code>100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{'{mode="idle"}'}[5m])))</code>.
        </Empty>
      ) : tab === "table" ? (
        <TableView q={q} time={time} tick={tick} />
      ) : (
        <GraphView q={q} from={range.from} to={range.to} tick={tick} />
      )}
    </main>
  );
}
