// The silence editor, a dialog over the alerts page: matchers (prefilled from an alert's labels), a duration,
// the author (remembered in this browser) and the required comment; it shows which of the alerts firing now
// the matchers would silence before anything is sent.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Labels } from "../api";
import * as am from "../api-alerting";
import { ErrorBox } from "../controls";
import { duration } from "../format";
import { LABEL_NAME, matchesAll, OPS, regexError, toSilence, type Matcher, type Op } from "../matchers";

export interface SilenceDraft { key: number; matchers: Matcher[]; comment?: string; from?: string }
export interface PreviewAlert { labels: Labels; fingerprint: string }

const AUTHOR_KEY = "vigil.silence.author";
const PRESETS = ["1h", "4h", "1d"];
const UNIT: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 604800 };
/// Past this, `Date` cannot hold the end; nobody means a silence this long anyway.
const MAX_SECONDS = 10 * 365 * 86400;

/// `90m`, `1h30m`, `2d`, `1w`: seconds, or NaN when unreadable.
export function parseDuration(text: string): number {
  const t = text.trim().replace(/\s+/g, "");
  if (!/^(\d+(\.\d+)?[mhdw])+$/.test(t)) return NaN;
  let s = 0;
  for (const [, n, u] of t.matchAll(/(\d+(?:\.\d+)?)([mhdw])/g)) s += Number(n) * UNIT[u];
  return s;
}

function storedAuthor(): string {
  try {
    return localStorage.getItem(AUTHOR_KEY) ?? "";
  } catch {
    return "";
  }
}

function Preview({ matchers, alerts }: { matchers: Matcher[]; alerts: PreviewAlert[] }) {
  const hit = useMemo(() => (matchers.length ? alerts.filter((a) => matchesAll(matchers, a.labels)) : []), [matchers, alerts]);
  const names = new Map<string, number>();
  for (const a of hit) names.set(a.labels.alertname ?? "(no alertname)", (names.get(a.labels.alertname ?? "(no alertname)") ?? 0) + 1);
  const list = [...names].sort((a, b) => b[1] - a[1]);
  return (
    <div class={`silence-preview${hit.length ? "" : " none"}`} aria-live="polite" data-count={hit.length}>
      Would silence <b class="num">{hit.length}</b> of <span class="num">{alerts.length}</span> alert{alerts.length === 1 ? "" : "s"} now firing
      {list.length > 0 && ": "}
      {list.slice(0, 6).map(([name, n], i) => (
        <span>
          {i > 0 && ", "}
          <span class="mono">{name}</span>
          {n > 1 && ` ×${n}`}
        </span>
      ))}
      {list.length > 6 && `, and ${list.length - 6} more`}
      {hit.length === 0 && ". A silence can also wait for alerts that fire later."}
    </div>
  );
}

