// A dashboard from YAML (`GET /api/v1/dashboards/{id}`): its variables as pickers, rows of stat, time series
// and logs panels over the URL's time range, auto refresh, drag-to-zoom. `#/host/<instance>` is the built-in
// `host` dashboard with `$host` set; `#/d/<id>` any other.
import type { ComponentChildren, RefObject } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { align, TimeChart, type ChartData } from "../chart";
import { Empty, ErrorBox, rangeFromParams, RefreshPicker, TimePicker, useTick } from "../controls";
import { formatValue, legend, thresholdColor } from "../format";
import { LogLines, toLines, useStreams, type LogLine } from "../loglines";
import { lineNeedles } from "../logql";
import { href, setParams, type Route } from "../route";
import { rateInterval, resolveRange, stepFor, type Range } from "../time";

interface Ctx {
  vars: Record<string, string>;
  range: Range;
  tick: number;
}

function substitute(q: string, vars: Record<string, string>): string {
  return q.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (m, a: string, b: string) => vars[a ?? b] ?? m);
}

/// Builds the value of every `$__` variable for a query over `start..end` at `step`.
function builtins(start: number, end: number, step: number): Record<string, string> {
  return { __rate_interval: rateInterval(step), __interval: `${step}s`, __range: `${Math.max(1, Math.round(end - start))}s` };
}

function useWidth(): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [w, setW] = useState(0);
  // Measured before the first paint, so that a chart's query starts with the stat panels', not a frame later.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW((old) => (Math.abs(old - el.clientWidth) > 40 ? el.clientWidth : old)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, w];
}

function PanelFrame({ panel, children, loading, extra }: { panel: api.Panel; children: ComponentChildren; loading?: boolean; extra?: ComponentChildren }) {
  const title = <h3 title={panel.description ?? ""}>{panel.title}</h3>;
  return (
    <section class={`panel panel-${panel.type}${loading ? " loading" : ""}`} style={{ "--w": panel.width } as Record<string, number>} data-panel={panel.title}>
      {extra ? (
        <div class="panel-head">
          {title}
          {extra}
        </div>
      ) : (
        title
      )}
      {children}
    </section>
  );
}

function TimeseriesPanel({ panel, ctx }: { panel: api.Panel; ctx: Ctx }) {
  const [ref, width] = useWidth();
  const [data, setData] = useState<ChartData | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!width) return;
    const { start: s, end: e } = resolveRange(ctx.range);
    const step = stepFor(s, e, width);
    const start = Math.floor(s / step) * step;
    const end = Math.ceil(e / step) * step;
    const vars = { ...ctx.vars, ...builtins(start, end, step) };
    const ctl = new AbortController();
    Promise.all(panel.queries.map((q) => api.queryRange(substitute(q.query, vars), start, end, step, ctl.signal).then((r) => r.map((s) => ({ name: legend(q.legend, s.metric), values: s.values })))))
      .then((all) => {
        setData(align(start, end, step, all.flat()));
        setError("");
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e.message);
      });
    return () => ctl.abort();
  }, [panel, ctx.vars, ctx.range.from, ctx.range.to, ctx.tick, width]);
  const zoom = (a: number, b: number) => setParams({ from: String(a * 1000), to: String(b * 1000) });
  return (
    <PanelFrame panel={panel} loading={!data && !error}>
      <div ref={ref} class="panel-body">
        {error ? (
          <ErrorBox error={error} />
        ) : data && data.series.length === 0 ? (
          <Empty>No data in this time range.</Empty>
        ) : data ? (
          <TimeChart data={data} unit={panel.unit} stack={panel.stack} min={panel.min} max={panel.max} onZoom={zoom} />
        ) : (
          <div class="chart-placeholder" />
        )}
      </div>
    </PanelFrame>
  );
}

function StatPanel({ panel, ctx }: { panel: api.Panel; ctx: Ctx }) {
  const [values, setValues] = useState<{ name: string; value: number }[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const { start, end } = resolveRange(ctx.range);
    const vars = { ...ctx.vars, ...builtins(start, end, 15) };
    const ctl = new AbortController();
    Promise.all(panel.queries.map((q) => api.queryVector(substitute(q.query, vars), end, ctl.signal).then((r) => r.map((s) => ({ name: legend(q.legend, s.metric), value: Number(s.value[1]) })))))
      .then((all) => {
        setValues(all.flat());
        setError("");
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e.message);
      });
    return () => ctl.abort();
  }, [panel, ctx.vars, ctx.range.from, ctx.range.to, ctx.tick]);
  return (
    <PanelFrame panel={panel}>
      {error ? (
        <ErrorBox error={error} />
      ) : (
        <div class="stat">
          {values === null ? (
            <span class="stat-value muted">…</span>
          ) : values.length === 0 ? (
            <span class="stat-value muted" title="No data">–</span>
          ) : (
            values.slice(0, 4).map((v) => {
              const c = thresholdColor(v.value, panel.thresholds);
              return (
                <span class={`stat-value num${c ? ` c-${c}` : ""}`} title={v.name}>
                  {formatValue(v.value, panel.unit)}
                </span>
              );
            })
          )}
        </div>
      )}
    </PanelFrame>
  );
}

