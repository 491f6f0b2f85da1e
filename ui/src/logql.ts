// LogQL as the UI reads it, without a full parser: whether a query selects lines or computes numbers, the
// strings its line filters look for (to highlight them), the volume query over it, label filters to add, and
// completion of stream labels, their values, pipeline stages and functions.
import * as api from "./api";
import type { Completion, Suggestion } from "./editor";

interface Token { kind: "string" | "op" | "ident" | "other"; text: string; value: string; at: number }

/// Go's double-quoted string (JSON's escapes are a subset); the raw text when it is not valid JSON.
function unquote(raw: string): string {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === "string" ? v : raw.slice(1, -1);
  } catch {
    return raw.slice(1, -1);
  }
}

const OPS = ["|=", "|~", "!=", "!~", "=~", "==", ">=", "<="];

/// The tokens of `q`; an unterminated string runs to the end. Comments (`#` to the end of the line) are dropped.
export function tokens(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      const nl = q.indexOf("\n", i);
      i = nl < 0 ? q.length : nl + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < q.length && q[j] !== '"') j += q[j] === "\\" ? 2 : 1;
      const raw = q.slice(i, Math.min(j + 1, q.length));
      out.push({ kind: "string", text: raw, value: j < q.length ? unquote(raw) : raw.slice(1), at: i });
      i = j + 1;
    } else if (c === "`") {
      const j = q.indexOf("`", i + 1);
      const end = j < 0 ? q.length : j;
      out.push({ kind: "string", text: q.slice(i, end + 1), value: q.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (OPS.includes(q.slice(i, i + 2))) {
      out.push({ kind: "op", text: q.slice(i, i + 2), value: q.slice(i, i + 2), at: i });
      i += 2;
    } else if (/[a-zA-Z_]/.test(c)) {
      const m = /^[a-zA-Z_][a-zA-Z0-9_.]*/.exec(q.slice(i))![0];
      out.push({ kind: "ident", text: m, value: m, at: i });
      i += m.length;
    } else {
      out.push({ kind: "other", text: c, value: c, at: i });
      i++;
    }
  }
  return out;
}

/// Whether `q` is a log query (a stream selector and a pipeline), not a metric query.
export function isLogQuery(q: string): boolean {
  const t = tokens(q);
  let i = 0;
  while (t[i]?.text === "(") i++;
  return t[i]?.text === "{";
}

/// The first stream selector in `q` (`{...}`), or "" when it has none yet.
export function selectorOf(q: string): string {
  const t = tokens(q);
  const open = t.findIndex((x) => x.text === "{");
  const close = t.findIndex((x, i) => i > open && x.text === "}");
  return open >= 0 && close > open ? q.slice(t[open].at, t[close].at + 1) : "";
}

/// Go's RE2 syntax where JavaScript's differs: `(?P<name>` groups and a leading `(?i)` flag.
function regexOf(pattern: string): RegExp | null {
  let flags = "g";
  let p = pattern;
  if (p.startsWith("(?i)")) {
    flags += "i";
    p = p.slice(4);
  }
  p = p.replace(/\(\?P</g, "(?<");
  if (!p) return null;
  try {
    return new RegExp(p, flags);
  } catch {
    return null;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/// The patterns of the line filters that keep matching lines (`|= "x"`, `|~ "re"`, with their `or` alternatives).
export function lineNeedles(q: string): RegExp[] {
  const t = tokens(q);
  const out: RegExp[] = [];
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i].text === "{") depth++;
    else if (t[i].text === "}") depth = Math.max(0, depth - 1);
    if (depth > 0 || (t[i].text !== "|=" && t[i].text !== "|~")) continue;
    const regex = t[i].text === "|~";
    let j = i + 1;
    while (t[j]?.kind === "string") {
      const v = t[j].value;
      const re = regex ? regexOf(v) : v ? new RegExp(escapeRegex(v), "g") : null;
      if (re) out.push(re);
      if (t[j + 1]?.text === "or" && t[j + 2]?.kind === "string") j += 2;
      else break;
    }
  }
  return out;
}

/// The line's parts, with `marked` set on the parts some needle matches (overlapping matches merged).
export function highlight(line: string, needles: RegExp[]): { text: string; marked: boolean }[] {
  const ranges: [number, number][] = [];
  for (const re of needles) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (ranges.length < 1000 && (m = re.exec(line))) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      ranges.push([m.index, m.index + m[0].length]);
    }
  }
  if (!ranges.length) return [{ text: line, marked: false }];
  ranges.sort((a, b) => a[0] - b[0]);
  const parts: { text: string; marked: boolean }[] = [];
  let pos = 0;
  let [s, e] = ranges[0];
  const flush = () => {
    if (s > pos) parts.push({ text: line.slice(pos, s), marked: false });
    parts.push({ text: line.slice(s, e), marked: true });
    pos = e;
  };
  for (const [a, b] of ranges.slice(1)) {
    if (a <= e) e = Math.max(e, b);
    else {
      flush();
      [s, e] = [a, b];
    }
  }
  flush();
  if (pos < line.length) parts.push({ text: line.slice(pos), marked: false });
  return parts;
}

/// How many lines per level the log query `q` matched, in windows of `step` seconds.
export function volumeQuery(q: string, step: number): string {
  return `sum by (level) (count_over_time(${q.trim()} [${step}s]))`;
}

