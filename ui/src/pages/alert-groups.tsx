// The alerts page's Alerts tab: firing alerts grouped as the Alertmanager's routes group them (group labels,
// receiver, counts), each with severity, summary, labels, how long it has fired and whether it is silenced or
// inhibited; then the rules' pending alerts, which the Alertmanager does not see yet.
import type { Alert as RuleAlert } from "../api";
import type * as am from "../api-alerting";
import { Chips, fullTime, ms, severity, since, until } from "../alert-ui";
import { Empty, ErrorBox } from "../controls";
import { labelText, parseFilter, passes, type Filter } from "../matchers";
import { href, setParams } from "../route";

const SHOWN_APART = ["alertname", "severity"];

export type SilenceFrom = (labels: Record<string, string>, from: string) => void;

function alertState(a: am.GettableAlert): "active" | "silenced" | "inhibited" {
  if ((a.status?.silencedBy?.length ?? 0) > 0) return "silenced";
  if ((a.status?.inhibitedBy?.length ?? 0) > 0) return "inhibited";
  return "active";
}

function visible(f: Filter, labels: Record<string, string>, annotations?: Record<string, string>): boolean {
  return passes(f, labels, labelText(labels, annotations));
}

/// The rule's query behind an alert, when its generator URL is Prometheus' `/graph?g0.expr=...`.
function exprOf(generatorURL: string | undefined): string {
  if (!generatorURL) return "";
  try {
    return new URL(generatorURL, location.href).searchParams.get("g0.expr") ?? "";
  } catch {
    return "";
  }
}

function Texts({ annotations }: { annotations: Record<string, string> }) {
  const summary = annotations.summary ?? annotations.message ?? "";
  const description = annotations.description ?? "";
  return (
    <>
      {summary && <div class="alert-summary">{summary}</div>}
      {description && description !== summary && <div class="alert-desc">{description}</div>}
    </>
  );
}

function AlertRow({ a, groupLabels, filter, now, onSilence }: { a: am.GettableAlert; groupLabels: Record<string, string>; filter: string; now: number; onSilence: SilenceFrom }) {
  const labels = a.labels ?? {};
  const state = alertState(a);
  const sev = severity(labels);
  const started = ms(a.startsAt);
  const expr = exprOf(a.generatorURL);
  const skip = [...SHOWN_APART, ...Object.keys(groupLabels)];
  return (
    <li class={`alert sev-${sev} a-${state}`} data-alertname={labels.alertname ?? ""} data-state={state} data-fingerprint={a.fingerprint}>
      <div class="alert-head">
        <strong class="alertname">{labels.alertname ?? "(no alertname)"}</strong>
        {labels.severity && <span class={`badge sev sev-${sev}`}>{labels.severity}</span>}
        <span class={`badge st-${state}`}>{state}</span>
        <span class="since" title={`Since ${fullTime(started)}`}>
          for <span class="num">{since(started, now)}</span>
        </span>
        <span class="grow" />
        <button class="btn small silence-btn" onClick={() => onSilence(labels, labels.alertname ?? "an alert")}>
          Silence
        </button>
      </div>
      <Texts annotations={a.annotations ?? {}} />
      <Chips labels={labels} skip={skip} filter={filter} />
      {state === "silenced" && (
        <div class="alert-why">
          Silenced by{" "}
          {a.status.silencedBy.map((id, i) => (
            <>
              {i > 0 && ", "}
              <a class="mono" href={href(["alerts"], { tab: "silences", silence: id })}>
                {id.slice(0, 8)}
              </a>
            </>
          ))}
        </div>
      )}
      {(a.status?.inhibitedBy?.length ?? 0) > 0 && <div class="alert-why">Inhibited by {a.status.inhibitedBy.length} other alert{a.status.inhibitedBy.length === 1 ? "" : "s"} (an inhibit rule of the configuration).</div>}
      {expr && (
        <div class="alert-links">
          <a href={href(["explore"], { q: expr })}>Query in Explore</a>
        </div>
      )}
    </li>
  );
}

function groupText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
}

