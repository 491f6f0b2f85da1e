// Charts: a uPlot time series chart (resizes with its box, drag to zoom, stacked areas or bars, unit-aware axes
// and legend) and an SVG sparkline for tables.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import type { Unit } from "./api";
import { formatValue, PALETTE } from "./format";

export interface Series { name: string; values: (number | null)[]; color?: string }
export interface ChartData { x: number[]; series: Series[] }

export interface ChartProps {
  data: ChartData;
  unit: Unit;
  stack?: boolean;
  min?: number;
  max?: number;
  height?: number;
  /// Series colors, as CSS color variables (`--red`) or colors, where a series has none; the palette's otherwise.
  colors?: string[];
  /// Bars instead of lines: with `stack`, stacked bars; two unstacked series stand side by side (a histogram
  /// with `x` at each bucket's middle).
  bars?: boolean;
  /// Called with the dragged range, in seconds.
  onZoom?: (start: number, end: number) => void;
}

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function withAlpha(hex: string, alpha: number): string {
  if (!/^#[0-9a-f]{6}$/i.test(hex)) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export function TimeChart({ data, unit, stack, min, max, height = 220, colors, bars, onZoom }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  // Colors are read from the theme when drawing: draw again when it changes.
  const [theme, setTheme] = useState(0);
  useEffect(() => {
    const on = () => setTheme((t) => t + 1);
    addEventListener("vigil-theme", on);
    return () => removeEventListener("vigil-theme", on);
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const raw = data.series.map((s) => s.values);
    let shown = raw;
    if (stack) {
      const acc = new Array<number>(data.x.length).fill(0);
      shown = raw.map((vals) => vals.map((v, i) => (v === null ? null : (acc[i] += v))));
    }
    const axis = css("--muted");
    const grid = css("--grid");
    const fmt = (v: number | null) => formatValue(v, unit);
    const color = (i: number) => {
      const c = data.series[i].color ?? colors?.[i];
      return c ? (c.startsWith("--") ? css(c) : c) : PALETTE[i % PALETTE.length];
    };
    // Stacked bars are each series' running total drawn biggest first, so every smaller one covers its part.
    const order = data.series.map((_, i) => (bars && stack ? data.series.length - 1 - i : i));
    const pair = bars && !stack && data.series.length === 2;
    const barPaths = (i: number) =>
      !bars ? undefined : pair ? uPlot.paths.bars!({ size: [0.42, 48], align: i === 0 ? -1 : 1 }) : uPlot.paths.bars!({ size: [0.9, 64], align: -1 });
    // Half a bucket on each side, so the first and last bars of a pair are whole.
    const half = pair && data.x.length > 1 ? (data.x[1] - data.x[0]) / 2 : 0;
    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height,
      padding: [8, 8, 0, 0],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      scales: { x: { time: true, range: half ? (_u, lo, hi) => [lo - half, hi + half] : undefined }, y: { range: (_u, lo, hi) => [min ?? Math.min(0, lo), max ?? (hi > lo ? hi : lo + 1)] } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          values: (_u, vals) => vals.map((v) => fmt(v)),
          // Wide enough for the longest tick label ("123 GiB/s"), measured at the axis font's average width.
          size: (_u, vals) => 16 + 7 * Math.max(3, ...(vals ?? []).map((v) => String(v).length)),
        },
      ],
      series: [
        { value: (_u, v) => (v === null ? "–" : new Date(v * 1000).toLocaleTimeString()) },
        ...order.map((i) => {
          const s = data.series[i];
          return {
            label: s.name,
            stroke: color(i),
            width: bars ? 0 : 1.5,
            fill: bars ? withAlpha(color(i), 0.75) : stack ? withAlpha(color(i), 0.35) : undefined,
            paths: barPaths(i),
            points: bars ? { show: false } : undefined,
            spanGaps: false,
            value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => fmt(idx === null ? null : raw[i][idx] ?? null),
          } as uPlot.Series;
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 5 || !zoom.current) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current(Math.floor(a), Math.ceil(b));
          },
        ],
      },
    };
    if (stack && !bars && shown.length > 1) {
      opts.bands = shown.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number], fill: withAlpha(color(i + 1), 0.35) }));
      opts.series.forEach((s, i) => {
        if (i > 1) s.fill = undefined;
      });
    }
    const u = new uPlot(opts, [data.x, ...order.map((i) => shown[i])] as uPlot.AlignedData, el);
    plot.current = u;
    (el as unknown as { __uplot: uPlot }).__uplot = u;
    // The observer also fires once when it starts; drawing again then would double the cost of every chart.
    let width = opts.width;
    const ro = new ResizeObserver(() => {
      const w = Math.max(100, el.clientWidth);
      if (w === width) return;
      width = w;
      u.setSize({ width, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, unit, stack, min, max, height, theme, bars, colors?.join()]);

  return <div class="chart" ref={box} style={{ minHeight: `${height}px` }} />;
}

/// A line of `values` scaled to `max` (or their own maximum), for table cells.
export function Sparkline({ values, max, color = "var(--accent)" }: { values: (number | null)[]; max?: number; color?: string }) {
  const w = 120;
  const h = 24;
  const nums = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (nums.length < 2) return <svg class="spark" width={w} height={h} aria-hidden="true" />;
  const top = max ?? Math.max(...nums, 1e-9);
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i / (values.length - 1)) * w;
    const y = h - 1 - Math.min(1, Math.max(0, v / top)) * (h - 2);
    d += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-hidden="true">
      <path d={d} fill="none" stroke={color} stroke-width="1.5" />
    </svg>
  );
}

/// Prometheus' matrices on one time grid: `start + k * step` for every k up to `end`.
export function align(start: number, end: number, step: number, series: { name: string; values: [number, string][] }[]): ChartData {
  const n = Math.floor((end - start) / step) + 1;
  const x = Array.from({ length: n }, (_, i) => start + i * step);
  return {
    x,
    series: series.map((s) => {
      const values = new Array<number | null>(n).fill(null);
      for (const [t, v] of s.values) {
        const i = Math.round((t - start) / step);
        if (i >= 0 && i < n) values[i] = Number(v);
      }
      return { name: s.name, values };
    }),
  };
}