/// `q` with a label filter keeping (or dropping) the lines whose `name` is `value`.
export function withLabelFilter(q: string, name: string, value: string, keep: boolean): string {
  return `${q.trim()} | ${name}${keep ? "=" : "!="}${JSON.stringify(value)}`;
}

const STAGES = "json logfmt pattern regexp unpack line_format label_format unwrap decolorize drop keep".split(" ");
const FUNCTIONS =
  "rate count_over_time bytes_rate bytes_over_time sum_over_time avg_over_time max_over_time min_over_time first_over_time last_over_time stdvar_over_time stddev_over_time quantile_over_time absent_over_time rate_counter sum avg min max count stddev stdvar topk bottomk sort sort_desc vector label_replace".split(
    " ",
  );

interface Scan { selector: number; string: number; pipe: number }

/// Where `before` (the text before the cursor) ends: inside a selector's braces (`selector` is the brace's
/// index), inside a string (its opening quote), and the last pipe outside both.
function scan(before: string): Scan {
  const st: Scan = { selector: -1, string: -1, pipe: -1 };
  let quote = "";
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (st.string >= 0) {
      if (quote === '"' && c === "\\") i++;
      else if (c === quote) st.string = -1;
    } else if (c === '"' || c === "`") {
      st.string = i;
      quote = c;
    } else if (c === "#") {
      const nl = before.indexOf("\n", i);
      i = nl < 0 ? before.length : nl;
    } else if (c === "{") st.selector = i;
    else if (c === "}") st.selector = -1;
    else if (c === "|" && st.selector < 0) st.pipe = i;
  }
  return st;
}

const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g;

function filter(words: string[], prefix: string, kind: Suggestion["kind"]): Suggestion[] {
  return words.filter((w) => w.startsWith(prefix) && w !== prefix).map((text) => ({ text, kind }));
}

export interface LogqlContext {
  start: number;
  end: number;
  /// Label names seen on the lines of the last result (stream labels, structured metadata, parsed labels).
  fields: () => string[];
}

/// LogQL completion over the Loki label endpoints for the range in `ctx`; answers are cached per completer.
export function logqlCompleter(ctx: LogqlContext): (text: string, cursor: number) => Promise<Completion> {
  const cache = new Map<string, Promise<string[]>>();
  const cached = (key: string, f: () => Promise<string[]>) => {
    let p = cache.get(key);
    if (!p) {
      p = f().then((v) => (Array.isArray(v) ? v : []), () => []);
      cache.set(key, p);
    }
    return p;
  };
  const names = () => cached("\u0000", () => api.lokiLabels(ctx.start, ctx.end));
  // Fields (structured metadata) are no stream labels: a few of the selector's lines tell which there are.
  const labels = async (text: string) => {
    const sel = selectorOf(text);
    const sample = sel
      ? cached(`\u0001${sel}`, async () => {
          const streams = await api.logsRange(sel, api.nanos(ctx.start), api.nanos(ctx.end), 50);
          return [...new Set(streams.flatMap((s) => Object.keys(s.stream ?? {})))];
        })
      : Promise.resolve([]);
    const [a, b] = await Promise.all([names(), sample]);
    return [...new Set([...ctx.fields(), ...a, ...b])].sort();
  };
  return async (text, cursor) => {
    const before = text.slice(0, cursor);
    const st = scan(before);
    if (st.selector >= 0) {
      const inner = before.slice(st.selector + 1);
      const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"\\]*)$/.exec(inner);
      if (value && st.string >= 0) {
        // The matchers already complete narrow the values; a selector Loki refuses (all negative) does not.
        const done = [...inner.slice(0, value.index).matchAll(MATCHER)].map((m) => m[0]);
        const sel = done.length ? `{${done.join(",")}}` : "";
        const vals = await cached(`${value[1]}\u0000${sel}`, () =>
          sel ? api.lokiLabelValues(value[1], ctx.start, ctx.end, sel).catch(() => api.lokiLabelValues(value[1], ctx.start, ctx.end)) : api.lokiLabelValues(value[1], ctx.start, ctx.end),
        );
        const prefix = value[3];
        return { from: cursor - prefix.length, items: vals.filter((v) => v.startsWith(prefix)).slice(0, 50).map((v) => ({ text: v, kind: "value" })) };
      }
      const name = /(^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(inner);
      if (st.string < 0 && name) {
        const prefix = name[2] ?? "";
        return { from: cursor - prefix.length, items: filter(await names(), prefix, "label").slice(0, 50) };
      }
      return { from: cursor, items: [] };
    }
    if (st.string >= 0) return { from: cursor, items: [] };
    const word = /([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(before)?.[1] ?? "";
    const from = cursor - word.length;
    // After a pipe: a stage, or a label to filter on.
    if (st.pipe >= 0 && /^\s*[a-zA-Z_]*$/.test(before.slice(st.pipe + 1))) {
      return { from, items: [...filter(STAGES, word, "keyword"), ...filter(await labels(text), word, "label")].slice(0, 50) };
    }
    if (/\b(by|without)\s*\([^)]*$/.test(before) || /\|\s*unwrap\s+[a-zA-Z_]*$/.test(before)) {
      return { from, items: filter(await labels(text), word, "label").slice(0, 50) };
    }
    if (!word) return { from: cursor, items: [] };
    return { from, items: [...filter(FUNCTIONS, word, "function"), ...filter(["by", "without"], word, "keyword")].slice(0, 50) };
  };
}
