// Pieces the alerts page's tabs share: severity colors, label chips, times relative to now, and the filter
// terms a click on a chip adds.
import type { Labels } from "./api";
import { duration } from "./format";
import { formatMatcher } from "./matchers";
import { setParams } from "./route";

export type Severity = "critical" | "warning" | "info" | "none";

export function severity(labels: Labels): Severity {
  const s = (labels.severity ?? labels.priority ?? "").toLowerCase();
  if (!s) return "none";
  if (/^(crit|critical|page|high|error|err|emerg|emergency|alert|fatal|p1|p0|disaster)$/.test(s)) return "critical";
  if (/^(warn|warning|medium|average|p2|p3)$/.test(s)) return "warning";
  if (/^(info|informational|low|notice|debug|p4|p5|none)$/.test(s)) return "info";
  return "none";
}

/// Milliseconds since the epoch, or NaN for a missing, unreadable or zero (Go's `0001-01-01`) time.
export function ms(t: string | undefined): number {
  if (!t || t.startsWith("0001-")) return NaN;
  return Date.parse(t);
}

/// Whole seconds as people say them: `42s`, `4m 3s`, `2h 5m`.
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : duration(s);
}

/// `4m 3s` from `at` to now, `–` when unknown.
export function since(at: number, now: number): string {
  return Number.isFinite(at) ? span((now - at) / 1000) : "–";
}

export function until(at: number, now: number): string {
  return Number.isFinite(at) ? span((at - now) / 1000) : "–";
}

export function fullTime(at: number): string {
  return Number.isFinite(at) ? new Date(at).toLocaleString() : "unknown";
}

/// Adds `name="value"` to the filter box, unless it is there already.
export function addFilter(current: string, name: string, value: string): void {
  const term = formatMatcher({ name, op: "=", value });
  if (current.includes(term)) return;
  setParams({ q: current.trim() ? `${current.trim()} ${term}` : term }, true);
}

/// A label as a chip; a click filters on it when `filter` (the filter box's text) is given.
export function Chip({ name, value, filter }: { name: string; value: string; filter?: string }) {
  const text = `${name}="${value}"`;
  if (filter === undefined) return <span class="chip">{text}</span>;
  return (
    <button type="button" class="chip" title="Filter on this label" onClick={() => addFilter(filter, name, value)}>
      {text}
    </button>
  );
}

export function Chips({ labels, skip = [], filter }: { labels: Labels; skip?: string[]; filter?: string }) {
  const shown = Object.entries(labels ?? {}).filter(([k]) => !skip.includes(k));
  if (!shown.length) return null;
  return (
    <div class="chips">
      {shown.map(([k, v]) => (
        <Chip name={k} value={v} filter={filter} />
      ))}
    </div>
  );
}
