// The security page's record tables: recent authentication events (ssh, sudo, su, PAM, account changes) with
// their filters in the URL, the jails' own ban decisions, and threat-intel matches with the feeds' state.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { escapeRegex, events, quote, streams, type SecEvent } from "../api-security";
import { ErrorBox } from "../controls";
import { ago } from "../format";
import { href, setParams } from "../route";
import { count, EventTable, Outcome, span, useLoad, useNow, type Column, type Window } from "./security-common";

/// What the auth table shows: authentications, account changes and the commands sudo ran.
const AUTH = `event_category=~"authentication|iam" or event_action=~"sudo-command|user-command"`;
const AUTH_LIMIT = 200;
const LIMIT = 100;

/// The action filter's groups: [URL value, label, LogQL label filter].
const KINDS: [string, string, string][] = [
  ["ssh", "SSH", `event_action=~"ssh-.*"`],
  ["sudo", "sudo", `event_action=~"sudo-.*|user-command"`],
  ["su", "su", `event_action="su"`],
  ["pam", "PAM and audit", `event_action=~"pam-auth-failure|user-auth|user-acct|user-login"`],
  ["accounts", "Account changes", `event_category="iam"`],
];
/// Every action the auth table can show (crates/guard/src/event.rs), for an exact choice.
const ACTIONS = [
  "ssh-login",
  "ssh-invalid-user",
  "ssh-user-not-allowed",
  "ssh-root-login-refused",
  "ssh-pam-failure",
  "ssh-too-many-failures",
  "ssh-auth-fail-disconnect",
  "ssh-change-of-user",
  "ssh-no-auth-methods",
  "pam-auth-failure",
  "sudo-command",
  "sudo-auth-failure",
  "sudo-not-allowed",
  "su",
  "user-auth",
  "user-acct",
  "user-login",
  "user-command",
  "user-created",
  "user-modified",
  "user-deleted",
  "user-added-to-group",
  "user-removed-from-group",
  "password-changed",
  "group-created",
  "group-deleted",
];

export interface AuthFilters { outcome: string; action: string; text: string }

export function authQuery(host: string, f: AuthFilters): string {
  let q = streams(host);
  if (f.text) q += ` |~ ${quote(`(?i)${escapeRegex(f.text)}`)}`;
  q += ` | ${AUTH}`;
  if (f.outcome) q += ` | event_outcome=${quote(f.outcome)}`;
  const kind = KINDS.find(([k]) => k === f.action);
  if (kind) q += ` | ${kind[2]}`;
  else if (f.action) q += ` | event_action=${quote(f.action)}`;
  return q;
}

function Source({ e, banned }: { e: SecEvent; banned: Set<string> }) {
  const ip = e.fields.source_ip || e.fields.source_address;
  if (!ip) return <span class="muted">–</span>;
  return (
    <span class="sec-ip">
      <button
        class="linkish mono"
        title="Show only the events with this address"
        onClick={(ev) => {
          ev.stopPropagation();
          setParams({ q: ip }, true);
        }}
      >
        {ip}
      </button>
      {banned.has(ip) && <span class="badge-banned">banned</span>}
    </span>
  );
}

function User({ e }: { e: SecEvent }) {
  const user = e.fields.user_name;
  const target = e.fields.user_target_name;
  if (!user && !target) return <span class="muted">–</span>;
  return (
    <span title={[user, target].filter(Boolean).join(" → ")}>
      {user}
      {target && target !== user && <span class="muted">{user ? " → " : ""}</span>}
      {target && target !== user && target}
    </span>
  );
}

function Host({ e }: { e: SecEvent }) {
  const h = e.fields.host;
  return h ? <a href={href(["host", h])}>{h}</a> : <span class="muted">–</span>;
}

/// What else a record says: sudo's command, sshd's method, the group an account joined.
function detail(e: SecEvent): string {
  const f = e.fields;
  if (f.process_command_line) return f.process_command_line;
  if (f.group_name) return `group ${f.group_name}`;
  if (f.vigil_ssh_method) return f.vigil_ssh_method;
  if (f.tags) return f.tags;
  return "";
}

/// A text input that writes the URL once typing pauses, so each keystroke does not run a query.
function TextFilter({ value, label }: { value: string; label: string }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const id = setTimeout(() => setParams({ q: text.trim() }, true), 350);
    return () => clearTimeout(id);
  }, [text]);
  return <input class="sec-text" type="search" placeholder="Search user, address, command…" value={text} aria-label={label} onInput={(e) => setText((e.target as HTMLInputElement).value)} />;
}

