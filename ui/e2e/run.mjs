// End-to-end test of the UI in a real headless Chromium: starts `vigil up` on a free port with a temporary
// data directory and a config that adds a test alert rule, a webhook receiver served here, a log file and an
// auth log the agent reads; waits for this host's CPU to be queryable, then runs each section of sections/
// (pages, in order) against it, and checks that no request leaves the server and no script error happens.
// Screenshots go to target/ui-screenshots/.
//
// node e2e/run.mjs [--bin path/to/vigil] [section...]   (default binary: $CARGO_TARGET_DIR or ../target, then
// debug/vigil; default sections: all)
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
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
const ALL_SECTIONS = ["metrics", "logs", "alerts", "security", "host"];
const named = process.argv.slice(2).filter((a, i, all) => a !== "--bin" && all[i - 1] !== "--bin");
const SECTIONS = named.length ? named : ALL_SECTIONS;
for (const s of SECTIONS) if (!ALL_SECTIONS.includes(s)) throw new Error(`no e2e section ${s}: one of ${ALL_SECTIONS.join(", ")}`);
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

/// The webhook receiver: every notification body vigil sends, in arrival order.
const hook = { bodies: [], url: "" };
const hookServer = createHttpServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    try {
      hook.bodies.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
    } catch (e) {
      hook.bodies.push({ at: Date.now(), error: String(e) });
    }
    res.writeHead(200).end("ok");
  });
});
await new Promise((ok) => hookServer.listen(0, "127.0.0.1", ok));
hook.url = `http://127.0.0.1:${hookServer.address().port}/hook`;

/// Files the agent reads: an application log (job "e2e"), an auth log the guard parses and a threat-intel list
/// (feed "e2e") it checks every event's address against.
const files = { appLog: join(data, "app.log"), authLog: join(data, "auth.log"), intelFeed: join(data, "intel.txt") };
writeFileSync(files.appLog, "");
writeFileSync(files.authLog, "");
writeFileSync(files.intelFeed, "# the e2e test's threat-intel list\n203.0.113.99\n");
/// Appends lines to one of `files`, as a program writing its log would.
function appendLines(path, lines) {
  appendFileSync(path, lines.map((l) => `${l}\n`).join(""));
}

writeFileSync(
  join(data, "rules.yml"),
  `groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: VigilE2ETest
        expr: vector(1)
        labels: {severity: warning, team: e2e}
        annotations: {summary: "The e2e test's alert, always firing"}
`,
);
writeFileSync(
  join(data, "vigil.yml"),
  `global:
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  route:
    receiver: e2e
    group_by: [team]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: e2e
      webhook_configs:
        - url: ${hook.url}
          send_resolved: true
agent:
  logs:
    push_url: ${base}/loki/api/v1/push
    data_dir: ${join(data, "agent")}
    batch_max_wait: 100ms
    poll_interval: 100ms
    sources:
      - files: [${files.appLog}]
        labels: {job: e2e}
  guard:
    sources:
      - path: ${files.authLog}
    fleet:
      url: ${base}
      poll_interval: 1s
    intel:
      feeds:
        - name: e2e
          path: ${files.intelFeed}
`,
);
const vigil = spawn(bin, ["up", "--config", join(data, "vigil.yml"), "--listen", `127.0.0.1:${port}`, "--data", join(data, "data")], {
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

  const viewport = { width: 1366, height: 900 };
  const t = { page, base, hostname, shots, check, fail, waitFor, hook, files, viewport, appendLines };
  for (const section of SECTIONS) {
    const { default: run } = await import(`./sections/${section}.mjs`);
    await run(t);
  }

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
  hookServer.close();
  rmSync(data, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
