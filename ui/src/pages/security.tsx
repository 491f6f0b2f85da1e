// The security page (`#/security`): over the URL's time range and host, a summary of the guard's records (failed
// and successful logins, sudo, bans, intel hits) with a histogram of auth outcomes, the recent auth events, the
// addresses failing most, the fleet-wide ban list with Ban and Unban, the jails' decisions and threat-intel hits.
import { useMemo, useState } from "preact/hooks";
import * as sec from "../api-security";
import { TimeChart, type ChartData } from "../chart";
import { ErrorBox, rangeFromParams, RefreshPicker, TimePicker, useTick } from "../controls";
import { setParams, type Route } from "../route";
import { resolveRange } from "../time";
import { ActiveBans, TopSources, type Prefill } from "./security-bans";
import { count, rangeSeconds, useLoad, type Window } from "./security-common";
import { AuthEvents, IntelHits, JailActivity } from "./security-events";

interface Counts { failed: number; success: number; sudo: number; sudoFailed: number; intel: number; jailBans: number }

/// Every security record of the window counted once, by kind, and folded into the summary's numbers.
async function counts(host: string, w: Window, signal: AbortSignal): Promise<Counts> {
  const q = `sum by (event_category, event_outcome, event_action, vigil_ban_origin) (count_over_time(${sec.streams(host)} [${rangeSeconds(w)}s]))`;
  const c: Counts = { failed: 0, success: 0, sudo: 0, sudoFailed: 0, intel: 0, jailBans: 0 };
  for (const s of await sec.logVector(q, w.end, signal)) {
    const n = Number(s.value?.[1]);
    if (!Number.isFinite(n)) continue;
    const { event_category: cat, event_outcome: outcome, event_action: action, vigil_ban_origin: origin } = s.metric;
    if (cat === "authentication" && outcome === "failure") c.failed += n;
    if (cat === "authentication" && outcome === "success") c.success += n;
    if (action === "sudo-command" || action === "user-command" || action === "sudo-auth-failure" || action === "sudo-not-allowed") {
      c.sudo += n;
      if (outcome === "failure") c.sudoFailed += n;
    }
    if (action === "threat-intel-match") c.intel += n;
    // The fleet list's own records of applied bans carry an origin; a jail's decision does not.
    if (action === "ban" && !origin) c.jailBans += n;
  }
  return c;
}

const STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/// Failed and successful authentications per bucket, about 60 buckets over the window, `x` at each middle.
async function histogram(host: string, w: Window, signal: AbortSignal): Promise<ChartData> {
  const want = (w.end - w.start) / 60;
  const step = STEPS.find((s) => s >= want) ?? Math.ceil(want / 86400) * 86400;
  const first = Math.floor(w.start / step) * step + step;
  const last = Math.ceil(w.end / step) * step;
  const q = `sum by (event_outcome) (count_over_time(${sec.streams(host)} | event_category="authentication" | event_outcome=~"failure|success" [${step}s]))`;
  const series = await sec.logMatrix(q, first, last, step, signal);
  const n = Math.floor((last - first) / step) + 1;
  const x = Array.from({ length: n }, (_, i) => first + i * step - step / 2);
  const values = (outcome: string) => {
    const v = new Array<number | null>(n).fill(0);
    for (const [t, val] of series.find((s) => s.metric.event_outcome === outcome)?.values ?? []) {
      const i = Math.round((Number(t) - first) / step);
      if (i >= 0 && i < n) v[i] = Number(val) || 0;
    }
    return v;
  };
  return { x, series: [{ name: "Failed", values: values("failure") }, { name: "Successful", values: values("success") }] };
}

function Stat({ id, label, value, sub, color, title }: { id: string; label: string; value: string; sub?: string; color?: string; title: string }) {
  return (
    <div class="sec-stat" data-stat={id} title={title}>
      <div class="sec-stat-label">{label}</div>
      <div class={`sec-stat-value num${color ? ` c-${color}` : ""}`}>{value}</div>
      {sub && <div class="sub">{sub}</div>}
    </div>
  );
}

const HIST_COLORS = ["--red", "--green"];

