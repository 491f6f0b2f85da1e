// Numbers as people read them: units (%, GiB, /s, durations), thresholds' colors, legends and times.
import type { Color, Labels, Threshold, Unit } from "./api";

const BIN = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
const SI = ["", "k", "M", "G", "T", "P", "E"];

function digits(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  // Counts stay whole: 2 lines, not 2.00.
  if (Number.isInteger(v) && a < 1e15) return String(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(2);
  return v.toPrecision(2);
}

function scaled(v: number, base: number, names: string[], sep: string): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < names.length - 1) {
    x /= base;
    i++;
  }
  return `${digits(x)}${names[i] ? sep + names[i] : ""}`;
}

export function duration(s: number): string {
  const a = Math.abs(s);
  if (a === 0) return "0s";
  if (a < 1e-3) return `${digits(s * 1e6)}µs`;
  if (a < 1) return `${digits(s * 1e3)}ms`;
  if (a < 60) return `${digits(s)}s`;
  if (a < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  if (a < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.round((s % 86400) / 3600)}h`;
}

export function formatValue(v: number | null | undefined, unit: Unit = "short"): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  switch (unit) {
    case "percent":
      return `${digits(v)}%`;
    case "bytes":
      return scaled(v, 1024, BIN, " ");
    case "bytes/s":
      return `${scaled(v, 1024, BIN, " ")}/s`;
    case "seconds":
      return duration(v);
    default:
      return scaled(v, 1000, SI, "");
  }
}

export function thresholdColor(v: number | null | undefined, thresholds: Threshold[]): Color | undefined {
  if (v === null || v === undefined || Number.isNaN(v)) return undefined;
  let color: Color | undefined;
  for (const t of thresholds) if (v >= t.value) color = t.color;
  return color;
}

/// `{{label}}` replaced by the series' label values; the label set when the format is empty.
export function legend(format: string, metric: Labels): string {
  if (format) return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => metric[name] ?? "");
  return seriesName(metric);
}

export function seriesName(metric: Labels): string {
  const name = metric.__name__ ?? "";
  const rest = Object.entries(metric)
    .filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return rest ? `${name}{${rest}}` : name || "{}";
}

export function timeString(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/// Distinct series colors that read on both themes.
export const PALETTE = ["#3b82f6", "#22c55e", "#f59e0b", "#ef4444", "#a855f7", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#64748b", "#14b8a6", "#eab308"];
