// Label matchers as the alerts page reads them: the filter box (`severity="critical"`, `team=~"db|web"` and free
// words, all of which must match) and silences' matchers, with Alertmanager's meaning: regexes are anchored and
// a missing label matches as the empty string.
import type { Labels } from "./api";
import type { SilenceMatcher } from "./api-alerting";

export type Op = "=" | "!=" | "=~" | "!~";
export const OPS: Op[] = ["=", "!=", "=~", "!~"];
export interface Matcher { name: string; op: Op; value: string }
export interface Filter { matchers: Matcher[]; words: string[]; error: string }

export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"?|[^\s,{}"]*)/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"?/y;
const WORD = /[^\s,{}]+/y;

function unquote(v: string): string {
  if (!v.startsWith('"')) return v;
  const closed = v.length > 1 && v.endsWith('"') ? v : `${v}"`;
  try {
    return JSON.parse(closed);
  } catch {
    return closed.slice(1, -1);
  }
}

function sticky(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

/// The terms of the filter box; a regex that does not compile is reported in `error`, and its matcher dropped.
export function parseFilter(text: string): Filter {
  const f: Filter = { matchers: [], words: [], error: "" };
  let i = 0;
  while (i < text.length) {
    if (/[\s,{}]/.test(text[i])) {
      i++;
      continue;
    }
    const m = sticky(MATCHER, text, i);
    if (m) {
      const matcher = { name: m[1], op: m[2] as Op, value: unquote(m[3]) };
      const bad = regexError(matcher);
      if (bad) f.error ||= bad;
      else f.matchers.push(matcher);
      i = MATCHER.lastIndex;
      continue;
    }
    const q = text[i] === '"' ? sticky(QUOTED, text, i) : null;
    const w = q ?? sticky(WORD, text, i);
    if (!w) break;
    const word = (q ? unquote(w[0]) : w[0]).toLowerCase();
    if (word) f.words.push(word);
    i += w[0].length;
  }
  return f;
}

const regexCache = new Map<string, RegExp | string>();

/// Anchored as Prometheus and Alertmanager anchor them; the compile error's text when it does not compile.
function compile(value: string): RegExp | string {
  let re = regexCache.get(value);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${value})$`, "s");
    } catch (e) {
      re = (e as Error).message;
    }
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(value, re);
  }
  return re;
}

export function regexError(m: Matcher): string {
  if (m.op !== "=~" && m.op !== "!~") return "";
  const re = compile(m.value);
  return typeof re === "string" ? `${formatMatcher(m)}: ${re}` : "";
}

export function matches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? "";
  switch (m.op) {
    case "=":
      return v === m.value;
    case "!=":
      return v !== m.value;
    default: {
      const re = compile(m.value);
      const hit = typeof re !== "string" && re.test(v);
      return m.op === "=~" ? hit : !hit;
    }
  }
}

export function matchesAll(ms: Matcher[], labels: Labels): boolean {
  return ms.every((m) => matches(m, labels));
}

/// Whether an item passes the filter: every matcher on its labels, every word somewhere in its text.
export function passes(f: Filter, labels: Labels, text: string): boolean {
  if (!matchesAll(f.matchers, labels)) return false;
  const t = text.toLowerCase();
  return f.words.every((w) => t.includes(w));
}

/// The text free words search: every `name="value"` pair and every other value.
export function labelText(...sets: (Labels | undefined)[]): string {
  const parts: string[] = [];
  for (const s of sets) for (const [k, v] of Object.entries(s ?? {})) parts.push(`${k}="${v}"`);
  return parts.join(" ");
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

export function fromSilence(m: SilenceMatcher): Matcher {
  const op: Op = m.isRegex ? (m.isEqual === false ? "!~" : "=~") : m.isEqual === false ? "!=" : "=";
  return { name: String(m.name ?? ""), op, value: String(m.value ?? "") };
}

export function toSilence(m: Matcher): SilenceMatcher {
  return { name: m.name, value: m.value, isRegex: m.op === "=~" || m.op === "!~", isEqual: m.op === "=" || m.op === "=~" };
}
