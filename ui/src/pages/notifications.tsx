// The alerts page's Notifications tab: what happened to the last notifications (`/api/v1/notifications`), the
// alerts each carried, failures highlighted with the receiver's error.
import type * as am from "../api-alerting";
import { fullTime, ms } from "../alert-ui";
import { ErrorBox } from "../controls";
import { ago, timeString } from "../format";
import { formatMatcher, parseFilter } from "../matchers";
import { setParams } from "../route";

export const HISTORY_LIMIT = 100;

function text(n: am.Notification): string {
  return [n.receiver, n.integration, n.groupKey, n.status, n.outcome, n.error ?? "", ...(n.alerts?.alertnames ?? []).map((a) => `alertname="${a}" ${a}`)].join(" ").toLowerCase();
}

function Alerts({ n }: { n: am.Notification }) {
  const a = n.alerts;
  if (!a) return <span class="muted">–</span>;
  const names = a.alertnames ?? [];
  return (
    <span class="n-alerts">
      <span class="names">{names.length ? names.join(", ") : "–"}</span>
      <span class="sub">
        {a.firing ?? 0} firing{a.resolved ? `, ${a.resolved} resolved` : ""}
      </span>
    </span>
  );
}

export function NotificationHistory({ list, error, filter, failedOnly, now }: { list: am.Notification[] | null; error: string; filter: string; failedOnly: boolean; now: number }) {
  const f = parseFilter(filter);
  const terms = [...f.words, ...f.matchers.map((m) => formatMatcher(m).toLowerCase())];
  const rows = (list ?? []).filter((n) => (!failedOnly || n.outcome === "failed") && terms.every((t) => text(n).includes(t)));
  const failed = (list ?? []).filter((n) => n.outcome === "failed").length;
  return (
    <div class="history">
      <div class="subbar">
        <label class="check">
          <input type="checkbox" checked={failedOnly} onChange={(e) => setParams({ failed: (e.target as HTMLInputElement).checked ? "1" : undefined }, true)} />
          Failures only {list && <span class={`num${failed ? " c-red" : " muted"}`}>({failed})</span>}
        </label>
        <span class="hint">The newest {HISTORY_LIMIT} outcomes, newest first.</span>
      </div>
      {error && <ErrorBox error={error} />}
      <div class="table-wrap">
        <table class="notifications">
          <thead>
            <tr>
              <th class="left">Time</th>
              <th class="left">Receiver</th>
              <th class="left">Status</th>
              <th class="left">Alerts</th>
              <th class="left">Outcome</th>
              <th>Attempts</th>
              <th class="left">Group</th>
            </tr>
          </thead>
          <tbody>
            {!list && !error && (
              <tr class="skeleton">
                <td colSpan={7}>&nbsp;</td>
              </tr>
            )}
            {list && rows.length === 0 && (
              <tr>
                <td colSpan={7} class="empty-cell">
                  {list.length === 0 ? "No notifications yet. They appear once a route of the alerting: configuration sends an alert group to a receiver." : "No notification matches the filter."}
                </td>
              </tr>
            )}
            {rows.map((n) => {
              const at = ms(n.at);
              return [
                <tr class={`notification o-${n.outcome}`} data-outcome={n.outcome} data-alertnames={(n.alerts?.alertnames ?? []).join(",")}>
                  <td class="left" title={fullTime(at)}>
                    <time class="num">{Number.isFinite(at) ? timeString(at) : n.at}</time>
                    <div class="sub">{Number.isFinite(at) ? ago(at, now) : ""}</div>
                  </td>
                  <td class="left">
                    {n.receiver}
                    <div class="sub">
                      {n.integration}
                      {n.index ? `[${n.index}]` : ""}
                    </div>
                  </td>
                  <td class="left">
                    <span class={`badge st-${n.status === "firing" ? "firing" : "resolved"}`}>{n.status}</span>
                  </td>
                  <td class="left">
                    <Alerts n={n} />
                  </td>
                  <td class="left">
                    <span class={`badge o-${n.outcome}`}>{n.outcome}</span>
                  </td>
                  <td class="num">{n.attempts}</td>
                  <td class="left group-key mono">{n.groupKey}</td>
                </tr>,
                n.error ? (
                  <tr class="notification-error">
                    <td colSpan={7} class="left">
                      {n.error}
                    </td>
                  </tr>
                ) : null,
              ];
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