function LogsPanel({ panel, ctx }: { panel: api.Panel; ctx: Ctx }) {
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const [error, setError] = useState("");
  const { start, end } = useMemo(() => resolveRange(ctx.range), [ctx.range.from, ctx.range.to, ctx.tick]);
  const q = substitute(panel.queries[0]?.query ?? "", { ...ctx.vars, ...builtins(start, end, 15) });
  const streams = useStreams(q, start, end, ctx.tick);
  useEffect(() => {
    const ctl = new AbortController();
    api
      .logs(q, start, end, panel.limit, ctl.signal)
      .then((streams) => {
        setLines(toLines(streams).slice(0, panel.limit));
        setError("");
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e.message);
      });
    return () => ctl.abort();
  }, [panel, ctx.vars, ctx.range.from, ctx.range.to, ctx.tick]);
  const explore = href(["explore"], { mode: "logs", q, from: ctx.range.from, to: ctx.range.to });
  return (
    <PanelFrame
      panel={panel}
      loading={!lines && !error}
      extra={
        <a class="panel-link" href={explore} title="Open this query in Explore">
          Explore ↗
        </a>
      }
    >
      {error ? (
        <ErrorBox error={error} />
      ) : lines && lines.length === 0 ? (
        <Empty>No log lines in this time range. Logs arrive through Loki push (e.g. the agent's `agent.logs` sources).</Empty>
      ) : (
        <div class="logs">
          <LogLines lines={lines ?? []} needles={lineNeedles(q)} streams={streams} />
        </div>
      )}
    </PanelFrame>
  );
}

function VariablePicker({ v, value, vars }: { v: api.Variable; value: string; vars: Record<string, string> }) {
  const [options, setOptions] = useState<string[]>([]);
  useEffect(() => {
    const match = v.match ? [substitute(v.match, vars)] : [];
    api.labelValues(v.label_name, match).then(setOptions, () => setOptions([]));
  }, [v]);
  const all = options.includes(value) || !value ? options : [value, ...options];
  return (
    <label class="var">
      <span>{v.label}</span>
      <select value={value} onChange={(e) => setParams({ [`var-${v.name}`]: (e.target as HTMLSelectElement).value })}>
        {all.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}

export function DashboardPage({ route, id, fixed }: { route: Route; id: string; fixed?: Record<string, string> }) {
  const [dash, setDash] = useState<api.Dashboard | null>(null);
  const [error, setError] = useState("");
  const range = rangeFromParams(route.params);
  const refresh = route.params.get("refresh") ?? "";
  const tick = useTick(refresh);
  useEffect(() => {
    setDash(null);
    api.dashboard(id).then(
      (d) => {
        setDash(d);
        setError("");
      },
      (e: Error) => setError(e.message),
    );
  }, [id]);
  const varKey = dash ? dash.variables.map((v) => fixed?.[v.name] ?? route.params.get(`var-${v.name}`) ?? "").join("\u0000") : "";
  // Picked variables are computed while rendering, not in an effect: panels then start their queries one frame
  // sooner.
  const picked = useMemo(() => {
    const next: Record<string, string> = {};
    dash?.variables.forEach((v, i) => !v.hide && (next[v.name] = varKey.split("\u0000")[i] ?? ""));
    return next;
  }, [dash, varKey]);
  // Each hidden variable takes the first value of its query, in order, so one may use those before it.
  const derivedKey = `${id}\u0000${varKey}`;
  const [derived, setDerived] = useState<{ key: string; vars: Record<string, string> } | null>(null);
  const hidden = dash?.variables.filter((v) => v.hide) ?? [];
  useEffect(() => {
    if (!hidden.length) return;
    let live = true;
    (async () => {
      const next = { ...picked };
      for (const v of hidden) {
        const values = await api.labelValues(v.label_name, v.match ? [substitute(v.match, next)] : []).catch(() => [] as string[]);
        next[v.name] = values[0] ?? "";
      }
      if (live) setDerived({ key: derivedKey, vars: next });
    })();
    return () => {
      live = false;
    };
  }, [picked]);
  const vars = hidden.length && derived?.key === derivedKey ? derived.vars : picked;
  const ctx: Ctx = { vars, range, tick };
  const host = fixed?.host;
  return (
    <main class="page">
      <div class="toolbar">
        <h1>
          {host ? (
            <>
              <a href="#/" class="crumb">
                Fleet
              </a>
              <span class="crumb-sep">/</span>
              {host}
            </>
          ) : (
            dash?.title ?? id
          )}
        </h1>
        {dash &&
          dash.variables
            .filter((v) => !fixed?.[v.name] && !v.hide)
            .map((v) => <VariablePicker v={v} value={vars[v.name] ?? ""} vars={vars} />)}
        <span class="grow" />
        <TimePicker range={range} />
        <RefreshPicker value={refresh} />
      </div>
      {error && <ErrorBox error={error} hint={`The dashboard "${id}" could not be loaded; its file's error is above.`} />}
      {dash &&
        Object.keys(vars).length === dash.variables.length &&
        dash.rows.map((row) => (
          <details class="row" open={!row.collapsed}>
            <summary>{row.title}</summary>
            <div class="grid">
              {row.panels.map((p) =>
                p.type === "stat" ? <StatPanel panel={p} ctx={ctx} /> : p.type === "logs" ? <LogsPanel panel={p} ctx={ctx} /> : <TimeseriesPanel panel={p} ctx={ctx} />,
              )}
            </div>
          </details>
        ))}
    </main>
  );
}

export function hostHref(instance: string): string {
  return href(["host", instance]);
}