function Summary({ host, win, bans }: { host: string; win: Window; bans: sec.Ban[] | null }) {
  const c = useLoad((signal) => counts(host, win, signal), [host, win]);
  const h = useLoad((signal) => histogram(host, win, signal), [host, win]);
  const d = c.data;
  const manual = bans?.filter((b) => b.jail === "manual").length ?? 0;
  const zoom = (a: number, b: number) => setParams({ from: String(a * 1000), to: String(b * 1000) });
  const v = (n: number | undefined) => (d ? count(n) : "…");
  return (
    <div class="sec-summary">
      <div class="sec-stats">
        <Stat id="failed" label="Failed logins" value={v(d?.failed)} color={d?.failed ? "red" : undefined} title="Authentication failures in the range: ssh, PAM, su, sudo passwords (event.category=authentication, event.outcome=failure)" />
        <Stat id="success" label="Successful logins" value={v(d?.success)} color={d?.success ? "green" : undefined} title="Successful authentications in the range: ssh logins, su, audit logins" />
        <Stat id="sudo" label="sudo" value={v(d?.sudo)} sub={d ? `${count(d.sudoFailed)} failed` : undefined} color={d?.sudoFailed ? "orange" : undefined} title="Commands run with sudo, and sudo's refusals and wrong passwords, in the range" />
        <Stat id="bans" label="Active bans" value={bans ? count(bans.length) : "…"} sub={bans ? `now · ${count(manual)} manual` : undefined} title="Addresses on the fleet-wide ban list now" />
        <Stat id="jail-bans" label="Jail bans" value={v(d?.jailBans)} color={d?.jailBans ? "orange" : undefined} title="Bans the hosts' jails decided in the range" />
        <Stat id="intel" label="Intel hits" value={v(d?.intel)} color={d?.intel ? "purple" : undefined} title="Events whose address is on a threat-intel feed, in the range" />
      </div>
      <div class="sec-hist">
        <h3>Authentications</h3>
        {c.error && <ErrorBox error={c.error} hint={`The summary counts the security stream's records ({job="security"}) with LogQL.`} />}
        {h.error ? <ErrorBox error={h.error} /> : h.data ? <TimeChart data={h.data} unit="short" bars colors={HIST_COLORS} height={150} min={0} onZoom={zoom} /> : <div class="chart-placeholder sec-hist-placeholder" />}
      </div>
    </div>
  );
}

function HostPicker({ value, win }: { value: string; win: Window }) {
  const { data } = useLoad((signal) => sec.hosts(win.start, win.end, signal), [win]);
  const list = [...new Set([...(data ?? []), ...(value ? [value] : [])])].sort();
  return (
    <select value={value} aria-label="Host" onChange={(e) => setParams({ host: (e.target as HTMLSelectElement).value })}>
      <option value="">All hosts</option>
      {list.map((h) => (
        <option value={h}>{h}</option>
      ))}
    </select>
  );
}

export function Security({ route }: { route: Route }) {
  const p = route.params;
  const range = rangeFromParams(p);
  const refresh = p.has("refresh") ? p.get("refresh") ?? "" : "30s";
  const host = p.get("host") ?? "";
  const filters = { outcome: p.get("outcome") ?? "", action: p.get("action") ?? "", text: p.get("q") ?? "" };
  const tick = useTick(refresh);
  const win = useMemo<Window>(() => resolveRange(range), [range.from, range.to, tick]);
  // Bans are asked for again after every change made here, and with the refresh.
  const [changes, setChanges] = useState(0);
  const bans = useLoad((signal) => sec.bans(signal), [tick, changes]);
  const banned = useMemo(() => new Map((bans.data ?? []).map((b) => [b.ip, b])), [bans.data]);
  const bannedIps = useMemo(() => new Set(banned.keys()), [banned]);
  const [prefill, setPrefill] = useState<Prefill | null>(null);
  const onBan = (ip: string, failures: number) => setPrefill((old) => ({ ip, reason: `${failures} failed logins`, seq: (old?.seq ?? 0) + 1 }));
  return (
    <main class="page security">
      <div class="toolbar">
        <h1>Security</h1>
        <span class="grow" />
        <HostPicker value={host} win={win} />
        <TimePicker range={range} />
        <RefreshPicker value={refresh} />
      </div>
      <Summary host={host} win={win} bans={bans.data} />
      <div class="sec-cols">
        <AuthEvents host={host} win={win} filters={filters} banned={bannedIps} />
        <TopSources host={host} win={win} banned={banned} onBan={onBan} />
      </div>
      <ActiveBans list={bans.data} error={bans.error} prefill={prefill} onChanged={() => setChanges((n) => n + 1)} />
      <JailActivity host={host} win={win} />
      <IntelHits host={host} win={win} />
    </main>
  );
}
