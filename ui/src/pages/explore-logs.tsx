// Explore's answer to a LogQL log query: the volume histogram per level over the range (drag to zoom), the
// lines newest first with "load older", and live tail, which polls for new lines every second.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { align, TimeChart, type ChartData } from "../chart";
import { Empty, ErrorBox } from "../controls";
import { formatValue } from "../format";
import { LogLines, toLines, useStreams, type LogLine } from "../loglines";
import { lineNeedles, volumeQuery } from "../logql";
import { setParams } from "../route";
import { resolveRange, type Range } from "../time";

export const LIMITS = [100, 500, 1000, 5000];

/// Level names as programs spell them, to a color that reads as that level (the other levels are gray).
const LEVEL_COLORS: [RegExp, string][] = [
  [/^(emerg|alert|crit|critical|fatal|panic|err|error|eror)$/i, "#ef4444"],
  [/^(warn|warning)$/i, "#f59e0b"],
  [/^(info|information|informational|notice)$/i, "#22c55e"],
  [/^(debug|dbug)$/i, "#3b82f6"],
  [/^(trace)$/i, "#a855f7"],
];

function levelColor(level: string | undefined): string {
  if (level === undefined) return "#3b82f6";
  return LEVEL_COLORS.find(([re]) => re.test(level))?.[1] ?? "#64748b";
}

/// Most severe first, so errors are the bottom of each stacked bar; unknown levels last, by name.
function levelOrder(a: string | undefined, b: string | undefined): number {
  const rank = (l: string | undefined) => (l === undefined ? LEVEL_COLORS.length + 2 : LEVEL_COLORS.findIndex(([re]) => re.test(l)) + 1 || LEVEL_COLORS.length + 1);
  return rank(a) - rank(b) || (a ?? "").localeCompare(b ?? "");
}

function Volume({ q, start, end }: { q: string; start: number; end: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [data, setData] = useState<ChartData | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const width = ref.current?.clientWidth || 800;
    const bars = Math.max(10, Math.min(120, Math.floor(width / 10)));
    const step = Math.max(1, Math.ceil((end - start) / bars));
    const s = Math.floor(start / step) * step;
    const e = Math.ceil(end / step) * step;
    const ctl = new AbortController();
    setData(null);
    api.lokiQueryRange(volumeQuery(q, step), s, e, step, ctl.signal).then(
      (r) => {
        const leveled = r.some((x) => x.metric?.level !== undefined);
        const series = r
          .slice(0, 20)
          .map((x) => ({ level: x.metric?.level, values: Array.isArray(x.values) ? x.values : [] }))
          .sort((a, b) => levelOrder(a.level, b.level))
          .map((x) => ({ name: x.level ?? (leveled ? "no level" : "lines"), values: x.values, color: levelColor(x.level) }));
        const d = align(s, e, step, series);
        d.series.forEach((x, i) => (x.color = series[i].color));
        setData(d);
        setError("");
      },
      (err: Error) => err.name !== "AbortError" && setError(err.message),
    );
    return () => ctl.abort();
  }, [q, start, end]);
  const total = data ? data.series.reduce((n, s) => n + s.values.reduce<number>((m, v) => m + (v ?? 0), 0), 0) : null;
  const zoom = (a: number, b: number) => setParams({ from: String(a * 1000), to: String(b * 1000) });
  return (
    <div class="volume" ref={ref}>
      <div class="volume-head">
        <span>Log volume</span>
        {total !== null && <span class="sub num">{total < 1e6 ? Math.round(total).toLocaleString() : formatValue(total)} lines in the range</span>}
      </div>
      {error ? (
        <div class="sub" role="status">
          No volume histogram: {error}
        </div>
      ) : !data ? (
        <div class="chart-placeholder short" />
      ) : total === 0 ? (
        <div class="sub">No lines in this range.</div>
      ) : (
        <TimeChart data={data} unit="short" height={120} bars stack min={0} onZoom={zoom} />
      )}
    </div>
  );
}

interface TailState { last: string; seen: Set<string>; buf: LogLine[]; labelSets: Set<string> }

const TAIL_LINES = 1000;
const TAIL_BATCH = 500;