function Pending({ alerts, rules, f, filter, now, onSilence }: { alerts: RuleAlert[]; rules: am.RuleGroup[] | null; f: Filter; filter: string; now: number; onSilence: SilenceFrom }) {
  const hold = new Map<string, number>();
  for (const g of rules ?? []) for (const r of g.rules ?? []) if (r.type === "alerting" && r.duration) hold.set(r.name, r.duration);
  const shown = alerts.filter((a) => visible(f, a.labels ?? {}, a.annotations));
  return (
    <section class="pending" data-section="pending">
      <h2>
        Pending <span class="count num">{shown.length}</span>
        <span class="hint"> their condition holds, but not yet for their rule's for: duration; they reach the Alertmanager once they fire</span>
      </h2>
      {shown.length === 0 ? (
        <p class="muted">No pending alert matches the filter.</p>
      ) : (
        <ul class="alert-list">
          {shown.map((a) => {
            const labels = a.labels ?? {};
            const active = ms(a.activeAt);
            const forS = hold.get(labels.alertname ?? "");
            return (
              <li class={`alert sev-${severity(labels)} a-pending`} data-alertname={labels.alertname ?? ""} data-state="pending">
                <div class="alert-head">
                  <strong class="alertname">{labels.alertname ?? "(no alertname)"}</strong>
                  {labels.severity && <span class={`badge sev sev-${severity(labels)}`}>{labels.severity}</span>}
                  <span class="badge st-pending">pending</span>
                  <span class="since" title={`Active since ${fullTime(active)}`}>
                    for <span class="num">{since(active, now)}</span>
                    {forS !== undefined && Number.isFinite(active) && <> · fires in {until(active + forS * 1000, now)}</>}
                  </span>
                  <span class="grow" />
                  <button class="btn small silence-btn" onClick={() => onSilence(labels, labels.alertname ?? "an alert")}>
                    Silence
                  </button>
                </div>
                <Texts annotations={a.annotations ?? {}} />
                <Chips labels={labels} skip={SHOWN_APART} filter={filter} />
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

export function AlertGroups(props: {
  groups: am.AlertGroup[] | null;
  groupsError: string;
  pending: RuleAlert[] | null;
  pendingError: string;
  rules: am.RuleGroup[] | null;
  filter: string;
  showSuppressed: boolean;
  now: number;
  onSilence: SilenceFrom;
}) {
  const { groups, filter, showSuppressed, now, onSilence } = props;
  const f = parseFilter(filter);
  let hidden = 0;
  let matching = 0;
  const shownGroups = (groups ?? [])
    .map((g) => {
      const alerts = (g.alerts ?? []).filter((a) => visible(f, a.labels ?? {}, a.annotations));
      matching += alerts.length;
      const kept = showSuppressed ? alerts : alerts.filter((a) => alertState(a) === "active");
      hidden += alerts.length - kept.length;
      return { g, alerts: kept, all: g.alerts ?? [] };
    })
    .filter((x) => x.alerts.length > 0);
  const pending = (props.pending ?? []).filter((a) => a.state === "pending");
  const total = (groups ?? []).reduce((n, g) => n + (g.alerts?.length ?? 0), 0);
  const toggle = (
    <label class="check">
      <input type="checkbox" checked={showSuppressed} onChange={(e) => setParams({ suppressed: (e.target as HTMLInputElement).checked ? "1" : undefined }, true)} />
      Show silenced and inhibited
    </label>
  );
  return (
    <div class="alert-groups">
      <div class="subbar">
        {toggle}
        {hidden > 0 && (
          <span class="hint">
            <span class="num">{hidden}</span> silenced or inhibited alert{hidden === 1 ? "" : "s"} hidden
          </span>
        )}
      </div>
      {f.error && <ErrorBox error={f.error} hint={'The filter takes label matchers such as severity="critical" or team=~"db|web", and free words.'} />}
      {props.groupsError && <ErrorBox error={props.groupsError} />}
      {!groups && !props.groupsError && <div class="chart-placeholder" />}
      {groups && shownGroups.length === 0 && (
        <Empty>
          {total === 0 ? "No alerts are firing." : matching === 0 ? "No firing alert matches the filter." : "Every matching alert is silenced or inhibited; tick Show silenced and inhibited to see them."}
        </Empty>
      )}
      {shownGroups.map(({ g, alerts, all }) => {
        const labels = g.labels ?? {};
        const silenced = all.filter((a) => alertState(a) === "silenced").length;
        const inhibited = all.filter((a) => alertState(a) === "inhibited").length;
        const worst = alerts.map((a) => severity(a.labels ?? {})).sort((a, b) => ["critical", "warning", "info", "none"].indexOf(a) - ["critical", "warning", "info", "none"].indexOf(b))[0];
        return (
          <section class={`alert-group sev-${worst}`} data-group={groupText(labels)} data-receiver={g.receiver?.name ?? ""}>
            <header class="group-head">
              <div class="chips">
                {Object.keys(labels).length ? Object.entries(labels).map(([k, v]) => <span class="chip group-label">{`${k}="${v}"`}</span>) : <span class="chip group-label">all alerts (no grouping)</span>}
              </div>
              <span class="receiver" title="Receiver">
                → {g.receiver?.name ?? "?"}
              </span>
              <span class="grow" />
              <span class="group-counts sub">
                <b class="num">{all.length - silenced - inhibited}</b> active
                {silenced > 0 && (
                  <>
                    {" "}
                    · <b class="num">{silenced}</b> silenced
                  </>
                )}
                {inhibited > 0 && (
                  <>
                    {" "}
                    · <b class="num">{inhibited}</b> inhibited
                  </>
                )}
              </span>
            </header>
            <ul class="alert-list">
              {alerts.map((a) => (
                <AlertRow a={a} groupLabels={labels} filter={filter} now={now} onSilence={onSilence} />
              ))}
            </ul>
          </section>
        );
      })}
      {props.pendingError && <ErrorBox error={props.pendingError} />}
      {pending.length > 0 && <Pending alerts={pending} rules={props.rules} f={f} filter={filter} now={now} onSilence={onSilence} />}
    </div>
  );
}
