// Page load benchmark of the web UI in headless Chromium, against a vigil that already has the data (see
// bench/ui-page-load.sh): loads the fleet overview and one host's dashboard, cold (a new browser context: empty
// HTTP cache) and warm (a context that loaded the page before), RUNS times each, interleaved, and prints the
// median time from navigation start to "complete", with where the time went.
//
// "Complete" is the first animation frame in which the page shows everything:
//   overview: the table has --hosts rows, each with a CPU percentage and its sparkline's path drawn;
//   host dashboard: every panel of the `host` dashboard is on the page and has its data: a stat panel a number,
//   a time series panel a uPlot chart with points, a logs panel its lines. A panel that settles without data
//   ("no data", an error) fails the run, naming the panel: the benchmark's data must fill every panel.
// The time is `performance.now()` in that frame's requestAnimationFrame callback, so it counts from the
// navigation's start and includes fetching the page, its script, the API requests and rendering.
//
// node e2e/page-load.mjs --base http://127.0.0.1:9090 --hosts 200 --host host-3:9100 [--runs 7] [--range now-6h]
//                        [--mbit 10 [--rtt 20]] [--profile] [--shots DIR]
//   --range is the dashboard's time range (default: its own, the last hour); --mbit and --rtt emulate a network
//   link of that bandwidth (both ways) and round trip time; --profile also prints each API request of the median
//   runs (queued for a connection, waiting for the server, downloading) and when each panel was drawn; --shots
//   saves a screenshot of each page as the last run left it (page-load-overview.png, page-load-host.png).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const base = opt("base");
const hosts = Number(opt("hosts", "200"));
const host = opt("host");
const runs = Number(opt("runs", "7"));
const range = opt("range", "");
const profile = args.includes("--profile");
const mbit = Number(opt("mbit", "0"));
const rtt = Number(opt("rtt", mbit ? "20" : "0"));
const shots = opt("shots", "");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!base || !host || !(runs > 0) || !(hosts > 0)) {
  console.error("usage: node e2e/page-load.mjs --base URL --hosts N --host INSTANCE [--runs N] [--range now-6h] [--mbit N [--rtt MS]] [--profile] [--shots DIR]");
  process.exit(2);
}
const LIMIT_MS = 60000;

const dash = await (await fetch(`${base}/api/v1/dashboards/host`)).json();
if (dash.status !== "success") throw new Error(`GET /api/v1/dashboards/host: ${dash.error}`);
const panels = dash.data.rows.flatMap((r) => r.panels).length;
const hostUrl = `${base}/#/host/${encodeURIComponent(host)}${range ? `?from=${range}&to=now` : ""}`;
const PAGES = [
  { name: "overview", url: `${base}/#/`, what: `${hosts} rows with CPU and sparkline`, shot: "page-load-overview.png" },
  { name: "host dashboard", url: hostUrl, what: `${panels} panels with data`, shot: "page-load-host.png" },
];

/// Runs in the page before its own script: checks the page each frame after the DOM changed and keeps the
/// time of the first frame in which it is complete, or what was missing once every panel settled.
function watch({ hosts, panels }) {
  const state = (window.__pageLoad = { at: null, failed: null, panels: {} });
  const overview = () => {
    const rows = document.querySelectorAll("tr[data-host]");
    if (rows.length !== hosts) return false;
    for (const r of rows) {
      if (!/\d/.test(r.querySelector('td[data-col="cpu"]')?.textContent ?? "")) return false;
      if (!r.querySelector("svg.spark path")?.getAttribute("d")) return false;
    }
    return true;
  };
  const hasData = (p) => {
    if (p.classList.contains("panel-stat")) return /\d/.test(p.querySelector(".stat")?.textContent ?? "");
    if (p.classList.contains("panel-logs")) return p.querySelectorAll(".log").length > 0;
    const u = p.querySelector(".chart")?.__uplot;
    return !!u && u.data.slice(1).some((s) => s.some((v) => v !== null && v !== undefined));
  };
  const settled = (p) => hasData(p) || !!p.querySelector(".error, .empty, .stat-value.muted[title]");
  const dashboard = () => {
    const all = [...document.querySelectorAll("section.panel")];
    for (const p of all) if (!state.panels[p.dataset.panel] && hasData(p)) state.panels[p.dataset.panel] = performance.now();
    if (all.length !== panels || !all.every(settled)) return false;
    const empty = all.filter((p) => !hasData(p)).map((p) => p.dataset.panel);
    if (empty.length) state.failed = `panels without data: ${empty.join(", ")}`;
    return true;
  };
  let dirty = true;
  const frame = () => {
    if (dirty) {
      dirty = false;
      if (location.hash.startsWith("#/host/") ? dashboard() : overview()) {
        state.at = performance.now();
        observer.disconnect();
        return;
      }
    }
    requestAnimationFrame(frame);
  };
  const observer = new MutationObserver(() => (dirty = true));
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  requestAnimationFrame(frame);
}