function LiveTail({ q, needles, onFilter, onStop }: { q: string; needles: RegExp[]; onFilter?: (n: string, v: string, keep: boolean) => void; onStop: () => void }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState("");
  const [stick, setStick] = useState(true);
  // A new label set asks the server again which labels are the streams'.
  const [seenSets, setSeenSets] = useState(0);
  const began = useMemo(() => Date.now() / 1000, []);
  const streamsEnd = useMemo(() => Date.now() / 1000 + 1, [seenSets]);
  const streams = useStreams(q, began - 3600, streamsEnd, seenSets);
  const st = useRef<TailState>({ last: "", seen: new Set(), buf: [], labelSets: new Set() });
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (paused) return;
    const ctl = new AbortController();
    let busy = false;
    const poll = async () => {
      if (busy || document.visibilityState !== "visible") return;
      busy = true;
      const s = st.current;
      const now = Date.now() / 1000;
      try {
        let batch: LogLine[];
        if (!s.last) {
          // The first poll shows the last lines of the hour before, for context.
          batch = toLines(await api.logsRange(q, api.nanos(now - 3600), api.nanos(now), 100, "backward", ctl.signal), "forward");
        } else {
          const end = BigInt(api.nanos(now));
          const from = BigInt(s.last);
          batch = toLines(await api.logsRange(q, s.last, (end > from ? end : from + 1n).toString(), TAIL_BATCH, "forward", ctl.signal), "forward");
        }
        const fresh = batch.filter((l) => !s.seen.has(l.id));
        if (batch.length) s.last = batch[batch.length - 1].ns;
        else if (!s.last) s.last = api.nanos(now);
        // A full batch of lines already seen (all at one time) would stop the tail: step past that time.
        if (!fresh.length && batch.length >= TAIL_BATCH) s.last = (BigInt(s.last) + 1n).toString();
        if (fresh.length) {
          for (const l of fresh) s.seen.add(l.id);
          s.buf = s.buf.concat(fresh);
          if (s.buf.length > TAIL_LINES) {
            for (const l of s.buf.slice(0, s.buf.length - TAIL_LINES)) s.seen.delete(l.id);
            s.buf = s.buf.slice(-TAIL_LINES);
          }
          setLines(s.buf);
          const before = s.labelSets.size;
          for (const l of fresh) s.labelSets.add(JSON.stringify(Object.keys(l.labels).sort()));
          if (s.labelSets.size !== before) setSeenSets((n) => n + 1);
        }
        setError("");
      } catch (e) {
        if ((e as Error).name !== "AbortError") setError((e as Error).message);
      } finally {
        busy = false;
      }
    };
    poll();
    const id = setInterval(poll, 1000);
    return () => {
      clearInterval(id);
      ctl.abort();
    };
  }, [q, paused]);

  // Keep the newest line in view unless the user scrolled up to read.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && stick) el.scrollTop = el.scrollHeight;
  }, [lines, stick]);
  const onScroll = () => {
    const el = box.current;
    if (el) setStick(el.scrollHeight - el.scrollTop - el.clientHeight < 24);
  };

  return (
    <div class="tail">
      <div class="tail-head">
        <span class={`live-dot${paused ? " paused" : ""}`} aria-hidden="true" />
        <span role="status">{paused ? "Paused" : "Live"}: {lines.length} {lines.length === 1 ? "line" : "lines"}{lines.length >= TAIL_LINES ? ` (the last ${TAIL_LINES})` : ""}, new ones every second</span>
        <span class="grow" />
        {!stick && (
          <button class="btn" onClick={() => setStick(true)}>
            ↓ Newest
          </button>
        )}
        <button class="btn" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? "▶ Resume" : "❚❚ Pause"}
        </button>
        <button class="btn" onClick={onStop}>
          ■ Stop
        </button>
      </div>
      {error && <ErrorBox error={error} hint="Live tail keeps trying every second." />}
      <div class="logs tail-lines" ref={box} onScroll={onScroll}>
        {lines.length === 0 ? <Empty>Waiting for lines…</Empty> : <LogLines lines={lines} needles={needles} streams={streams} onFilter={onFilter} />}
      </div>
    </div>
  );
}

