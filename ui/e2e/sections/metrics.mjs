// The metric pages: the fleet overview, a host's dashboard (its CPU chart has points, drag to zoom), explore
// with PromQL (table, graph, completion, the API's errors), the dashboard list, and the phone layout in dark.
import { join } from "node:path";

export default async function metricPages(t) {
  const { page, base, hostname, shots, check, fail, waitFor } = t;
  const cell = page.locator(`tr[data-host="${hostname}"] td[data-col="cpu"]`);
  // Overview: this host with a CPU percentage.
  await page.goto(`${base}/#/`);
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

  await page.setViewportSize(t.viewport);
  await page.evaluate(() => localStorage.removeItem("vigil.theme"));
  await page.reload(); // the next sections start in the default (light) theme
}
