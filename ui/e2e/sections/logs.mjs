// Logs in Explore: a log line found by a search (needle marked, line expanded to its labels), the volume
// histogram, live tail picking up a new line without a reload, completion of stream labels and values, a LogQL
// metric query's graph, the API's error, a dashboard logs panel's link into Explore, and the phone layout.
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export default async function logs(t) {
  const { page, base, hostname, shots, check, fail, waitFor, files, appendLines } = t;
  const token = `e2e${randomBytes(6).toString("hex")}`;
  appendLines(files.appLog, [
    'level=info msg="request served" path=/cart',
    `level=error msg="payment failed" order=${token}`,
    "level=debug msg=\"cache miss\" key=cart",
  ]);
  const query = `{job="e2e"} |= "${token}"`;
  const explore = `${base}/#/explore?mode=logs&q=${encodeURIComponent(query)}`;
  // The agent ships the lines within a poll or two; the page reads what the store has when it opens.
  await waitFor("the new line in the log store", 20000, async () => {
    const r = await fetch(`${base}/loki/api/v1/query_range?query=${encodeURIComponent(query)}&limit=10`);
    const j = await r.json();
    return j.data?.result?.some((s) => s.values.length > 0);
  });

  // A log line found by a search, the needle marked.
  await page.goto(explore);
  const found = page.locator(".explore-lines .log", { hasText: "payment failed" });
  await found.first().waitFor({ timeout: 10000 });
  const marked = await found.first().locator("mark").allInnerTexts();
  if (!marked.includes(token)) fail(`the search's needle is not marked in the line (marks: ${JSON.stringify(marked)})`);
  if ((await page.locator(".explore-lines .log").count()) !== 1) fail("the search shows lines without its needle");
  check(`a log line found by a search, ${token} marked`);

  // Expanded, the line shows its stream labels.
  await found.first().locator(".log-row").click();
  const label = (name) => found.first().locator(`.log-detail tr[data-label="${name}"] td`).first();
  await label("job").waitFor({ timeout: 5000 });
  const job = await label("job").innerText();
  const host = await label("host").innerText();
  if (job !== "e2e" || host !== hostname) fail(`the expanded line shows job=${job} host=${host}, not job=e2e host=${hostname}`);
  check(`the expanded line shows its labels job=${job}, host=${host}`);

  // The volume histogram counts the line.
  const total = await waitFor("a non-zero bar in the volume histogram", 10000, () =>
    page.evaluate(() => {
      const u = document.querySelector(".volume .chart")?.__uplot;
      if (!u) return 0;
      return u.data.slice(1).reduce((n, s) => Math.max(n, ...s.map((v) => v ?? 0)), 0);
    }),
  );
  check(`the volume histogram has a bar of ${total} line(s)`);
  await page.screenshot({ path: join(shots, "explore-logs.png"), fullPage: true });

  // Live tail: a line written now appears without reloading the page.
  await page.evaluate(() => (window.__e2eSamePage = true));
  await page.locator("button", { hasText: "Live tail" }).click();
  const tailed = (text) => page.locator(".tail-lines .log", { hasText: text });
  await tailed("payment failed").first().waitFor({ timeout: 10000 });
  appendLines(files.appLog, [`level=warn msg="retrying payment" order=${token} attempt=2`]);
  await tailed("retrying payment").first().waitFor({ timeout: 15000 });
  if (!(await page.evaluate(() => window.__e2eSamePage === true))) fail("the page was reloaded during live tail");
  if ((await tailed(token).count()) !== 2) fail(`live tail shows ${await tailed(token).count()} lines of the search, not 2 (a line twice or lost)`);
  const marks = await tailed("retrying payment").first().locator("mark").allInnerTexts();
  if (!marks.includes(token)) fail("live tail does not mark the needle");
  check("live tail shows a new line without a reload, once");
  await page.screenshot({ path: join(shots, "explore-tail.png"), fullPage: true });
  await page.locator(".tail-head button", { hasText: "Pause" }).click();
  await page.locator(".tail-head", { hasText: "Paused" }).waitFor({ timeout: 5000 });
  await page.locator(".tail-head button", { hasText: "Stop" }).click();
  await page.locator(".volume").waitFor({ timeout: 5000 });
  check("live tail pauses and stops back to the range's lines");

  // Load older: 150 lines in three batches (the agent stamps each batch with its own time), 100 at a time.
  const bulk = `bulk${randomBytes(4).toString("hex")}`;
  const stored = async () => {
    const r = await fetch(`${base}/loki/api/v1/query_range?query=${encodeURIComponent(`{job="e2e"} |= "${bulk}"`)}&limit=1000`);
    return ((await r.json()).data?.result ?? []).reduce((n, s) => n + s.values.length, 0);
  };
  for (let b = 0; b < 3; b++) {
    appendLines(files.appLog, Array.from({ length: 50 }, (_, i) => `level=info msg="bulk line" tag=${bulk} n=${b * 50 + i}`));
    await waitFor(`batch ${b + 1} of the bulk lines in the store`, 20000, async () => (await stored()) === (b + 1) * 50);
  }
  await page.goto(`${base}/#/explore?mode=logs&limit=100&q=${encodeURIComponent(`{job="e2e"} |= "${bulk}"`)}`);
  const shown = page.locator(".explore-lines .log");
  await waitFor("the first 100 bulk lines", 10000, async () => (await shown.count()) === 100);
  if (!(await shown.first().innerText()).includes("n=149")) fail(`the newest line is not first: ${await shown.first().innerText()}`);
  const older = page.locator("button.older");
  await older.click();
  await waitFor("150 bulk lines after loading older ones", 10000, async () => (await shown.count()) === 150);
  if (await older.isVisible()) {
    await older.click();
    await older.waitFor({ state: "detached", timeout: 10000 });
  }
  const ns = (await shown.allInnerTexts()).map((l) => /n=(\d+)/.exec(l)?.[1]);
  if (new Set(ns).size !== 150 || ns.includes(undefined)) fail(`load older shows ${new Set(ns).size} distinct bulk lines of 150`);
  if (!(await page.locator(".logs-count").innerText()).includes("all the range has")) fail("after the oldest line, the count does not say all lines are shown");
  check("load older reads 150 lines 100 at a time, each once, then stops");

  // Completion of stream label names inside `{`, and of a label's values.
  await page.goto(`${base}/#/explore?mode=logs`);
  const editor = page.locator("textarea.query");
  await editor.fill("");
  await editor.pressSequentially("{");
  const option = (text) => page.locator(".suggest li").filter({ hasText: new RegExp(`^.${text}$`) });
  await option("job").first().waitFor({ timeout: 5000 });
  await editor.pressSequentially('job="');
  await option("e2e").first().waitFor({ timeout: 5000 });
  check("LogQL completion offers job inside { and e2e as its value");

  // The mode is in the URL: Metrics and back.
  await page.locator(".segmented button", { hasText: "Metrics" }).click();
  await waitFor("Metrics mode in the URL", 5000, async () => !page.url().includes("mode=logs"));
  await page.locator(".segmented button", { hasText: "Logs" }).click();
  await waitFor("Logs mode in the URL", 5000, async () => page.url().includes("mode=logs"));
  check("the Metrics | Logs switch keeps the mode in the URL");

  // A metric query draws a graph; a broken one shows the server's message.
  await page.goto(`${base}/#/explore?mode=logs&q=${encodeURIComponent('sum by (job) (count_over_time({job="e2e"}[1m]))')}&from=now-15m`);
  await waitFor("the LogQL metric graph", 10000, () => page.evaluate(() => (document.querySelector(".graph .chart")?.__uplot?.data.length ?? 0) > 1));
  check("a LogQL metric query draws a graph");
  await page.goto(`${base}/#/explore?mode=logs&q=${encodeURIComponent('{job="e2e"} |=')}`);
  await page.locator(".error").waitFor({ timeout: 5000 });
  const error = (await page.locator(".error").innerText()).replace(/^Error:\s*/, "").split("\n")[0];
  if (!/parse error|syntax error/i.test(error)) fail(`the log query's error is not the server's parse error: ${error}`);
  check(`explore shows the log query's error: ${error.slice(0, 80)}`);

  // The host dashboard's logs panel: the same expandable lines, and a link to Explore with its query and range.
  await page.goto(`${base}/#/host/${encodeURIComponent(hostname)}?from=now-30m&to=now`);
  const panel = page.locator('[data-panel="Recent logs"]');
  const panelLine = panel.locator(".log", { hasText: token }).first();
  await panelLine.waitFor({ timeout: 15000 });
  await panelLine.locator(".log-row").click();
  await panelLine.locator('.log-detail tr[data-label="job"]').waitFor({ timeout: 5000 });
  await panel.locator("a", { hasText: "Explore" }).click();
  await waitFor("Explore with the panel's query and range", 5000, async () => {
    const u = new URL(page.url());
    const p = new URLSearchParams(u.hash.split("?")[1] ?? "");
    return p.get("mode") === "logs" && p.get("q") === `{host="${hostname}", job!="security"}` && p.get("from") === "now-30m";
  });
  await page.locator(".explore-lines .log", { hasText: token }).first().waitFor({ timeout: 10000 });
  check("a dashboard logs panel expands lines and opens its query in Explore");

  // A phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(explore);
  await page.reload();
  await page.locator(".explore-lines .log", { hasText: token }).first().waitFor({ timeout: 10000 });
  await page.locator(".explore-lines .log-row").first().click();
  await page.locator(".log-detail").first().waitFor({ timeout: 5000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`explore's logs are ${overflow} px wider than a 390 px phone`);
  await page.screenshot({ path: join(shots, "explore-logs-phone.png"), fullPage: true });
  check("explore's logs fit a 390 px phone");
  await page.setViewportSize(t.viewport);
}
