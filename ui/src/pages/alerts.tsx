// The alerts page (`#/alerts`): firing and pending alerts as the routes group them, silences, the notification
// history and the rules, as tabs kept in the URL (`?tab=`) with the filter (`?q=`). Everything reloads every
// 10 s (and on demand) without closing the silence editor.
import { useEffect, useMemo, useState } from "preact/hooks";
import * as api from "../api";
import * as am from "../api-alerting";
import { useTick } from "../controls";
import type { Matcher } from "../matchers";
import { href, setParams, type Route } from "../route";
import { AlertGroups } from "./alert-groups";
import { HISTORY_LIMIT, NotificationHistory } from "./notifications";
import { RuleGroups } from "./rules";
import { SilenceForm, type PreviewAlert, type SilenceDraft } from "./silence-form";
import { SilenceList } from "./silences";

type Tab = "alerts" | "silences" | "notifications" | "rules";
const TABS: Tab[] = ["alerts", "silences", "notifications", "rules"];

interface Data {
  groups: am.AlertGroup[] | null;
  pending: api.Alert[] | null;
  silences: am.Silence[] | null;
  rules: am.RuleGroup[] | null;
  history: am.Notification[] | null;
  errors: Partial<Record<"groups" | "pending" | "silences" | "rules" | "history", string>>;
  loadedAt: number;
}

const EMPTY: Data = { groups: null, pending: null, silences: null, rules: null, history: null, errors: {}, loadedAt: 0 };

/// Everything the tabs show, loaded together; a source that fails keeps its last answer beside its error.
function useAlerting(tick: number, manual: number): Data {
  const [data, setData] = useState<Data>(EMPTY);
  useEffect(() => {
    const ctl = new AbortController();
    const s = ctl.signal;
    Promise.allSettled([am.alertGroups(s), api.alerts(s), am.silences(s), am.rules(s), am.notifications(HISTORY_LIMIT, s)]).then((r) => {
      if (s.aborted) return;
      const [groups, pending, silences, rules, history] = r;
      const errors: Data["errors"] = {};
      const pick = <T,>(key: keyof Data["errors"], res: PromiseSettledResult<T>, prev: T | null): T | null => {
        if (res.status === "fulfilled") return res.value;
        errors[key] = (res.reason as Error)?.message ?? String(res.reason);
        return prev;
      };
      setData((prev) => ({
        groups: pick("groups", groups, prev.groups),
        pending: pick("pending", pending, prev.pending),
        silences: pick("silences", silences, prev.silences),
        rules: pick("rules", rules, prev.rules),
        history: pick("history", history, prev.history),
        errors,
        loadedAt: Date.now(),
      }));
    });
    return () => ctl.abort();
  }, [tick, manual]);
  return data;
}

/// Every alert the Alertmanager holds, once each (routes that `continue` put one alert in several groups).
function uniqueAlerts(groups: am.AlertGroup[] | null): am.GettableAlert[] {
  const seen = new Map<string, am.GettableAlert>();
  for (const g of groups ?? []) for (const a of g.alerts ?? []) seen.set(a.fingerprint ?? JSON.stringify(a.labels), a);
  return [...seen.values()];
}

function Notice({ id, onClose }: { id: string; onClose: () => void }) {
  return (
    <div class="notice" role="status">
      Silence{" "}
      <a class="mono" href={href(["alerts"], { tab: "silences", silence: id })}>
        {id}
      </a>{" "}
      created. The alerts it matches are now silenced: hidden here unless Show silenced is ticked, and not notified.
      <button class="icon-btn" aria-label="Dismiss" onClick={onClose}>
        ×
      </button>
    </div>
  );
}