export function SilenceForm({ draft, alerts, onClose, onCreated }: { draft: SilenceDraft; alerts: PreviewAlert[]; onClose: () => void; onCreated: (id: string) => void }) {
  const [rows, setRows] = useState<Matcher[]>(() => (draft.matchers.length ? draft.matchers.map((m) => ({ ...m })) : [{ name: "", op: "=", value: "" }]));
  const [preset, setPreset] = useState("1h");
  const [custom, setCustom] = useState("2h");
  const [author, setAuthor] = useState(storedAuthor);
  const [comment, setComment] = useState(draft.comment ?? "");
  const [error, setError] = useState("");
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = dialog.current;
    el?.querySelector<HTMLElement>(author ? "textarea" : "input[name=author]")?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const seconds = parseDuration(preset === "custom" ? custom : preset);
  const used = rows.filter((r) => r.name.trim() !== "");
  const problems: string[] = [];
  if (!used.length) problems.push("Add at least one matcher.");
  for (const r of used) {
    if (!LABEL_NAME.test(r.name.trim())) problems.push(`"${r.name}" is not a label name.`);
    const bad = regexError(r);
    if (bad) problems.push(`Invalid regex in ${bad}`);
  }
  if (!Number.isFinite(seconds) || seconds <= 0) problems.push("The duration must read like 30m, 4h, 1d or 1h30m.");
  else if (seconds > MAX_SECONDS) problems.push("The duration must be under 10 years.");
  if (!author.trim()) problems.push("Say who creates the silence.");
  if (!comment.trim()) problems.push("A comment is required: say why these alerts are silenced.");
  const valid = useMemo(() => used.filter((r) => LABEL_NAME.test(r.name.trim()) && !regexError(r)).map((r) => ({ ...r, name: r.name.trim() })), [rows]);

  const change = (i: number, patch: Partial<Matcher>) => setRows(rows.map((r, j) => (i === j ? { ...r, ...patch } : r)));
  const submit = async (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (problems.length || busy) return;
    setBusy(true);
    setError("");
    try {
      localStorage.setItem(AUTHOR_KEY, author.trim());
    } catch {
      // Private windows may refuse storage; the author is still sent.
    }
    const now = Date.now();
    try {
      const id = await am.createSilence({
        matchers: valid.map(toSilence),
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + seconds * 1000).toISOString(),
        createdBy: author.trim(),
        comment: comment.trim(),
      });
      onCreated(id);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="silence-title" ref={dialog}>
        <form onSubmit={submit} class="silence-form" novalidate>
          <div class="modal-head">
            <h2 id="silence-title">New silence</h2>
            {draft.from && <span class="sub">from {draft.from}</span>}
            <span class="grow" />
            <button type="button" class="icon-btn" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </div>
          <fieldset>
            <legend>Matchers</legend>
            <p class="hint">Alerts with all of these labels are silenced. Remove the ones that are too specific; =~ and !~ take a regex.</p>
            {rows.map((r, i) => (
              <div class="matcher-row" data-name={r.name}>
                <input class="m-name mono" value={r.name} placeholder="label" aria-label="Label name" spellcheck={false} onInput={(e) => change(i, { name: (e.target as HTMLInputElement).value })} />
                <select class="m-op" value={r.op} aria-label={`Operator for ${r.name || "label"}`} onChange={(e) => change(i, { op: (e.target as HTMLSelectElement).value as Op })}>
                  {OPS.map((o) => (
                    <option value={o}>{o}</option>
                  ))}
                </select>
                <input class="m-value mono" value={r.value} placeholder="value" aria-label={`Value of ${r.name || "label"}`} spellcheck={false} onInput={(e) => change(i, { value: (e.target as HTMLInputElement).value })} />
                <button type="button" class="icon-btn" aria-label={`Remove matcher ${r.name}`} title="Remove this matcher" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" class="btn small" onClick={() => setRows([...rows, { name: "", op: "=", value: "" }])}>
              + Matcher
            </button>
            <Preview matchers={valid} alerts={alerts} />
          </fieldset>
          <fieldset>
            <legend>Duration</legend>
            <div class="presets" role="radiogroup" aria-label="Duration">
              {[...PRESETS, "custom"].map((p) => (
                <button type="button" role="radio" aria-checked={preset === p} class={`btn small${preset === p ? " on" : ""}`} onClick={() => setPreset(p)}>
                  {p === "custom" ? "Custom" : p}
                </button>
              ))}
              {preset === "custom" && <input class="duration" value={custom} aria-label="Custom duration" placeholder="1h30m" onInput={(e) => setCustom((e.target as HTMLInputElement).value)} />}
            </div>
            <p class="hint">
              {Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_SECONDS ? `Starts now, ends ${new Date(Date.now() + seconds * 1000).toLocaleString()} (in ${duration(seconds)}).` : "Starts now."}
            </p>
          </fieldset>
          <label class="field">
            <span>Author</span>
            <input name="author" value={author} autocomplete="username" onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>Comment</span>
            <textarea name="comment" rows={3} value={comment} placeholder="Why, and for how long: e.g. maintenance of db1, ticket OPS-123" onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
          </label>
          {tried && problems.length > 0 && (
            <ul class="problems" role="alert">
              {problems.map((p) => (
                <li>{p}</li>
              ))}
            </ul>
          )}
          {error && <ErrorBox error={error} />}
          <div class="modal-foot">
            <button type="button" class="btn" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class="btn primary" disabled={busy}>
              {busy ? "Creating…" : "Create silence"}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
