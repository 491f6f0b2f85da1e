// Log lines as Explore and the dashboards' logs panels show them: time, chips for the stream labels that tell
// streams apart, the line with the query's needles marked, and a click to see all of the line's labels, split
// into stream labels and fields (structured metadata and labels the pipeline extracted).
import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import { ago } from "./format";
import { highlight } from "./logql";

export interface LogLine {
  /// Unique within one answer and stable across answers that overlap: time, labels, line and repeat count.
  id: string;
  /// Nanoseconds since the epoch, as the API gives them (too precise for a number).
  ns: string;
  ms: number;
  line: string;
  labels: api.Labels;
}

/// The lines of all `streams`, newest first (oldest first for `forward`).
export function toLines(streams: api.LogStream[], direction: api.Direction = "backward"): LogLine[] {
  const out: (LogLine & { big: bigint })[] = [];
  const seen = new Map<string, number>();
  for (const s of streams) {
    const labels = s.stream && typeof s.stream === "object" ? s.stream : {};
    const lkey = JSON.stringify(Object.entries(labels).sort());
    for (const v of Array.isArray(s.values) ? s.values : []) {
      if (!Array.isArray(v)) continue;
      const ns = String(v[0]);
      const line = typeof v[1] === "string" ? v[1] : String(v[1] ?? "");
      let big = 0n;
      try {
        big = BigInt(ns);
      } catch {
        // An unreadable time sorts as the epoch rather than hiding the line.
      }
      const key = `${ns}\u0000${lkey}\u0000${line}`;
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      out.push({ id: `${key}\u0000${n}`, ns, ms: Number(big / 1000000n), line, labels, big });
    }
  }
  const sign = direction === "backward" ? -1 : 1;
  out.sort((a, b) => (a.big === b.big ? 0 : a.big < b.big ? -sign : sign));
  return out.map(({ big: _, ...l }) => l);
}

/// The label sets of the streams `q` reads over `start..end`: undefined while asking, null when the server
/// cannot say (the lines' labels then all count as stream labels).
export function useStreams(q: string, start: number, end: number, tick: unknown): api.Labels[] | null | undefined {
  const [streams, setStreams] = useState<api.Labels[] | null | undefined>(undefined);
  useEffect(() => {
    const ctl = new AbortController();
    api.lokiSeries(q, start, end, ctl.signal).then(
      (s) => setStreams(Array.isArray(s) ? s.filter((l) => l && typeof l === "object") : null),
      (e: Error) => e.name !== "AbortError" && setStreams(null),
    );
    return () => ctl.abort();
  }, [q, start, end, tick]);
  return streams;
}

/// The stream label names, those whose values differ between streams, and the labels every stream has alike.
function streamLabels(streams: api.Labels[] | null | undefined): { names: Set<string> | null; differ: string[]; common: [string, string][] } {
  if (!streams) return { names: null, differ: [], common: [] };
  const sets = streams;
  const all = new Set<string>();
  for (const s of sets) for (const k of Object.keys(s)) all.add(k);
  const differ: string[] = [];
  const common: [string, string][] = [];
  for (const k of [...all].sort()) {
    const first = sets[0]?.[k];
    if (sets.every((s) => s[k] === first)) {
      if (first !== undefined) common.push([k, first]);
    } else differ.push(k);
  }
  return { names: all, differ, common };
}

