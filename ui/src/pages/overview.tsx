// The fleet overview (`#/`): every host with up, CPU, memory, fullest mount, load, failed units and firing
// alerts, sortable, with an hour of CPU as a sparkline. One query per column, whatever the number of hosts.
import { useEffect, useMemo, useState } from "preact/hooks";
import * as api from "../api";
import { Sparkline } from "../chart";
import { ErrorBox, RefreshPicker, useTick } from "../controls";
import { formatValue, thresholdColor } from "../format";
import { href, setParams, type Route } from "../route";
import type { Color } from "../api";

const FS = `fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|fuse.*"`;
// Five minutes holds enough samples for scrape intervals up to a minute and more.
const CPU = `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))`;
export const COLUMNS = {
  hosts: `max by (instance, nodename) (last_over_time(node_uname_info[1h]))`,
  up: `max by (instance) (up)`,
  cpu: CPU,
  mem: `100 * (1 - max by (instance) (node_memory_MemAvailable_bytes) / max by (instance) (node_memory_MemTotal_bytes))`,
  disk: `topk by (instance) (1, 100 * (1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}))`,
  load: `max by (instance) (node_load1)`,
  cores: `count by (instance) (node_cpu_seconds_total{mode="idle"})`,
  failed: `sum by (instance) (node_systemd_unit_state{state="failed"} == bool 1)`,
};

interface Host {
  instance: string;
  nodename: string;
  up: number | null;
  cpu: number | null;
  mem: number | null;
  disk: number | null;
  mount: string;
  load: number | null;
  cores: number | null;
  failed: number | null;
  alerts: number;
  spark: (number | null)[];
}

type Key = "instance" | "up" | "cpu" | "mem" | "disk" | "load" | "failed" | "alerts";

const PCT = [
  { value: 80, color: "orange" as Color },
  { value: 95, color: "red" as Color },
];
const CPU_T = [
  { value: 70, color: "orange" as Color },
  { value: 90, color: "red" as Color },
];

// One collator for the whole sort: `localeCompare` with options builds a new one for every comparison.
const NATURAL = new Intl.Collator(undefined, { numeric: true });

function byInstance(samples: api.InstantSample[]): Map<string, api.InstantSample> {
  return new Map(samples.map((s) => [s.metric.instance ?? "", s]));
}

function num(s: api.InstantSample | undefined): number | null {
  if (!s) return null;
  const v = Number(s.value[1]);
  return Number.isFinite(v) ? v : null;
}

async function load(signal: AbortSignal): Promise<Host[]> {
  const now = Date.now() / 1000;
  const step = 60;
  const end = Math.floor(now / step) * step;
  const start = end - 3600;
  const names = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];
  const [vectors, firing, spark] = await Promise.all([
    Promise.all(names.map((k) => api.queryVector(COLUMNS[k], now, signal))),
    api.alerts(signal).catch(() => [] as api.Alert[]),
    // Whole percents are under a pixel of the 24 px sparkline and halve the answer: 230 KB, not 420, for 200 hosts.
    api.queryRange(`round(${CPU})`, start, end, step, signal),
  ]);
  const col = Object.fromEntries(names.map((k, i) => [k, byInstance(vectors[i])])) as Record<keyof typeof COLUMNS, Map<string, api.InstantSample>>;
  const sparks = new Map(spark.map((s) => [s.metric.instance ?? "", s.values]));
  const alertCount = new Map<string, number>();
  for (const a of firing) {
    if (a.state !== "firing") continue;
    const key = a.labels.instance ?? a.labels.host;
    if (key) alertCount.set(key, (alertCount.get(key) ?? 0) + 1);
  }
  const n = Math.floor((end - start) / step) + 1;
  return [...col.hosts.keys()].map((instance) => {
    const series = new Array<number | null>(n).fill(null);
    for (const [t, v] of sparks.get(instance) ?? []) {
      const i = Math.round((t - start) / step);
      if (i >= 0 && i < n) series[i] = Number(v);
    }
    const nodename = col.hosts.get(instance)?.metric.nodename ?? "";
    return {
      instance,
      nodename,
      up: num(col.up.get(instance)),
      cpu: num(col.cpu.get(instance)),
      mem: num(col.mem.get(instance)),
      disk: num(col.disk.get(instance)),
      mount: col.disk.get(instance)?.metric.mountpoint ?? "",
      load: num(col.load.get(instance)),
      cores: num(col.cores.get(instance)),
      failed: num(col.failed.get(instance)),
      alerts: (alertCount.get(instance) ?? 0) + (nodename && nodename !== instance ? alertCount.get(nodename) ?? 0 : 0),
      spark: series,
    };
  });
}

function Pct({ v, t }: { v: number | null; t: typeof PCT }) {
  const c = thresholdColor(v, t);
  return (
    <span class={`pct num${c ? ` c-${c}` : ""}`}>
      {v === null ? "–" : formatValue(v, "percent")}
      {v !== null && (
        <span class="meter">
          <i style={{ width: `${Math.min(100, Math.max(0, v))}%` }} />
        </span>
      )}
    </span>
  );
}