/// Loads `page.url` in `tab` and returns the time to complete and the request timings.
async function measure(tab, page) {
  await tab.goto("about:blank");
  await tab.goto(page.url);
  await tab.waitForFunction(() => window.__pageLoad?.at !== null, null, { timeout: LIMIT_MS, polling: 100 }).catch(async () => {
    throw new Error(`${page.name}: not complete (${page.what}) after ${LIMIT_MS} ms`);
  });
  return tab.evaluate(() => {
    const { at, failed, panels } = window.__pageLoad;
    const nav = performance.getEntriesByType("navigation")[0];
    const api = performance
      .getEntriesByType("resource")
      .filter((e) => /^\/(api|loki)\//.test(new URL(e.name).pathname) && e.startTime < at)
      .map((e) => {
        const u = new URL(e.name);
        const q = u.searchParams.get("query");
        return {
          what: `${u.pathname.replace(/^\/(loki\/)?api\/v1\//, "$1")}${q ? ` ${q}` : ""}`,
          start: e.startTime,
          queued: e.requestStart - e.startTime,
          server: e.responseStart - e.requestStart,
          download: e.responseEnd - e.responseStart,
          end: e.responseEnd,
          bytes: e.encodedBodySize,
        };
      });
    const script = performance.getEntriesByType("resource").find((e) => /\/ui\/app-.*\.js$/.test(e.name));
    return {
      complete: at,
      failed,
      html: nav.responseEnd,
      script: script?.responseEnd ?? 0,
      firstApi: Math.min(...api.map((r) => r.start)),
      lastApi: Math.max(...api.map((r) => r.end)),
      requests: api.length,
      slowestServer: Math.max(...api.map((r) => r.server)),
      api,
      panels,
    };
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const browser = await chromium.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const viewport = { width: 1366, height: 900 };
const newContext = async () => {
  const ctx = await browser.newContext({ viewport });
  await ctx.addInitScript(watch, { hosts, panels });
  return ctx;
};
/// A new tab of `ctx`, behind the emulated link if there is one.
async function newTab(ctx) {
  const tab = await ctx.newPage();
  if (mbit > 0) {
    const cdp = await ctx.newCDPSession(tab);
    await cdp.send("Network.enable");
    const bytesPerSecond = (mbit * 1e6) / 8;
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: rtt, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond });
  }
  return tab;
}
const results = new Map();
const record = (page, mode, r) => {
  if (r.failed) throw new Error(`${page.name}: ${r.failed}`);
  const key = `${page.name}\u0000${mode}`;
  if (!results.has(key)) results.set(key, []);
  results.get(key).push(r);
};

try {
  // Warm: one context per page, whose first load (not counted) fills the HTTP cache.
  const warm = new Map();
  for (const page of PAGES) {
    const ctx = await newContext();
    const tab = await newTab(ctx);
    await measure(tab, page);
    warm.set(page.name, tab);
  }
  for (let i = 0; i < runs; i++) {
    for (const page of PAGES) {
      const ctx = await newContext();
      record(page, "cold", await measure(await newTab(ctx), page));
      await ctx.close();
      record(page, "warm", await measure(warm.get(page.name), page));
    }
  }
  if (shots) {
    mkdirSync(shots, { recursive: true });
    for (const page of PAGES) await warm.get(page.name).screenshot({ path: join(shots, page.shot), fullPage: true });
  }
} finally {
  await browser.close();
}

const ms = (v) => `${Math.round(v)}`.padStart(6);
const link = mbit > 0 ? `, over an emulated ${mbit} Mbit/s link with ${rtt} ms round trips` : "";
console.log(`median of ${runs} runs, ms from navigation start${link}; complete = ${PAGES.map((p) => `${p.name}: ${p.what}`).join("; ")}`);
console.log(`${"page".padEnd(15)} ${"mode".padEnd(5)} ${"complete".padStart(8)} ${"min".padStart(6)} ${"max".padStart(6)} ${"script".padStart(6)} ${"1st api".padStart(7)} ${"last api".padStart(8)} ${"reqs".padStart(4)} ${"slowest".padStart(7)}`);
for (const page of PAGES) {
  for (const mode of ["cold", "warm"]) {
    const rs = results.get(`${page.name}\u0000${mode}`);
    const m = (f) => median(rs.map(f));
    const complete = rs.map((r) => r.complete);
    console.log(
      `${page.name.padEnd(15)} ${mode.padEnd(5)} ${ms(m((r) => r.complete)).padStart(8)} ${ms(Math.min(...complete))} ${ms(Math.max(...complete))} ${ms(m((r) => r.script))} ${ms(m((r) => r.firstApi)).padStart(7)} ${ms(m((r) => r.lastApi)).padStart(8)} ${String(m((r) => r.requests)).padStart(4)} ${ms(m((r) => r.slowestServer)).padStart(7)}`,
    );
  }
}
console.log("script: app script loaded; 1st/last api: first API request sent, last answer received; slowest: longest server wait of one request");
if (profile) {
  for (const page of PAGES) {
    for (const mode of ["cold", "warm"]) {
      const rs = results.get(`${page.name}\u0000${mode}`);
      const mid = rs.find((r) => r.complete === median(rs.map((x) => x.complete)));
      console.log(`\n${page.name}, ${mode}, the median run (${Math.round(mid.complete)} ms): API requests, ms`);
      console.log(`${"start".padStart(6)} ${"queued".padStart(6)} ${"server".padStart(6)} ${"dl".padStart(4)} ${"end".padStart(6)} ${"KiB".padStart(6)}  request`);
      for (const r of mid.api.sort((a, b) => a.start - b.start)) {
        console.log(`${ms(r.start)} ${ms(r.queued)} ${ms(r.server)} ${ms(r.download).slice(2)} ${ms(r.end)} ${(r.bytes / 1024).toFixed(1).padStart(6)}  ${r.what.slice(0, 110)}`);
      }
      const drawn = Object.entries(mid.panels).sort((a, b) => a[1] - b[1]);
      if (drawn.length) console.log(`panels drawn with data, ms: ${drawn.map(([name, t]) => `${name} ${Math.round(t)}`).join(", ")}`);
    }
  }
}
