// The alerts page's Silences tab: active, pending and expired silences with their matchers, author, comment
// and timing, how many alerts each one silences now, expiring (after a second click) and re-creating.
import { useEffect, useState } from "preact/hooks";
import type * as am from "../api-alerting";
import { fullTime, ms, since, until } from "../alert-ui";
import { Empty, ErrorBox } from "../controls";
import { formatMatcher, fromSilence, parseFilter, type Matcher } from "../matchers";

const STATES = [
  ["active", "Active"],
  ["pending", "Pending"],
  ["expired", "Expired"],
] as const;
const EXPIRED_SHOWN = 20;

function SilenceCard({ s, now, affects, highlight, onExpire, onRecreate }: { s: am.Silence; now: number; affects: number; highlight: boolean; onExpire: (id: string) => Promise<void>; onRecreate: (ms: Matcher[], comment: string) => void }) {
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const state = s.status?.state ?? "expired";
  const starts = ms(s.startsAt);
  const ends = ms(s.endsAt);
  const matchers = (s.matchers ?? []).map(fromSilence);
  const expire = async () => {
    setBusy(true);
    setError("");
    try {
      await onExpire(s.id);
    } catch (e) {
      setError((e as Error).message);
    }
    setBusy(false);
    setConfirm(false);
  };
  return (
    <article class={`silence s-${state}${highlight ? " highlight" : ""}`} data-id={s.id} data-state={state} id={`silence-${s.id}`}>
      <div class="silence-head">
        <div class="chips">
          {matchers.map((m) => (
            <span class="chip mono">{formatMatcher(m)}</span>
          ))}
        </div>
        <span class="grow" />
        {state !== "expired" &&
          (confirm ? (
            <span class="confirm">
              <button class="btn small danger" disabled={busy} onClick={expire}>
                {busy ? "Expiring…" : "Yes, expire"}
              </button>
              <button class="btn small" onClick={() => setConfirm(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button class="btn small" onClick={() => setConfirm(true)} title="End this silence now">
              Expire
            </button>
          ))}
        <button class="btn small" onClick={() => onRecreate(matchers, s.comment ?? "")} title="A new silence with these matchers">
          {state === "expired" ? "Recreate" : "Copy"}
        </button>
      </div>
      <div class="silence-meta">
        <span class={`badge st-${state}`}>{state}</span>
        {state === "active" && <span title={fullTime(ends)}>ends in {until(ends, now)}</span>}
        {state === "pending" && <span title={fullTime(starts)}>starts in {until(starts, now)}</span>}
        {state === "expired" && <span title={fullTime(ends)}>ended {since(ends, now)} ago</span>}
        <span class="sub">
          by <b>{s.createdBy || "unknown"}</b>, {fullTime(starts)} → {fullTime(ends)}
        </span>
        {state === "active" && (
          <span class={affects ? "" : "muted"}>
            silences <b class="num">{affects}</b> alert{affects === 1 ? "" : "s"} now
          </span>
        )}
        <span class="sub mono" title="Silence id">
          {s.id}
        </span>
      </div>
      {s.comment && <p class="silence-comment">{s.comment}</p>}
      {error && <ErrorBox error={error} />}
    </article>
  );
}

export function SilenceList(props: {
  silences: am.Silence[] | null;
  error: string;
  groups: am.AlertGroup[] | null;
  filter: string;
  selected: string;
  now: number;
  onExpire: (id: string) => Promise<void>;
  onNew: (ms: Matcher[], comment?: string) => void;
}) {
  const { silences, error, groups, filter, selected, now } = props;
  const [allExpired, setAllExpired] = useState(false);
  useEffect(() => {
    if (selected && silences) document.getElementById(`silence-${selected}`)?.scrollIntoView({ block: "center" });
  }, [selected, !!silences]);
  const affects = new Map<string, Set<string>>();
  for (const g of groups ?? []) {
    for (const a of g.alerts ?? []) for (const id of a.status?.silencedBy ?? []) affects.set(id, (affects.get(id) ?? new Set()).add(a.fingerprint));
  }
  // A matcher in the filter is looked for as text among the silence's own matchers.
  const f = parseFilter(filter);
  const terms = [...f.words, ...f.matchers.map((m) => formatMatcher(m).toLowerCase())];
  const shown = (silences ?? []).filter((s) => {
    const text = [...(s.matchers ?? []).map((m) => formatMatcher(fromSilence(m))), s.createdBy, s.comment, s.id].join(" ").toLowerCase();
    return terms.every((t) => text.includes(t));
  });
  return (
    <div class="silences">
      <div class="subbar">
        <button class="btn primary" onClick={() => props.onNew([])}>
          New silence
        </button>
        <span class="hint">Silence an alert with its Silence button on the Alerts tab to start from its labels.</span>
      </div>
      {error && <ErrorBox error={error} />}
      {!silences && !error && <div class="chart-placeholder" />}
      {silences && silences.length === 0 && <Empty>No silences. A silence mutes the notifications of the alerts its matchers select, for a while.</Empty>}
      {silences && silences.length > 0 && shown.length === 0 && <Empty>No silence matches the filter.</Empty>}
      {STATES.map(([state, title]) => {
        const list = shown.filter((s) => (s.status?.state ?? "expired") === state);
        if (!list.length) return null;
        const cut = state === "expired" && !allExpired ? list.slice(0, EXPIRED_SHOWN) : list;
        return (
          <section class="silence-section" data-section={state}>
            <h2>
              {title} <span class="count num">{list.length}</span>
            </h2>
            {cut.map((s) => (
              <SilenceCard key={s.id} s={s} now={now} affects={affects.get(s.id)?.size ?? 0} highlight={s.id === selected} onExpire={props.onExpire} onRecreate={props.onNew} />
            ))}
            {cut.length < list.length && (
              <button class="btn small" onClick={() => setAllExpired(true)}>
                Show all {list.length} expired silences
              </button>
            )}
          </section>
        );
      })}
    </div>
  );
}
