// The alerting APIs the alerts page uses: Alertmanager's API v2 (alert groups, silences), Prometheus' rules and
// vigil's notification history. v2 answers bare JSON and its errors as a JSON string; both reject with an
// ApiError carrying the server's own message.
import { ApiError, call, type Labels } from "./api";

export interface AlertStatus { state: string; silencedBy: string[]; inhibitedBy: string[] }
export interface GettableAlert {
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  generatorURL: string;
  receivers: { name: string }[];
  status: AlertStatus;
}
export interface AlertGroup { labels: Labels; receiver: { name: string }; alerts: GettableAlert[] }

export interface SilenceMatcher { name: string; value: string; isRegex: boolean; isEqual: boolean }
export interface Silence {
  id: string;
  status: { state: string };
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
}
export interface PostableSilence { matchers: SilenceMatcher[]; startsAt: string; endsAt: string; createdBy: string; comment: string }

export interface RuleAlert { labels: Labels; annotations: Labels; state: string; activeAt: string; value: string }
export interface Rule {
  type: "alerting" | "recording";
  name: string;
  query: string;
  state?: string;
  duration?: number;
  labels?: Labels;
  annotations?: Labels;
  alerts?: RuleAlert[];
  health: string;
  lastError?: string;
  evaluationTime?: number;
  lastEvaluation?: string;
}
export interface RuleGroup { name: string; file: string; interval: number; evaluationTime?: number; lastEvaluation?: string; rules: Rule[] }

export interface Notification {
  at: string;
  receiver: string;
  integration: string;
  index: number;
  notificationId: number;
  groupKey: string;
  status: string;
  outcome: string;
  error?: string;
  attempts: number;
  /// Absent from servers older than this page.
  alerts?: { firing: number; resolved: number; alertnames: string[] };
}

/// One Alertmanager v2 request; `undefined` for an empty success body (DELETE answers nothing).
async function v2<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, signal, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(`cannot reach the vigil server (${(e as Error).message})`, 0);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Shown as text below.
  }
  if (!res.ok) {
    const message = typeof json === "string" ? json : text.trim() || `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    throw new ApiError(message, res.status);
  }
  return json as T;
}

export async function alertGroups(signal?: AbortSignal): Promise<AlertGroup[]> {
  // Suppressed alerts too: the page hides them itself, so it can count them and preview silences.
  const groups = await v2<AlertGroup[]>("GET", "/api/v2/alerts/groups?silenced=true&inhibited=true&active=true", undefined, signal);
  return Array.isArray(groups) ? groups : [];
}

export async function silences(signal?: AbortSignal): Promise<Silence[]> {
  const list = await v2<Silence[]>("GET", "/api/v2/silences", undefined, signal);
  return Array.isArray(list) ? list : [];
}

export async function createSilence(s: PostableSilence): Promise<string> {
  const r = await v2<{ silenceID?: string }>("POST", "/api/v2/silences", s);
  return r?.silenceID ?? "";
}

export async function expireSilence(id: string): Promise<void> {
  await v2("DELETE", `/api/v2/silence/${encodeURIComponent(id)}`);
}

export async function rules(signal?: AbortSignal): Promise<RuleGroup[]> {
  const data = await call<{ groups?: RuleGroup[] }>("/api/v1/rules", {}, signal);
  return data?.groups ?? [];
}

export async function notifications(limit: number, signal?: AbortSignal): Promise<Notification[]> {
  const data = await call<Notification[]>("/api/v1/notifications", { limit: String(limit) }, signal);
  return Array.isArray(data) ? data : [];
}
