// The security page's API: the guard's records in the log store (LogQL through Loki's query API, the ECS fields
// arriving as labels with `.` made `_`), and the fleet ban list (`/api/v1/bans`, docs/fleet-bans.md).
import { call, type InstantSample, type Labels, type LogStream, type RangeSeries } from "./api";

/// A LogQL string literal holding `s` exactly.
export function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

/// `s` as a regular expression matching itself.
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/// The security stream of one host or all. Parsed events carry their source's kind (`source="auth"`,
/// `"journal"`, `"audit"`); bans, unbans and intel matches are `source="guard"`. Access-log requests are left
/// out unless asked for: each is an event, and none is an authentication.
export function streams(host: string, source = ""): string {
  const src = source ? `source=${quote(source)}` : `source!="access"`;
  return `{job="security", ${src}${host ? `, host=${quote(host)}` : ""}}`;
}

/// One record of the security stream: its time, its line as read and its fields (the stream's labels with the
/// entry's ECS fields, `event_action`, `source_ip`...).
export interface SecEvent { key: string; ms: number; ns: string; line: string; fields: Labels }

/// Up to `limit` records of a log query, newest first, from every stream merged.
export async function events(q: string, start: number, end: number, limit: number, signal?: AbortSignal): Promise<SecEvent[]> {
  const ns = (s: number) => BigInt(Math.round(s * 1000)) * 1000000n;
  const data = await call<{ resultType?: string; result?: LogStream[] }>(
    "/loki/api/v1/query_range",
    { query: q, start: String(ns(start)), end: String(ns(end)), limit: String(limit), direction: "backward" },
    signal,
  );
  const out: SecEvent[] = [];
  const seen = new Map<string, number>();
  for (const s of data.resultType === "streams" && Array.isArray(data.result) ? data.result : []) {
    for (const v of Array.isArray(s.values) ? s.values : []) {
      const tsNs = String(v?.[0] ?? "");
      const line = String(v?.[1] ?? "");
      // Identical lines at the same nanosecond (a burst of failures) still need keys of their own.
      const base = `${tsNs}\u0000${s.stream?.host ?? ""}\u0000${line}`;
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const ms = /^\d{7,}$/.test(tsNs) ? Number(tsNs.slice(0, -6)) : NaN;
      out.push({ key: `${base}\u0000${n}`, ms, ns: tsNs, line, fields: s.stream ?? {} });
    }
  }
  out.sort((a, b) => (b.ns.length - a.ns.length) || (b.ns < a.ns ? -1 : b.ns > a.ns ? 1 : 0));
  return out.slice(0, limit);
}

/// A LogQL metric query at one time (seconds).
export async function logVector(q: string, time: number, signal?: AbortSignal): Promise<InstantSample[]> {
  const data = await call<{ resultType?: string; result?: InstantSample[] }>("/loki/api/v1/query", { query: q, time: time.toFixed(3) }, signal);
  return data.resultType === "vector" && Array.isArray(data.result) ? data.result : [];
}

/// A LogQL metric query over `start..end` (seconds) every `step` seconds.
export async function logMatrix(q: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<RangeSeries[]> {
  const data = await call<{ resultType?: string; result?: RangeSeries[] }>(
    "/loki/api/v1/query_range",
    { query: q, start: start.toFixed(3), end: end.toFixed(3), step: String(step) },
    signal,
  );
  return data.resultType === "matrix" && Array.isArray(data.result) ? data.result : [];
}

/// The hosts with security records between `start` and `end` (seconds).
export function hosts(start: number, end: number, signal?: AbortSignal): Promise<string[]> {
  return call<string[]>("/loki/api/v1/label/host/values", { query: '{job="security"}', start: start.toFixed(3), end: end.toFixed(3) }, signal).then((h) =>
    Array.isArray(h) ? h : [],
  );
}

/// A fleet-wide ban, as `GET /api/v1/bans` lists it.
export interface Ban { ip: string; jail: string; origin: string; reason: string; created_at: string; expires_at: string | null; count: number }

export async function bans(signal?: AbortSignal): Promise<Ban[]> {
  const data = await call<{ bans?: Partial<Ban>[] }>("/api/v1/bans", {}, signal);
  return (Array.isArray(data?.bans) ? data.bans : []).map((b) => ({
    ip: String(b.ip ?? ""),
    jail: String(b.jail ?? ""),
    origin: String(b.origin ?? ""),
    reason: String(b.reason ?? ""),
    created_at: String(b.created_at ?? ""),
    expires_at: b.expires_at === null || b.expires_at === undefined ? null : String(b.expires_at),
    count: Number(b.count ?? 1),
  }));
}

/// Bans `ip` on every host for `duration` (`"1h"`, `"never"`...); the server's message on refusal.
export async function ban(ip: string, duration: string, reason: string): Promise<Ban> {
  const body: Record<string, string> = { ip, duration };
  if (reason) body.reason = reason;
  const data = await call<{ ban: Ban }>("/api/v1/bans", {}, undefined, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return data.ban;
}

export async function unban(ip: string): Promise<void> {
  await call(`/api/v1/bans/${encodeURIComponent(ip)}`, {}, undefined, { method: "DELETE" });
}
