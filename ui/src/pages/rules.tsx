// The alerts page's Rules tab: the rule groups of `/api/v1/rules`, groups with firing rules first and open,
// each rule's state, health and last error, query (opened in Explore), `for` and labels.
import { useState } from "preact/hooks";
import type * as am from "../api-alerting";
import { Chips, fullTime, ms, since, span } from "../alert-ui";
import { Empty, ErrorBox } from "../controls";
import { duration } from "../format";
import { parseFilter, passes } from "../matchers";
import { href } from "../route";

const RANK: Record<string, number> = { firing: 0, pending: 1, err: 2 };

function ruleState(r: am.Rule): string {
  return r.type === "alerting" ? r.state ?? "inactive" : "recording";
}

function counts(g: am.RuleGroup) {
  const c = { firing: 0, pending: 0, err: 0 };
  for (const r of g.rules ?? []) {
    const s = ruleState(r);
    if (s === "firing") c.firing++;
    if (s === "pending") c.pending++;
    if (r.health === "err") c.err++;
  }
  return c;
}

function rank(g: am.RuleGroup): number {
  const c = counts(g);
  return c.firing ? RANK.firing : c.pending ? RANK.pending : c.err ? RANK.err : 3;
}

function seconds(v: number | undefined): string {
  return typeof v === "number" && Number.isFinite(v) ? duration(v) : "–";
}

function every(v: number | undefined): string {
  return typeof v === "number" && Number.isFinite(v) ? span(v) : "–";
}

function RuleRow({ r, now, filter }: { r: am.Rule; now: number; filter: string }) {
  const state = ruleState(r);
  const last = ms(r.lastEvaluation);
  return (
    <tr class={`rule r-${state}${r.health === "err" ? " r-err" : ""}`} data-rule={r.name} data-state={state}>
      <td class="left">
        <span class={`badge st-${state}`}>{state}</span>
      </td>
      <td class="left rule-name">
        <b>{r.name}</b>
        {r.type === "alerting" && (r.alerts?.length ?? 0) > 0 && <div class="sub">{r.alerts!.length} active alert{r.alerts!.length === 1 ? "" : "s"}</div>}
        {r.health === "err" && <div class="rule-error">{r.lastError || "evaluation failed"}</div>}
      </td>
      <td class="left rule-query">
        <a class="mono" href={href(["explore"], { q: r.query })} title="Open in Explore">
          {r.query}
        </a>
      </td>
      <td class="num">{r.type === "alerting" ? span(r.duration ?? 0) : "–"}</td>
      <td class="left rule-labels">
        <Chips labels={r.labels ?? {}} filter={filter} />
      </td>
      <td class="left">
        <span class={`health h-${r.health}`}>{r.health}</span>
      </td>
      <td class="num" title={fullTime(last)}>
        {Number.isFinite(last) ? `${since(last, now)} ago` : "never"}
        <div class="sub">{seconds(r.evaluationTime)}</div>
      </td>
    </tr>
  );
}

export function RuleGroups({ groups, error, filter, now }: { groups: am.RuleGroup[] | null; error: string; filter: string; now: number }) {
  // The user's own opening and closing wins over the default (open when something fires, is pending or fails).
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const f = parseFilter(filter);
  const list = (groups ?? [])
    .map((g, i) => ({
      g,
      i,
      rules: (g.rules ?? []).filter((r) => passes(f, { alertname: r.name, ...(r.labels ?? {}) }, `${r.name} ${r.query} ${g.name} ${g.file} ${ruleState(r)}`)),
    }))
    .filter((x) => x.rules.length > 0)
    .sort((a, b) => rank(a.g) - rank(b.g) || a.i - b.i);
  return (
    <div class="rules">
      {error && <ErrorBox error={error} />}
      {f.error && <ErrorBox error={f.error} />}
      {!groups && !error && <div class="chart-placeholder" />}
      {groups && groups.length === 0 && <Empty>No rule groups. Alerting and recording rules come from the files listed in rule_files: (Prometheus' format).</Empty>}
      {groups && groups.length > 0 && list.length === 0 && <Empty>No rule matches the filter.</Empty>}
      {list.map(({ g, rules }) => {
        const key = `${g.file}\u0000${g.name}`;
        const c = counts(g);
        const isOpen = open[key] ?? (c.firing + c.pending + c.err > 0 || list.length <= 3 || filter.trim() !== "");
        const last = ms(g.lastEvaluation);
        return (
          <details class={`rule-group${c.firing ? " g-firing" : c.pending ? " g-pending" : ""}`} data-group={g.name} open={isOpen} onToggle={(e) => {
            const now = (e.currentTarget as HTMLDetailsElement).open;
            if (now !== isOpen) setOpen({ ...open, [key]: now });
          }}>
            <summary>
              <span class="rg-name">{g.name}</span>
              {c.firing > 0 && <span class="badge st-firing">{c.firing} firing</span>}
              {c.pending > 0 && <span class="badge st-pending">{c.pending} pending</span>}
              {c.err > 0 && <span class="badge h-err">{c.err} failing</span>}
              <span class="sub rg-meta">
                <span class="mono">{g.file}</span> · {g.rules?.length ?? 0} rule{g.rules?.length === 1 ? "" : "s"} · every {every(g.interval)} · {Number.isFinite(last) ? `evaluated ${since(last, now)} ago` : "not evaluated yet"} in {seconds(g.evaluationTime)}
              </span>
            </summary>
            <div class="table-wrap">
              <table class="rule-table">
                <thead>
                  <tr>
                    <th class="left">State</th>
                    <th class="left">Rule</th>
                    <th class="left">Query</th>
                    <th>For</th>
                    <th class="left">Labels</th>
                    <th class="left">Health</th>
                    <th>Evaluated</th>
                  </tr>
                </thead>
                <tbody>
                  {rules.map((r) => (
                    <RuleRow r={r} now={now} filter={filter} />
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        );
      })}
    </div>
  );
}