export function AuthEvents({ host, win, filters, banned }: { host: string; win: Window; filters: AuthFilters; banned: Set<string> }) {
  const q = authQuery(host, filters);
  const { data, error } = useLoad((signal) => events(q, win.start, win.end, AUTH_LIMIT, signal), [q, win]);
  const columns: Column[] = [
    { head: "Host", cell: (e) => <Host e={e} /> },
    { head: "Action", cell: (e) => <span class="action mono">{e.fields.event_action ?? "–"}</span> },
    { head: "Outcome", cell: (e) => <Outcome value={e.fields.event_outcome} /> },
    { head: "User", cls: "sec-trunc", cell: (e) => <User e={e} /> },
    { head: "Source", cell: (e) => <Source e={e} banned={banned} /> },
    { head: "Details", cls: "sec-trunc", cell: (e) => <span title={detail(e)}>{detail(e)}</span> },
  ];
  const failures = data?.filter((e) => e.fields.event_outcome === "failure").length ?? 0;
  return (
    <section class="sec-section sec-auth-section" aria-labelledby="sec-auth-h">
      <header>
        <h2 id="sec-auth-h">Recent auth events</h2>
        {data && (
          <span class="summary">
            <b class="num">{count(data.length)}</b> shown · <b class={`num${failures ? " c-red" : ""}`}>{count(failures)}</b> failed
          </span>
        )}
      </header>
      <div class="sec-filters">
        <select value={filters.outcome} aria-label="Outcome" onChange={(e) => setParams({ outcome: (e.target as HTMLSelectElement).value }, true)}>
          <option value="">All outcomes</option>
          <option value="failure">Failures</option>
          <option value="success">Successes</option>
        </select>
        <select value={filters.action} aria-label="Action" onChange={(e) => setParams({ action: (e.target as HTMLSelectElement).value }, true)}>
          <option value="">All actions</option>
          <optgroup label="Kinds">
            {KINDS.map(([v, label]) => (
              <option value={v}>{label}</option>
            ))}
          </optgroup>
          <optgroup label="Actions">
            {ACTIONS.filter((a) => a !== "su").map((a) => (
              <option value={a}>{a}</option>
            ))}
          </optgroup>
          {filters.action && !KINDS.some(([k]) => k === filters.action) && !ACTIONS.includes(filters.action) && <option value={filters.action}>{filters.action}</option>}
        </select>
        <TextFilter value={filters.text} label="Search the auth events" />
        {(filters.outcome || filters.action || filters.text) && (
          <button class="btn" onClick={() => setParams({ outcome: undefined, action: undefined, q: undefined }, true)}>
            Clear
          </button>
        )}
      </div>
      {error && <ErrorBox error={error} />}
      {!data && !error ? (
        <div class="chart-placeholder" />
      ) : (
        data && (
          <EventTable
            cls="sec-auth"
            rows={data}
            columns={columns}
            limit={AUTH_LIMIT}
            empty={
              filters.outcome || filters.action || filters.text
                ? "No auth event matches the filters in this time range."
                : "No auth events in this time range. The guard records what it parses from the auth logs (agent.guard.sources): sshd, sudo, su, PAM, account changes."
            }
          />
        )
      )}
    </section>
  );
}

function Decision({ value }: { value: string | undefined }) {
  return <span class={`outcome ${value === "ban" ? "o-failure" : "o-unknown"}`}>{value ?? "–"}</span>;
}

