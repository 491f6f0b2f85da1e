// The dashboards list (`#/dashboards`): built-in and user dashboards, with the file and error of broken ones.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { Empty, ErrorBox } from "../controls";
import { href } from "../route";

export function DashboardList() {
  const [list, setList] = useState<api.DashboardSummary[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.dashboards().then(setList, (e: Error) => setError(e.message));
  }, []);
  return (
    <main class="page">
      <div class="toolbar">
        <h1>Dashboards</h1>
      </div>
      {error && <ErrorBox error={error} />}
      {list && list.length === 0 && <Empty>No dashboards.</Empty>}
      {list && (
        <ul class="dash-list">
          {list.map((d) => (
            <li>
              {d.error ? (
                <div>
                  <strong>{d.title}</strong> <span class="tag">{d.source}</span>
                  <ErrorBox error={d.error} hint="Fix the file; the list reads it again on the next visit." />
                </div>
              ) : (
                <div>
                  <a href={d.id === "host" ? "#/" : href(["d", d.id])}>{d.title}</a> <span class="tag">{d.source}</span>
                  {d.id === "host" && <span class="sub"> opened per host from the fleet overview</span>}
                  {d.file && <div class="sub mono">{d.file}</div>}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      <p class="foot">
        Add dashboards as YAML files in the directory named by <code>server.dashboards_dir</code>; the schema is in docs/dashboards.md.
      </p>
    </main>
  );
}