export function Alerts({ route }: { route: Route }) {
  const p = route.params;
  const tab: Tab = TABS.includes(p.get("tab") as Tab) ? (p.get("tab") as Tab) : "alerts";
  const filter = p.get("q") ?? "";
  const tick = useTick("10s");
  const [manual, setManual] = useState(0);
  const data = useAlerting(tick, manual);
  const reload = () => setManual((m) => m + 1);
  const [draft, setDraft] = useState<SilenceDraft | null>(null);
  const [created, setCreated] = useState("");
  useEffect(() => setCreated(""), [tab]);
  const now = data.loadedAt || Date.now();

  const all = useMemo(() => uniqueAlerts(data.groups), [data.groups]);
  const preview: PreviewAlert[] = useMemo(() => all.map((a) => ({ labels: a.labels ?? {}, fingerprint: a.fingerprint })), [all]);
  const active = all.filter((a) => !a.status?.silencedBy?.length && !a.status?.inhibitedBy?.length).length;
  const pending = (data.pending ?? []).filter((a) => a.state === "pending").length;
  const activeSilences = (data.silences ?? []).filter((s) => s.status?.state === "active").length;
  const failed = (data.history ?? []).filter((n) => n.outcome === "failed").length;
  const firingRules = (data.rules ?? []).reduce((n, g) => n + (g.rules ?? []).filter((r) => r.state === "firing").length, 0);

  const open = (matchers: Matcher[], comment?: string, from?: string) => setDraft({ key: Date.now(), matchers, comment, from });
  const silenceFrom = (labels: Record<string, string>, from: string) =>
    open(
      Object.entries(labels).map(([name, value]) => ({ name, op: "=", value })),
      undefined,
      from,
    );
  const expire = async (id: string) => {
    await am.expireSilence(id);
    reload();
  };
  const label = (t: Tab) => {
    switch (t) {
      case "alerts":
        return (
          <>
            Alerts <span class={`count num${active ? " hot" : ""}`}>{data.groups ? active : "–"}</span>
          </>
        );
      case "silences":
        return (
          <>
            Silences <span class="count num">{data.silences ? activeSilences : "–"}</span>
          </>
        );
      case "notifications":
        return <>Notifications {failed > 0 && <span class="count num hot" title="failed">{failed} failed</span>}</>;
      case "rules":
        return (
          <>
            Rules {firingRules > 0 && <span class="count num hot">{firingRules} firing</span>}
          </>
        );
    }
  };

  return (
    <main class="page alerts-page">
      <div class="toolbar">
        <h1>Alerts</h1>
        {data.groups && (
          <span class="summary">
            <b class={`num${active ? " c-red" : ""}`}>{active}</b> firing · <b class={`num${pending ? " c-yellow" : ""}`}>{pending}</b> pending · <b class="num">{all.length - active}</b> silenced or inhibited
          </span>
        )}
        <span class="grow" />
        <input
          class="search alert-filter"
          type="search"
          placeholder='Filter: severity="critical" or text'
          value={filter}
          spellcheck={false}
          aria-label="Filter alerts, silences, notifications and rules"
          onInput={(e) => setParams({ q: (e.target as HTMLInputElement).value }, true)}
        />
        <button class="btn" onClick={reload} title="Reload now (it reloads every 10 s)">
          ⟳ Refresh
        </button>
      </div>
      <div class="tabs" role="tablist">
        {TABS.map((t) => (
          <button role="tab" aria-selected={tab === t} class={tab === t ? "active" : ""} data-tab={t} onClick={() => setParams({ tab: t === "alerts" ? undefined : t, silence: undefined })}>
            {label(t)}
          </button>
        ))}
      </div>
      {created && <Notice id={created} onClose={() => setCreated("")} />}
      {tab === "alerts" && (
        <AlertGroups
          groups={data.groups}
          groupsError={data.errors.groups ?? ""}
          pending={data.pending}
          pendingError={data.errors.pending ?? ""}
          rules={data.rules}
          filter={filter}
          showSuppressed={p.get("suppressed") === "1"}
          now={now}
          onSilence={silenceFrom}
        />
      )}
      {tab === "silences" && (
        <SilenceList silences={data.silences} error={data.errors.silences ?? ""} groups={data.groups} filter={filter} selected={p.get("silence") ?? ""} now={now} onExpire={expire} onNew={(ms, comment) => open(ms, comment)} />
      )}
      {tab === "notifications" && <NotificationHistory list={data.history} error={data.errors.history ?? ""} filter={filter} failedOnly={p.get("failed") === "1"} now={now} />}
      {tab === "rules" && <RuleGroups groups={data.rules} error={data.errors.rules ?? ""} filter={filter} now={now} />}
      {data.loadedAt > 0 && <p class="foot">Updated {new Date(data.loadedAt).toLocaleTimeString()}, every 10 s.</p>}
      {draft && (
        <SilenceForm
          key={draft.key}
          draft={draft}
          alerts={preview}
          onClose={() => setDraft(null)}
          onCreated={(id) => {
            setDraft(null);
            setCreated(id);
            reload();
          }}
        />
      )}
    </main>
  );
}
