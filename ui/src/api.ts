// The server's HTTP API as the UI uses it: Prometheus' query API, Loki's query API, alerts and dashboards.
// Every call rejects with an ApiError carrying the server's own message.

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly errorType = "") {
    super(message);
  }
}

export type Labels = Record<string, string>;
export interface InstantSample { metric: Labels; value: [number, string] }
export interface RangeSeries { metric: Labels; values: [number, string][] }
export type InstantResult =
  | { resultType: "vector"; result: InstantSample[] }
  | { resultType: "scalar" | "string"; result: [number, string] }
  | { resultType: "matrix"; result: RangeSeries[] };

/// A request to the API; `init` gives another method and a body (the ban list's POST and DELETE).
export async function call<T>(path: string, params: Record<string, string | string[]> = {}, signal?: AbortSignal, init: RequestInit = {}): Promise<T> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
  }
  const url = body.toString() ? `${path}?${body}` : path;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal, headers: { Accept: "application/json", ...(init.headers as Record<string, string> | undefined) } });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(`cannot reach the vigil server (${(e as Error).message})`, 0);
  }
  const text = await res.text();
  let json: { status?: string; data?: T; error?: string; errorType?: string } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // Loki's API answers errors as plain text.
  }
  if (!res.ok || !json || json.status === "error") {
    const message = json?.error ?? (text.trim() || `HTTP ${res.status}`);
    throw new ApiError(message, res.status, json?.errorType ?? "");
  }
  return json.data as T;
}

export function query(q: string, time?: number, signal?: AbortSignal): Promise<InstantResult> {
  const params: Record<string, string> = { query: q };
  if (time !== undefined) params.time = String(time);
  return call("/api/v1/query", params, signal);
}

export async function queryVector(q: string, time?: number, signal?: AbortSignal): Promise<InstantSample[]> {
  const r = await query(q, time, signal);
  if (r.resultType === "vector") return r.result;
  if (r.resultType === "scalar") return [{ metric: {}, value: r.result }];
  return [];
}

export async function queryRange(q: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<RangeSeries[]> {
  const r = await call<InstantResult>("/api/v1/query_range", { query: q, start: String(start), end: String(end), step: String(step) }, signal);
  return r.resultType === "matrix" ? r.result : [];
}

export function labelValues(label: string, match: string[] = [], signal?: AbortSignal): Promise<string[]> {
  const params: Record<string, string | string[]> = {};
  if (match.length) params["match[]"] = match;
  return call(`/api/v1/label/${encodeURIComponent(label)}/values`, params, signal);
}

export function labelNames(match: string[] = [], signal?: AbortSignal): Promise<string[]> {
  const params: Record<string, string | string[]> = {};
  if (match.length) params["match[]"] = match;
  return call("/api/v1/labels", params, signal);
}

export interface Alert { labels: Labels; annotations: Labels; state: string; activeAt?: string; value?: string }
export async function alerts(signal?: AbortSignal): Promise<Alert[]> {
  const data = await call<{ alerts: Alert[] }>("/api/v1/alerts", {}, signal);
  return data.alerts ?? [];
}

export interface BuildInfo { version: string; revision?: string; branch?: string; goVersion?: string }
export function buildInfo(): Promise<BuildInfo> {
  return call("/api/v1/status/buildinfo");
}

export interface LogStream { stream: Labels; values: [string, string][] }
export type Direction = "forward" | "backward";

/// Seconds as the nanosecond integer string Loki's API takes without guessing the unit.
export function nanos(seconds: number): string {
  return (BigInt(Math.round(seconds * 1000)) * 1000000n).toString();
}

/// A log query over `start..end` (nanosecond strings, end exclusive), `limit` lines from the given end.
export async function logsRange(q: string, start: string, end: string, limit: number, direction: Direction = "backward", signal?: AbortSignal): Promise<LogStream[]> {
  const data = await call<{ resultType: string; result: LogStream[] }>("/loki/api/v1/query_range", { query: q, start, end, limit: String(limit), direction }, signal);
  return data.resultType === "streams" && Array.isArray(data.result) ? data.result : [];
}

export function logs(q: string, start: number, end: number, limit: number, signal?: AbortSignal): Promise<LogStream[]> {
  return logsRange(q, nanos(start), nanos(end), limit, "backward", signal);
}

/// A LogQL metric query at one time, answered like Prometheus' instant query.
export function lokiQuery(q: string, time?: number, signal?: AbortSignal): Promise<InstantResult> {
  const params: Record<string, string> = { query: q };
  if (time !== undefined) params.time = nanos(time);
  return call("/loki/api/v1/query", params, signal);
}

export async function lokiQueryRange(q: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<RangeSeries[]> {
  const r = await call<InstantResult>("/loki/api/v1/query_range", { query: q, start: nanos(start), end: nanos(end), step: String(step) }, signal);
  return r.resultType === "matrix" && Array.isArray(r.result) ? r.result : [];
}

function lokiRange(start?: number, end?: number, query?: string): Record<string, string> {
  const params: Record<string, string> = {};
  if (start !== undefined) params.start = nanos(start);
  if (end !== undefined) params.end = nanos(end);
  if (query) params.query = query;
  return params;
}

/// Stream label names; `query` (a stream selector) narrows them to its streams.
export function lokiLabels(start?: number, end?: number, query?: string, signal?: AbortSignal): Promise<string[]> {
  return call("/loki/api/v1/labels", lokiRange(start, end, query), signal);
}

export function lokiLabelValues(name: string, start?: number, end?: number, query?: string, signal?: AbortSignal): Promise<string[]> {
  return call(`/loki/api/v1/label/${encodeURIComponent(name)}/values`, lokiRange(start, end, query), signal);
}

/// The label sets of the streams a log query reads (its pipeline is ignored).
export function lokiSeries(query: string, start: number, end: number, signal?: AbortSignal): Promise<Labels[]> {
  return call("/loki/api/v1/series", { "match[]": query, start: nanos(start), end: nanos(end) }, signal);
}

export interface DashboardSummary { id: string; title: string; source: string; file?: string; error?: string }
export function dashboards(): Promise<DashboardSummary[]> {
  return call("/api/v1/dashboards");
}

export type Unit = "percent" | "bytes" | "bytes/s" | "seconds" | "short";
export type Color = "green" | "blue" | "yellow" | "orange" | "red" | "purple" | "gray";
export interface Threshold { value: number; color: Color }
export interface PanelQuery { query: string; legend: string }
export interface Panel {
  title: string;
  type: "timeseries" | "stat" | "logs";
  description?: string;
  queries: PanelQuery[];
  unit: Unit;
  thresholds: Threshold[];
  width: number;
  stack: boolean;
  min?: number;
  max?: number;
  limit: number;
}
export interface Row { title: string; collapsed: boolean; panels: Panel[] }
export interface Variable { name: string; label: string; match: string; label_name: string; hide: boolean }
export interface Dashboard { id: string; title: string; description?: string; variables: Variable[]; rows: Row[] }
export function dashboard(id: string): Promise<Dashboard> {
  return call(`/api/v1/dashboards/${encodeURIComponent(id)}`);
}