/// The bans and unbans each host's jails decided (the fleet list's own records, which carry an origin, are left
/// out), and the hosts whose guard only detects.
export function JailActivity({ host, win }: { host: string; win: Window }) {
  const now = useNow();
  const q = `${streams(host, "guard")} | event_action=~"ban|unban" | vigil_ban_origin=""`;
  const { data, error } = useLoad((signal) => events(q, win.start, win.end, LIMIT, signal), [q, win]);
  const modes = useLoad((signal) => api.queryVector("max by (instance, backend) (vigil_guard_firewall_errors_total)", win.end, signal), [win]);
  const detect = (modes.data ?? []).filter((s) => s.metric.backend === "detect" && (!host || s.metric.instance === host)).map((s) => s.metric.instance ?? "");
  const until = (e: SecEvent) => {
    const t = Date.parse(e.fields.vigil_ban_until ?? "");
    if (!Number.isFinite(t)) return <span class="muted">–</span>;
    return <span title={e.fields.vigil_ban_until}>{t > now ? `in ${span((t - now) / 1000)}` : `ended ${ago(t, now)}`}</span>;
  };
  const columns: Column[] = [
    { head: "Host", cell: (e) => <Host e={e} /> },
    { head: "Jail", cell: (e) => <span class="mono">{e.fields.vigil_jail ?? "–"}</span> },
    { head: "Decision", cell: (e) => <Decision value={e.fields.event_action} /> },
    { head: "Offender", cell: (e) => <span class="mono">{e.fields.source_ip || e.fields.user_name || "–"}</span> },
    { head: "Ends", cell: (e) => (e.fields.event_action === "ban" ? until(e) : <span class="muted">–</span>) },
    { head: "Ban #", cls: "num", cell: (e) => e.fields.vigil_ban_count ?? "" },
  ];
  return (
    <section class="sec-section sec-jail-section" aria-labelledby="sec-jail-h">
      <header>
        <h2 id="sec-jail-h">Jail decisions</h2>
        <span class="summary">what each host's jails (sshd, sudo…) decided; address bans are reported to the fleet list</span>
      </header>
      {detect.length > 0 && (
        <p class="sec-note sec-detect" data-detect={detect.join(" ")}>
          <span>
            Detect mode on <b>{detect.join(", ")}</b>: bans are recorded and reported, the host's firewall is not touched.
          </span>
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {data && <EventTable cls="sec-jail" rows={data} columns={columns} limit={LIMIT} empty="No jail banned anything in this time range." />}
    </section>
  );
}

interface Feed { feed: string; entries: number; last: number }

/// Each feed's entries and its oldest last success over the hosts that fetch it.
async function feeds(time: number, signal: AbortSignal): Promise<Feed[]> {
  const [entries, last] = await Promise.all([
    api.queryVector("max by (feed) (vigil_intel_entries)", time, signal),
    api.queryVector("min by (feed) (vigil_intel_last_success_timestamp_seconds)", time, signal),
  ]);
  const lastBy = new Map(last.map((s) => [s.metric.feed ?? "", Number(s.value[1])]));
  return entries.map((s) => ({ feed: s.metric.feed ?? "", entries: Number(s.value[1]), last: lastBy.get(s.metric.feed ?? "") ?? 0 })).sort((a, b) => a.feed.localeCompare(b.feed));
}

export function IntelHits({ host, win }: { host: string; win: Window }) {
  const q = `${streams(host, "guard")} | event_action="threat-intel-match"`;
  const { data, error } = useLoad((signal) => events(q, win.start, win.end, LIMIT, signal), [q, win]);
  const feedState = useLoad((signal) => feeds(win.end, signal), [win]);
  const columns: Column[] = [
    { head: "Host", cell: (e) => <Host e={e} /> },
    { head: "Listed address", cell: (e) => <span class="mono">{e.fields.threat_indicator_ip ?? "–"}</span> },
    {
      head: "Feeds",
      cell: (e) =>
        (e.fields.vigil_intel_feeds ?? "")
          .split(",")
          .filter(Boolean)
          .map((f) => <span class="tag">{f}</span>),
    },
    { head: "Event", cell: (e) => <span class="action mono">{e.fields.vigil_intel_event_action ?? "–"}</span> },
    { head: "User", cell: (e) => <User e={e} /> },
    {
      head: "Source → destination",
      cell: (e) => (
        <span class="mono">
          {e.fields.source_ip ?? "–"}
          {e.fields.destination_ip && ` → ${e.fields.destination_ip}`}
        </span>
      ),
    },
  ];
  const list = feedState.data ?? [];
  return (
    <section class="sec-section sec-intel-section" aria-labelledby="sec-intel-h">
      <header>
        <h2 id="sec-intel-h">Threat-intel hits</h2>
        <span class="summary">events whose address is on a feed's list</span>
      </header>
      {feedState.data && (
        <p class="sec-note">
          {list.length === 0
            ? "No threat-intel feed is configured on any host (agent.guard.intel.feeds)."
            : list.map((f) => (
                <span class="sec-feed" title={f.last > 0 ? `last fetched ${new Date(f.last * 1000).toLocaleString()} on the stalest host` : "never fetched"}>
                  <b>{f.feed}</b> {count(f.entries)} {f.entries === 1 ? "entry" : "entries"}, {f.last > 0 ? `fetched ${ago(f.last * 1000)}` : <span class="c-orange">never fetched</span>}
                </span>
              ))}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {data && <EventTable cls="sec-intel" rows={data} columns={columns} limit={LIMIT} empty="No event matched a threat-intel feed in this time range." />}
    </section>
  );
}
