// End-to-end test of the UI in a real headless Chromium: starts `vigil up` on a free port with a temporary
// data directory, waits for this host's CPU to be queryable, then loads each page and asserts real data (the
// host in the overview with a CPU number, a non-empty CPU chart on its dashboard, `up` in explore), that no
// request leaves the server and no script error happens. Screenshots go to target/ui-screenshots/.
//
// node e2e/run.mjs [--bin path/to/vigil]   (default: $CARGO_TARGET_DIR or ../target, then debug/vigil)
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const started = Date.now();
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const argBin = process.argv.indexOf("--bin");
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : join(repo, "target");
const bin = argBin > 0 ? resolve(process.argv[argBin + 1]) : join(targetDir, "debug/vigil");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(repo, "target/ui-screenshots");
for (const [what, path] of [["the vigil binary (cargo build -p vigil)", bin], ["Chromium (apt-get install chromium)", browserPath]]) {
  if (!existsSync(path)) {
    console.error(`ui e2e: FAIL: ${path} is missing: build or install ${what}`);
    process.exit(1);
  }
}

class Failure extends Error {}
function fail(message) {
  throw new Failure(message);
}

function freePort() {
  return new Promise((ok, err) => {
    const s = createServer();
    s.once("error", err);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/// Calls `f` until it returns a truthy value or `limitMs` passes.
async function waitFor(what, limitMs, f) {
  const deadline = Date.now() + limitMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`timed out after ${limitMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
}

const hostname = readFileSync("/proc/sys/kernel/hostname", "utf8").trim() || "localhost";
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(join(tmpdir(), "vigil-ui-e2e-"));
const profile = mkdtempSync(join(tmpdir(), "vigil-ui-chromium-"));
const vigil = spawn(bin, ["up", "--listen", `127.0.0.1:${port}`, "--data", join(data, "data")], {
  env: { ...process.env, VIGIL_LOG: "warn" },
  stdio: ["ignore", "ignore", "inherit"],
});
let exited = null;
vigil.on("exit", (code, signal) => (exited = signal ?? code));
let context;
const checks = [];
const check = (name) => {
  checks.push(name);
  console.log(`ui e2e: ok: ${name}`);
};

try {
  const cpu = encodeURIComponent(`rate(node_cpu_seconds_total{instance="${hostname}",mode="idle"}[1m])`);
  await waitFor("this host's CPU rate from vigil up (two collections, 15 s apart)", 45000, async () => {
    if (exited !== null) fail(`vigil up exited early (${exited})`);
    const r = await fetch(`${base}/api/v1/query?query=${cpu}`);
    const j = await r.json();
    return j.data?.result?.length > 0;
  });
  const index = await fetch(`${base}/`);
  const html = await index.text();
  if (!html.includes('<div id="app">')) fail("the binary serves no built UI at /: build ui/ (npm run build) before cargo build");
  const notFound = await fetch(`${base}/api/v1/no-such-endpoint`);
  if (notFound.status !== 404 || (await notFound.json()).errorType !== "not_found") fail("an unknown /api/ path must answer a JSON 404");
  check("served index.html, JSON 404 for unknown API paths");

  context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1366, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(`script error: ${e.message}`));
  // The browser logs every 4xx as a console error; the explore error check makes one on purpose.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(`console error: ${m.text()}`));
  page.on("response", (r) => (r.status() >= 500 || (r.status() === 404 && !r.url().includes("/api/"))) && errors.push(`${r.status()} for ${r.url()}`));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith("data:")) errors.push(`external request: ${u}`);
  });
  mkdirSync(shots, { recursive: true });

  // Overview: this host with a CPU percentage.
  await page.goto(`${base}/#/`);
  const cell = page.locator(`tr[data-host="${hostname}"] td[data-col="cpu"]`);
  await cell.waitFor({ timeout: 15000 });
  await waitFor("a CPU percentage in the overview", 15000, async () => /\d+(\.\d+)?%/.test(await cell.innerText()));
  check(`overview lists ${hostname} with CPU ${(await cell.innerText()).trim()}`);
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  // Sorting keeps the state in the URL.
  await page.locator("th button", { hasText: "CPU" }).first().click();
  await waitFor("the sort in the URL", 5000, async () => page.url().includes("sort=cpu"));
  check("sorting by CPU is kept in the URL");

  // Host dashboard: the CPU chart has points.
  await page.goto(`${base}/#/host/${encodeURIComponent(hostname)}?from=now-15m&to=now`);
  const points = await waitFor("points in the CPU by mode chart", 20000, () =>
    page.evaluate(() => {
      const el = document.querySelector('[data-panel="CPU by mode"] .chart');
      const u = el && el.__uplot;
      if (!u || u.data.length < 2) return 0;
      return u.data.slice(1).reduce((n, s) => n + s.filter((v) => v !== null && v !== undefined).length, 0);
    }),
  );
  check(`host dashboard's CPU by mode chart has ${points} points`);
  await waitFor("the CPU busy stat", 10000, async () => /\d/.test(await page.locator('[data-panel="CPU busy"] .stat').innerText()));
  await page.waitForTimeout(300); // let the other panels settle for the screenshot
  await page.screenshot({ path: join(shots, "host.png"), fullPage: true });

  // Drag to zoom on the chart changes the range in the URL.
  const box = await page.locator('[data-panel="CPU by mode"] .u-over').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await waitFor("an absolute range in the URL after zooming", 5000, async () => /from=\d{13}&to=\d{13}/.test(page.url()));
  check("drag to zoom sets an absolute range in the URL");

  // Explore: `up` in the table.
  await page.goto(`${base}/#/explore?q=up`);
  const row = page.locator("table.result tbody tr", { hasText: `instance="${hostname}"` });
  await row.first().waitFor({ timeout: 10000 });
  check(`explore runs up and shows ${await page.locator("table.result tbody tr").count()} rows`);
  await page.screenshot({ path: join(shots, "explore.png"), fullPage: true });
  await page.locator(".tabs button", { hasText: "Graph" }).click();
  await waitFor("the explore graph", 10000, () => page.evaluate(() => !!document.querySelector(".graph .chart")?.__uplot));
  await page.screenshot({ path: join(shots, "explore-graph.png"), fullPage: true });
  check("explore graph tab draws a chart");

  // Autocompletion of metric names.
  await page.goto(`${base}/#/explore`);
  await page.locator("textarea.query").fill("");
  await page.locator("textarea.query").pressSequentially("node_loa");
  await page.locator(".suggest li", { hasText: "node_load1" }).first().waitFor({ timeout: 5000 });
  check("explore completes node_loa to node_load1");

  // An error from the API is shown as it comes.
  await page.goto(`${base}/#/explore?q=${encodeURIComponent("sum(")}`);
  await page.locator(".error").waitFor({ timeout: 5000 });
  check(`explore shows the API's error: ${(await page.locator(".error").innerText()).split("\n")[0].slice(0, 80)}`);

  await page.goto(`${base}/#/dashboards`);
  await page.locator(".dash-list li").first().waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(shots, "dashboards.png") });

  // A phone, in the dark theme.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => localStorage.setItem("vigil.theme", "dark"));
  await page.goto(`${base}/#/`);
  await page.reload(); // a change of hash alone does not load the page again
  await cell.waitFor({ timeout: 10000 });
  if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== "dark") fail("the dark theme kept in localStorage was not applied");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the overview is ${overflow} px wider than a 390 px phone`);
  await page.screenshot({ path: join(shots, "overview-phone-dark.png"), fullPage: true });
  await page.goto(`${base}/#/host/${encodeURIComponent(hostname)}?from=now-15m`);
  await page.locator('[data-panel="CPU by mode"] .chart canvas').waitFor({ timeout: 10000 });
  await page.screenshot({ path: join(shots, "host-phone-dark.png"), fullPage: true });
  check("phone layout fits 390 px, dark theme from localStorage");

  if (errors.length) fail(errors.join("\n"));
  check("no script errors, no external requests");
  console.log(`ui e2e: ${checks.length} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
} catch (e) {
  process.exitCode = 1;
  console.error(`ui e2e: FAIL: ${e instanceof Failure ? e.message : e.stack ?? e}`);
} finally {
  await context?.close().catch(() => {});
  vigil.kill("SIGTERM");
  await new Promise((r) => (exited !== null ? r() : vigil.once("exit", r)));
  rmSync(data, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
