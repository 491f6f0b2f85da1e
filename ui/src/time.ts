// Time ranges as the URL keeps them: `now-1h`..`now` (relative) or epoch milliseconds (absolute), and the
// query step a chart's width asks for.
export const PRESETS: [string, string][] = [
  ["now-15m", "Last 15 minutes"],
  ["now-1h", "Last hour"],
  ["now-6h", "Last 6 hours"],
  ["now-24h", "Last 24 hours"],
  ["now-7d", "Last 7 days"],
];
export const REFRESH = ["", "10s", "30s", "1m"];
/// How often `vigil up` collects; no step is finer.
export const SCRAPE_INTERVAL = 15;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/// Seconds since the epoch for `now`, `now-<n><unit>` or epoch milliseconds; undefined when unreadable.
export function resolve(expr: string, now = Date.now() / 1000): number | undefined {
  const t = expr.trim();
  if (t === "now") return now;
  const rel = /^now-(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]];
  if (/^\d{10,}$/.test(t)) return Number(t) / 1000;
  return undefined;
}

export interface Range { from: string; to: string }
export interface Resolved { start: number; end: number }

export function resolveRange(r: Range): Resolved {
  const now = Date.now() / 1000;
  const end = resolve(r.to, now) ?? now;
  let start = resolve(r.from, now) ?? end - 3600;
  if (start >= end) start = end - 60;
  return { start, end };
}

export function rangeLabel(r: Range): string {
  const preset = PRESETS.find(([from]) => from === r.from && r.to === "now");
  if (preset) return preset[1];
  const fmt = (e: string) => {
    const s = resolve(e);
    return s === undefined ? e : e.startsWith("now") ? e : new Date(s * 1000).toLocaleString();
  };
  return `${fmt(r.from)} → ${fmt(r.to)}`;
}

/// One point per ~2.5 px of chart, never finer than the scrape interval, rounded to a whole second.
export function stepFor(start: number, end: number, widthPx: number): number {
  const points = Math.max(20, Math.floor(widthPx / 2.5));
  return Math.max(SCRAPE_INTERVAL, Math.ceil((end - start) / points));
}

/// Grafana's `$__rate_interval`: at least four scrapes, and one step plus a scrape.
export function rateInterval(step: number): string {
  return `${Math.max(4 * SCRAPE_INTERVAL, step + SCRAPE_INTERVAL)}s`;
}

export function refreshMs(r: string): number {
  const m = /^(\d+)([sm])$/.exec(r);
  return m ? Number(m[1]) * (m[2] === "m" ? 60000 : 1000) : 0;
}