export function Overview({ route }: { route: Route }) {
  const sort = (route.params.get("sort") as Key) || "instance";
  const desc = route.params.get("order") === "desc";
  const refresh = route.params.has("refresh") ? route.params.get("refresh") ?? "" : "30s";
  const filter = route.params.get("q") ?? "";
  const tick = useTick(refresh);
  const [hosts, setHosts] = useState<Host[] | null>(null);
  const [error, setError] = useState("");
  const [loadedAt, setLoadedAt] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    load(ctl.signal)
      .then((h) => {
        setHosts(h);
        setError("");
        setLoadedAt(Date.now());
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e.message);
      });
    return () => ctl.abort();
  }, [tick]);

  const rows = useMemo(() => {
    if (!hosts) return [];
    const f = filter.toLowerCase();
    const list = hosts.filter((h) => !f || h.instance.toLowerCase().includes(f) || h.nodename.toLowerCase().includes(f));
    const val = (h: Host) => (sort === "instance" ? h.instance : h[sort]);
    list.sort((a, b) => {
      const x = val(a);
      const y = val(b);
      let c: number;
      if (typeof x === "string" || typeof y === "string") c = NATURAL.compare(String(x), String(y));
      else c = (x ?? -Infinity) - (y ?? -Infinity);
      return desc ? -c : c;
    });
    return list;
  }, [hosts, sort, desc, filter]);

  const header = (key: Key, label: string, cls = "") => {
    const active = sort === key;
    return (
      <th class={cls} aria-sort={active ? (desc ? "descending" : "ascending") : "none"}>
        <button class="sort" onClick={() => setParams({ sort: key, order: active ? (desc ? undefined : "desc") : key === "instance" ? undefined : "desc" }, true)}>
          {label}
          <span class="arrow">{active ? (desc ? "▼" : "▲") : ""}</span>
        </button>
      </th>
    );
  };

  const down = hosts?.filter((h) => h.up === 0).length ?? 0;
  const firing = hosts?.reduce((n, h) => n + h.alerts, 0) ?? 0;
  return (
    <main class="page">
      <div class="toolbar">
        <h1>Fleet</h1>
        {hosts && (
          <span class="summary">
            <b class="num">{hosts.length}</b> hosts · <b class={`num${down ? " c-red" : ""}`}>{down}</b> down · <b class={`num${firing ? " c-red" : ""}`}>{firing}</b> firing alerts
          </span>
        )}
        <span class="grow" />
        <input class="search" type="search" placeholder="Filter hosts" value={filter} onInput={(e) => setParams({ q: (e.target as HTMLInputElement).value }, true)} aria-label="Filter hosts" />
        <RefreshPicker value={refresh} />
      </div>
      {error && <ErrorBox error={error} hint="The overview needs the server's query API; check that vigil is running and reachable." />}
      <div class="table-wrap">
        <table class="hosts">
          <thead>
            <tr>
              {header("instance", "Host", "left")}
              {header("up", "Up")}
              {header("cpu", "CPU")}
              <th class="spark-col">CPU, last hour</th>
              {header("mem", "Memory")}
              {header("disk", "Fullest disk")}
              {header("load", "Load 1m")}
              {header("failed", "Failed units")}
              {header("alerts", "Alerts")}
            </tr>
          </thead>
          <tbody>
            {!hosts && !error &&
              Array.from({ length: 3 }, () => (
                <tr class="skeleton">
                  <td colSpan={9}>&nbsp;</td>
                </tr>
              ))}
            {hosts && rows.length === 0 && (
              <tr>
                <td colSpan={9} class="empty-cell">
                  {hosts.length === 0
                    ? "No hosts yet. vigil up reports this machine after its first two collections (about 30 s); other hosts appear when their node metrics (node_uname_info) arrive by scrape or remote_write."
                    : "No host matches the filter."}
                </td>
              </tr>
            )}
            {rows.map((h) => (
              <tr data-host={h.instance}>
                <td class="left">
                  <a href={href(["host", h.instance])} class="host-link">
                    {h.instance}
                  </a>
                  {h.nodename && h.nodename !== h.instance && <div class="sub">{h.nodename}</div>}
                </td>
                <td>
                  <span class={`dot ${h.up === 1 ? "ok" : h.up === 0 ? "bad" : "unknown"}`} title={h.up === 1 ? "up" : h.up === 0 ? "down" : "unknown"} />
                </td>
                <td data-col="cpu">
                  <Pct v={h.cpu} t={CPU_T} />
                </td>
                <td class="spark-col">
                  <Sparkline values={h.spark} max={100} />
                </td>
                <td>
                  <Pct v={h.mem} t={PCT} />
                </td>
                <td title={h.mount}>
                  <Pct v={h.disk} t={PCT} />
                  {h.mount && <div class="sub">{h.mount}</div>}
                </td>
                <td class="num" title={h.cores ? `${h.cores} CPUs` : ""}>
                  <span class={h.load !== null && h.cores && h.load > h.cores ? "c-orange" : ""}>{formatValue(h.load)}</span>
                </td>
                <td class={`num${h.failed ? " c-red" : ""}`}>{h.failed === null ? "–" : h.failed}</td>
                <td class={`num${h.alerts ? " c-red" : ""}`}>{h.alerts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {loadedAt > 0 && <p class="foot">Updated {new Date(loadedAt).toLocaleTimeString()}{refresh ? `, every ${refresh}` : ""}.</p>}
    </main>
  );
}