const STRIPES = ["#3b82f6", "#22c55e", "#f59e0b", "#a855f7", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#14b8a6", "#ef4444"];
/// The longest line shown folded; the whole line shows when it is opened.
const FOLDED_CHARS = 2000;

function timeOf(l: LogLine): { day: string; time: string } {
  const d = new Date(l.ms);
  if (Number.isNaN(d.getTime())) return { day: "", time: l.ns };
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return { day: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`, time: `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}` };
}

function Marked({ text, needles }: { text: string; needles: RegExp[] }) {
  return (
    <>
      {highlight(text, needles).map((p) => (p.marked ? <mark>{p.text}</mark> : p.text))}
    </>
  );
}

export interface LogLinesProps {
  lines: LogLine[];
  /// Patterns to mark in the lines (the query's line filters).
  needles?: RegExp[];
  /// The streams' label sets (`useStreams`), to tell stream labels from fields and streams apart.
  streams?: api.Labels[] | null;
  /// Show the labels all streams share above the lines.
  common?: boolean;
  /// Offers buttons that add a label filter for a label of an opened line.
  onFilter?: (name: string, value: string, keep: boolean) => void;
}

export function LogLines({ lines, needles = [], streams, common, onFilter }: LogLinesProps) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  const info = streamLabels(streams);
  const stripe = new Map<string, string>();
  const streamKey = (l: LogLine) => info.differ.map((k) => l.labels[k] ?? "").join("\u0000");
  const toggle = (id: string) => {
    // Selecting text to copy it is not a click on the line.
    if (getSelection()?.toString()) return;
    const next = new Set(open);
    if (!next.delete(id)) next.add(id);
    setOpen(next);
  };
  return (
    <div class="loglines">
      {common && info.common.length > 0 && (
        <div class="log-common" title="Labels every stream of the result has">
          <span class="sub">Common labels</span>
          {info.common.map(([k, v]) => (
            <span class="tag">
              {k}={v}
            </span>
          ))}
        </div>
      )}
      {lines.map((l) => {
        const t = timeOf(l);
        const isOpen = open.has(l.id);
        const sk = streamKey(l);
        if (!stripe.has(sk)) stripe.set(sk, STRIPES[stripe.size % STRIPES.length]);
        const text = isOpen || l.line.length <= FOLDED_CHARS ? l.line : `${l.line.slice(0, FOLDED_CHARS)}…`;
        const entries = Object.entries(l.labels).sort(([a], [b]) => a.localeCompare(b));
        const isStream = (k: string) => !info.names || info.names.has(k);
        return (
          <div class={`log${isOpen ? " open" : ""}`} style={info.differ.length ? { borderLeftColor: stripe.get(sk) } : undefined} data-ns={l.ns}>
            <div
              class="log-row"
              role="button"
              tabIndex={0}
              aria-expanded={isOpen}
              onClick={() => toggle(l.id)}
              onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), toggle(l.id))}
            >
              <time class="num" title={`${ago(l.ms)} (${l.ns} ns)`}>
                <span class="log-day">{t.day} </span>
                {t.time}
              </time>
              {info.differ.map((k) => l.labels[k] !== undefined && <span class="log-chip" title={`${k}="${l.labels[k]}"`}>{l.labels[k]}</span>)}
              <span class="log-line">
                <Marked text={text} needles={needles} />
              </span>
            </div>
            {isOpen && (
              <div class="log-detail">
                {[true, false].map((stream) => {
                  const rows = entries.filter(([k]) => isStream(k) === stream);
                  if (!rows.length) return null;
                  return (
                    <table class="log-fields">
                      <caption>{stream ? "Stream labels" : "Fields"}</caption>
                      <tbody>
                        {rows.map(([k, v]) => (
                          <tr data-label={k}>
                            <th title={k}>{k}</th>
                            <td>{v}</td>
                            {onFilter && (
                              <td class="log-filter">
                                <button class="icon-btn small" title={`Keep lines with ${k}="${v}"`} aria-label={`Keep lines with ${k}="${v}"`} onClick={() => onFilter(k, v, true)}>
                                  +
                                </button>
                                <button class="icon-btn small" title={`Drop lines with ${k}="${v}"`} aria-label={`Drop lines with ${k}="${v}"`} onClick={() => onFilter(k, v, false)}>
                                  −
                                </button>
                              </td>
                            )}
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  );
                })}
                {entries.length === 0 && <div class="sub">This line has no labels.</div>}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