export interface LogsViewProps {
  q: string;
  range: Range;
  tick: number;
  limit: number;
  onFilter: (name: string, value: string, keep: boolean) => void;
  /// Told the label names of the lines shown, for completion.
  onFields: (names: string[]) => void;
}

export function LogsView({ q, range, tick, limit, onFilter, onFields }: LogsViewProps) {
  const [tail, setTail] = useState(false);
  // Stopping live tail reads the range again, up to now.
  const { start, end } = useMemo(() => resolveRange(range), [range.from, range.to, tick, tail]);
  const needles = useMemo(() => lineNeedles(q), [q]);
  const streams = useStreams(q, start, end, tick);
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const [error, setError] = useState("");
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const pending = useRef<AbortController | null>(null);

  const fields = (l: LogLine[]) => onFields([...new Set(l.flatMap((x) => Object.keys(x.labels)))]);
  useEffect(() => {
    if (tail) return;
    const ctl = new AbortController();
    pending.current = ctl;
    setLines(null);
    setError("");
    api.logsRange(q, api.nanos(start), api.nanos(end), limit, "backward", ctl.signal).then(
      (s) => {
        const l = toLines(s);
        setLines(l);
        setMore(l.length >= limit);
        fields(l);
      },
      (e: Error) => e.name !== "AbortError" && setError(e.message),
    );
    return () => ctl.abort();
  }, [q, start, end, limit, tail]);

  const older = async () => {
    const ctl = pending.current;
    if (!lines?.length || !ctl) return;
    setLoading(true);
    try {
      const have = new Set(lines.map((l) => l.id));
      const oldest = BigInt(lines[lines.length - 1].ns);
      // The end is exclusive: ask again for the oldest line's time, whose lines may not all have fit.
      let page = toLines(await api.logsRange(q, api.nanos(start), (oldest + 1n).toString(), limit, "backward", ctl.signal));
      let fresh = page.filter((l) => !have.has(l.id));
      if (!fresh.length && page.length >= limit) {
        page = toLines(await api.logsRange(q, api.nanos(start), oldest.toString(), limit, "backward", ctl.signal));
        fresh = page.filter((l) => !have.has(l.id));
      }
      if (ctl.signal.aborted) return;
      const next = lines.concat(fresh);
      setLines(next);
      setMore(page.length >= limit && fresh.length > 0);
      fields(next);
    } catch (e) {
      if ((e as Error).name !== "AbortError") setError((e as Error).message);
    } finally {
      setLoading(false);
    }
  };

  return (
    <div class="logs-view">
      {!tail && (
        <div class="logs-bar">
          <label class="limit" title="How many lines to read at a time">
            Lines
            <select value={String(limit)} onChange={(e) => setParams({ limit: (e.target as HTMLSelectElement).value }, true)}>
              {[...new Set([...LIMITS, limit])].sort((a, b) => a - b).map((n) => (
                <option value={String(n)}>{n}</option>
              ))}
            </select>
          </label>
          <span class="grow" />
          <button class="btn live" onClick={() => setTail(true)} title="Show new lines as they arrive">
            <span class="live-dot" aria-hidden="true" /> Live tail
          </button>
        </div>
      )}
      {tail ? (
        <LiveTail q={q} needles={needles} onFilter={onFilter} onStop={() => setTail(false)} />
      ) : (
        <>
          <Volume q={q} start={start} end={end} />
          {error ? (
            <ErrorBox error={error} />
          ) : !lines ? (
            <div class="chart-placeholder" />
          ) : lines.length === 0 ? (
            <Empty>No lines match in this time range.</Empty>
          ) : (
            <>
              <div class="logs-count sub">
                {lines.length} {lines.length === 1 ? "line" : "lines"}, newest first{more ? "" : " (all the range has)"}
              </div>
              <div class="logs explore-lines">
                <LogLines lines={lines} needles={needles} streams={streams} common onFilter={onFilter} />
              </div>
              {more && (
                <button class="btn older" onClick={older} disabled={loading}>
                  {loading ? "Loading…" : `Load ${limit} older lines`}
                </button>
              )}
            </>
          )}
        </>
      )}
    </div>
  );
}
