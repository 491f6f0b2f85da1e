// Pieces the security page's sections share: loading with abort, the time window, counts and relative times,
// the outcome badge, and a table of security records whose rows open on their raw line and fields.
import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { SecEvent } from "../api-security";
import { formatValue, timeString, ago } from "../format";

/// The page's time window in seconds, resolved once per load so that every section asks about the same span.
export interface Window { start: number; end: number }

/// Runs `load` when `deps` change; keeps the last answer while the next one loads, so refreshes do not flicker.
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data: T | null; error: string } {
  const [state, setState] = useState<{ data: T | null; error: string }>({ data: null, error: "" });
  useEffect(() => {
    const ctl = new AbortController();
    load(ctl.signal).then(
      (data) => setState({ data, error: "" }),
      (e: Error) => {
        if (e.name !== "AbortError") setState((s) => ({ data: s.data, error: e.message }));
      },
    );
    return () => ctl.abort();
  }, deps);
  return state;
}

/// A clock for relative times ("in 3h 20m") that moves while the page stays open.
export function useNow(everyMs = 15000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

/// A count as people read it: exact up to 9999, then 12.3k.
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return Math.abs(n) < 10000 ? String(Math.round(n)) : formatValue(n);
}

/// `3h 20m`, `45s`, `2d 4h`: a span of whole seconds, two units at most.
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)}m` : ""}`;
  return `${Math.floor(s / 86400)}d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)}h` : ""}`;
}

/// The whole seconds of the window, for LogQL ranges (`[3600s]`).
export function rangeSeconds(w: Window): number {
  return Math.max(1, Math.round(w.end - w.start));
}

export function Outcome({ value }: { value: string | undefined }) {
  const v = value || "unknown";
  return <span class={`outcome o-${v === "failure" || v === "success" ? v : "unknown"}`}>{v}</span>;
}

/// A record's time: the time of day for today's, the full date before.
export function When({ ms }: { ms: number }) {
  if (!Number.isFinite(ms)) return <span class="muted">–</span>;
  const full = timeString(ms);
  const today = new Date(ms).toDateString() === new Date().toDateString();
  return (
    <time dateTime={new Date(ms).toISOString()} title={`${full}, ${ago(ms)}`}>
      {today ? full.slice(11) : full}
    </time>
  );
}

export interface Column { head: string; cls?: string; cell: (e: SecEvent) => ComponentChildren }

/// Records as table rows, newest first; a row opens on the line as read and every field the record has.
export function EventTable({ rows, columns, empty, cls, limit }: { rows: SecEvent[]; columns: Column[]; empty: string; cls: string; limit?: number }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  const toggle = (key: string) =>
    setOpen((o) => {
      const n = new Set(o);
      if (n.has(key)) n.delete(key);
      else n.add(key);
      return n;
    });
  const width = columns.length + 2;
  return (
    <div class="table-wrap">
      <table class={`sec-table ${cls}`}>
        <thead>
          <tr>
            <th class="expand-col" aria-label="Details" />
            <th>Time</th>
            {columns.map((c) => (
              <th class={c.cls}>{c.head}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={width} class="empty-cell">
                {empty}
              </td>
            </tr>
          )}
          {rows.map((e) => {
            const isOpen = open.has(e.key);
            return (
              <Fragment key={e.key}>
                <tr class={`sec-row${isOpen ? " open" : ""}`} data-action={e.fields.event_action ?? ""} data-outcome={e.fields.event_outcome ?? ""} onClick={() => getSelection()?.toString() || toggle(e.key)}>
                  <td class="expand-col">
                    <button
                      class="expander"
                      aria-expanded={isOpen}
                      aria-label={isOpen ? "Hide the raw line" : "Show the raw line"}
                      onClick={(ev) => {
                        ev.stopPropagation();
                        toggle(e.key);
                      }}
                    >
                      {isOpen ? "▾" : "▸"}
                    </button>
                  </td>
                  <td>
                    <When ms={e.ms} />
                  </td>
                  {columns.map((c) => (
                    <td class={c.cls}>{c.cell(e)}</td>
                  ))}
                </tr>
                {isOpen && (
                  <tr class="sec-detail">
                    <td colSpan={width}>
                      <pre class="sec-raw">{e.line}</pre>
                      <div class="log-labels">
                        {Object.entries(e.fields)
                          .sort(([a], [b]) => a.localeCompare(b))
                          .map(([k, v]) => (
                            <span class="tag">
                              {k}={v}
                            </span>
                          ))}
                      </div>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
      {limit !== undefined && rows.length >= limit && <p class="foot sec-more">Showing the latest {limit}; narrow the time range or the filters to see older ones.</p>}
    </div>
  );
}
