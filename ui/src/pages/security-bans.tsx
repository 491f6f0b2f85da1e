// The security page's ban pieces: the addresses failing most (with a Ban button), the fleet-wide ban list with
// expiry and Unban (confirmed inline), and the form that bans an address on every host. The server's refusals
// are shown as it words them.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as sec from "../api-security";
import { ErrorBox } from "../controls";
import { ago } from "../format";
import { count, rangeSeconds, span, useLoad, useNow, type Window } from "./security-common";

/// What a Ban button puts in the form.
export interface Prefill { ip: string; reason: string; seq: number }

/// Failed authentications per source address over the window, most first.
export function TopSources({ host, win, banned, onBan }: { host: string; win: Window; banned: Map<string, sec.Ban>; onBan: (ip: string, failures: number) => void }) {
  const q = `topk(10, sum by (source_ip) (count_over_time(${sec.streams(host)} | event_category="authentication" | event_outcome="failure" | source_ip!="" [${rangeSeconds(win)}s])))`;
  const { data, error } = useLoad((signal) => sec.logVector(q, win.end, signal), [q, win]);
  const rows = (data ?? [])
    .map((s) => ({ ip: s.metric.source_ip ?? "", n: Number(s.value?.[1]) }))
    .filter((r) => r.ip && Number.isFinite(r.n))
    .sort((a, b) => b.n - a.n || a.ip.localeCompare(b.ip));
  return (
    <section class="sec-section sec-top-section" aria-labelledby="sec-top-h">
      <header>
        <h2 id="sec-top-h">Top failing addresses</h2>
      </header>
      {error && <ErrorBox error={error} />}
      {data && (
        <div class="table-wrap">
          <table class="sec-table sec-top">
            <thead>
              <tr>
                <th>Address</th>
                <th class="num">Failures</th>
                <th class="num" aria-label="Ban" />
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={3} class="empty-cell">
                    No failed authentication from a known address in this time range.
                  </td>
                </tr>
              )}
              {rows.map((r) => {
                const b = banned.get(r.ip);
                return (
                  <tr key={r.ip} data-ip={r.ip}>
                    <td class="mono">{r.ip}</td>
                    <td class="num c-red">{count(r.n)}</td>
                    <td class="num">
                      {b ? (
                        <span class="badge-banned" title={`${b.jail} from ${b.origin}`}>
                          banned
                        </span>
                      ) : (
                        <button class="btn small" onClick={() => onBan(r.ip, r.n)}>
                          Ban…
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function expiry(b: sec.Ban, now: number) {
  if (b.expires_at === null) return <span title="No expiry: lifted only by Unban">never</span>;
  const t = Date.parse(b.expires_at);
  if (!Number.isFinite(t)) return <span class="muted">{b.expires_at || "–"}</span>;
  const left = (t - now) / 1000;
  return <span title={new Date(t).toLocaleString()}>{left > 0 ? `in ${span(left)}` : "expiring"}</span>;
}

/// Calls `onDone` with "" once the ban is lifted, or with the server's message.
function UnbanButton({ ip, onDone }: { ip: string; onDone: (error: string) => void }) {
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!confirm)
    return (
      <button class="btn small danger" onClick={() => setConfirm(true)}>
        Unban
      </button>
    );
  const go = () => {
    setBusy(true);
    sec.unban(ip).then(
      () => onDone(""),
      (e: Error) => {
        setBusy(false);
        setConfirm(false);
        onDone(`${ip}: ${e.message}`);
      },
    );
  };
  return (
    <span class="sec-confirm" role="group" aria-label={`Unban ${ip}`}>
      <span>Unban on every host?</span>
      <button class="btn small danger" disabled={busy} onClick={go}>
        {busy ? "…" : "Yes, unban"}
      </button>
      <button class="btn small" disabled={busy} onClick={() => setConfirm(false)}>
        No
      </button>
    </span>
  );
}

const SHOWN = 500;
const DURATIONS = ["10m", "1h", "6h", "24h", "7d", "30d", "365d", "never"];

function BanForm({ prefill, onBanned }: { prefill: Prefill | null; onBanned: (message: string) => void }) {
  const [ip, setIp] = useState("");
  const [duration, setDuration] = useState("1h");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const form = useRef<HTMLFormElement>(null);
  const durationInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (!prefill) return;
    setIp(prefill.ip);
    setReason(prefill.reason);
    setError("");
    form.current?.scrollIntoView({ block: "center", behavior: "smooth" });
    durationInput.current?.focus({ preventScroll: true });
  }, [prefill?.seq]);
  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    sec.ban(ip.trim(), duration.trim(), reason.trim()).then(
      (b) => {
        setBusy(false);
        const shown = b?.ip ?? ip.trim();
        setIp("");
        setReason("");
        onBanned(b?.expires_at ? `Banned ${shown} on every host until ${new Date(b.expires_at).toLocaleString()}.` : `Banned ${shown} on every host, without expiry.`);
      },
      (err: Error) => {
        setBusy(false);
        setError(err.message);
      },
    );
  };
  return (
    <form ref={form} class="sec-form sec-ban-form" onSubmit={submit} aria-label="Ban an address on every host">
      <label>
        Address
        <input name="ip" required value={ip} placeholder="192.0.2.7 or 2001:db8::7" autocomplete="off" spellcheck={false} onInput={(e) => setIp((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Duration
        <input
          ref={durationInput}
          name="duration"
          required
          list="sec-durations"
          value={duration}
          placeholder="1h, 90m, never"
          autocomplete="off"
          onInput={(e) => setDuration((e.target as HTMLInputElement).value)}
        />
        <datalist id="sec-durations">
          {DURATIONS.map((d) => (
            <option value={d} />
          ))}
        </datalist>
      </label>
      <label class="grow">
        Reason
        <input name="reason" value={reason} placeholder="why, for whoever reads the list" autocomplete="off" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      </label>
      <button class="btn primary" type="submit" disabled={busy}>
        {busy ? "Banning…" : "Ban on every host"}
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/// The fleet-wide list, newest first, with a filter; at most `SHOWN` rows are drawn.
export function ActiveBans({ list, error, prefill, onChanged }: { list: sec.Ban[] | null; error: string; prefill: Prefill | null; onChanged: () => void }) {
  const now = useNow();
  const [filter, setFilter] = useState("");
  const [unbanError, setUnbanError] = useState("");
  // What the last ban or unban made here did.
  const [notice, setNotice] = useState("");
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const all = (list ?? []).filter((b) => !f || [b.ip, b.jail, b.origin, b.reason].some((v) => v.toLowerCase().includes(f)));
    // Parsed once: the list may hold a hundred thousand bans.
    const created = new Map(all.map((b) => [b, Date.parse(b.created_at) || 0]));
    return all.sort((a, b) => created.get(b)! - created.get(a)! || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }, [list, filter]);
  const manual = list?.filter((b) => b.jail === "manual").length ?? 0;
  return (
    <section class="sec-section sec-bans-section" aria-labelledby="sec-bans-h">
      <header>
        <h2 id="sec-bans-h">Active bans</h2>
        {list && (
          <span class="summary">
            <b class="num">{count(list.length)}</b> on the fleet list · {count(manual)} manual · {count(list.length - manual)} from jails
          </span>
        )}
        <span class="grow" />
        {list && list.length > 0 && <input class="sec-text" type="search" placeholder="Filter bans" aria-label="Filter bans" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />}
      </header>
      <BanForm
        prefill={prefill}
        onBanned={(message) => {
          setNotice(message);
          onChanged();
        }}
      />
      {notice && (
        <p class="sec-done" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorBox error={error} hint="The ban list is the server's /api/v1/bans (docs/fleet-bans.md)." />}
      {unbanError && <ErrorBox error={unbanError} />}
      {list && (
        <div class="table-wrap">
          <table class="sec-table sec-bans">
            <thead>
              <tr>
                <th>Address</th>
                <th>Expires</th>
                <th>Jail</th>
                <th>Origin</th>
                <th>Reason</th>
                <th>Banned</th>
                <th class="num" aria-label="Unban" />
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={7} class="empty-cell">
                    {list.length === 0 ? "No address is banned. Jails report their bans here; the form above adds one by hand." : "No ban matches the filter."}
                  </td>
                </tr>
              )}
              {rows.slice(0, SHOWN).map((b) => {
                const created = Date.parse(b.created_at);
                return (
                  <tr key={b.ip} data-ip={b.ip}>
                    <td class="mono">{b.ip}</td>
                    <td class="sec-expiry">{expiry(b, now)}</td>
                    <td class="mono">{b.jail}</td>
                    <td class="sec-origin">{b.origin}</td>
                    <td class="sec-trunc" title={b.reason}>
                      {b.reason || <span class="muted">–</span>}
                    </td>
                    <td title={Number.isFinite(created) ? new Date(created).toLocaleString() : b.created_at}>
                      {Number.isFinite(created) ? ago(created, now) : "–"}
                      {b.count > 1 && <span class="muted"> · {count(b.count)}×</span>}
                    </td>
                    <td class="num">
                      <UnbanButton
                        ip={b.ip}
                        onDone={(err) => {
                          setUnbanError(err);
                          setNotice(err ? "" : `Unbanned ${b.ip} on every host.`);
                          onChanged();
                        }}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {rows.length > SHOWN && (
            <p class="foot sec-more">
              Showing the newest {SHOWN} of {count(rows.length)}; filter to find others.
            </p>
          )}
        </div>
      )}
    </section>
  );
}
