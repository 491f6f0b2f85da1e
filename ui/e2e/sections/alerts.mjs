// The alerts page: the test rule's alert in its group, a silence made in the UI that keeps the alert out of
// the group's next notification (seen at the webhook), the notification history, expiring the silence, the
// rules tab, the filter in the URL, and the phone layout in the dark theme.
import { join } from "node:path";

const names = (body) => (body?.alerts ?? []).map((a) => a.labels?.alertname);

export default async function alertsPage(t) {
  const { page, base, shots, check, fail, waitFor, hook } = t;

  // The rule's alert, active, in the group the route makes by team.
  await page.goto(`${base}/#/alerts`);
  await page.reload(); // a change of hash alone keeps the theme an earlier section left
  const group = page.locator(`.alert-group[data-group='team="e2e"']`);
  const testAlert = group.locator('.alert[data-alertname="VigilE2ETest"]');
  await testAlert.waitFor({ timeout: 20000 });
  const state = await testAlert.getAttribute("data-state");
  if (state !== "active") fail(`VigilE2ETest is shown ${state}, not active`);
  if (!(await testAlert.locator(".badge.st-active").isVisible())) fail("VigilE2ETest has no active badge");
  check(`alerts page shows VigilE2ETest active in the team="e2e" group to receiver ${await group.getAttribute("data-receiver")}`);
  await page.screenshot({ path: join(shots, "alerts.png"), fullPage: true });

  // A silence made from the alert's Silence button.
  await waitFor("a firing webhook notification with VigilE2ETest", 20000, () => hook.bodies.find((b) => b.body?.status === "firing" && names(b.body).includes("VigilE2ETest")));
  await testAlert.locator(".silence-btn").click();
  const dialog = page.locator('[role="dialog"]');
  await dialog.waitFor({ timeout: 5000 });
  await dialog.locator('.matcher-row[data-name="severity"] button[aria-label="Remove matcher severity"]').click();
  const matchers = await dialog.locator(".matcher-row").evaluateAll((rows) => rows.map((r) => `${r.querySelector(".m-name").value}${r.querySelector(".m-op").value}${r.querySelector(".m-value").value}`));
  if (matchers.join(" ") !== "alertname=VigilE2ETest team=e2e") fail(`the silence form holds ${matchers.join(" ")}`);
  const preview = dialog.locator(".silence-preview");
  if ((await preview.getAttribute("data-count")) !== "1") fail(`the form's preview says: ${await preview.innerText()}`);
  await dialog.locator('input[name="author"]').fill("e2e");
  await dialog.locator('textarea[name="comment"]').fill("e2e: the silence must keep VigilE2ETest out of the next notification");
  // The page reloads its data every 10 s; an open form must keep what was typed.
  const updated = await page.locator(".foot").innerText();
  await waitFor("an automatic refresh with the form open", 15000, async () => (await page.locator(".foot").innerText()) !== updated);
  if (!(await dialog.locator('textarea[name="comment"]').inputValue()).startsWith("e2e:")) fail("the automatic refresh lost the comment typed in the silence form");
  await dialog.locator('button[type="submit"]').click();
  await dialog.waitFor({ state: "detached", timeout: 5000 });
  const id = (await page.locator(".notice a").innerText()).trim();
  if (!/^[0-9a-f-]{8,}$/i.test(id)) fail(`no silence id in the notice (${id})`);
  await page.locator("label.check", { hasText: "Show silenced" }).locator("input").check();
  await waitFor("show silenced in the URL", 5000, async () => page.url().includes("suppressed=1"));
  const silenced = group.locator('.alert[data-alertname="VigilE2ETest"][data-state="silenced"]');
  await silenced.waitFor({ timeout: 5000 });
  const link = await silenced.locator(".alert-why a").getAttribute("href");
  if (!link?.includes(`silence=${id}`)) fail(`the silenced alert links to ${link}, not to silence ${id}`);
  await page.screenshot({ path: join(shots, "alerts-silence.png"), fullPage: true });
  await page.locator('.tabs button[data-tab="silences"]').click();
  await page.locator(`[data-section="active"] .silence[data-id="${id}"][data-state="active"]`).waitFor({ timeout: 5000 });
  check(`silence ${id} made in the UI is active and VigilE2ETest shows silenced, linked to it`);
  await page.screenshot({ path: join(shots, "alerts-silences.png"), fullPage: true });

  // Another alert in the same group: its notification must not carry the silenced one.
  const before = hook.bodies.length;
  const post = await fetch(`${base}/api/v2/alerts`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify([{ labels: { alertname: "VigilE2EOther", team: "e2e", severity: "info" }, annotations: { summary: "Posted by the e2e test" }, startsAt: new Date().toISOString() }]),
  });
  if (!post.ok) fail(`POST /api/v2/alerts answered ${post.status}: ${await post.text()}`);
  const next = await waitFor("a webhook notification with VigilE2EOther", 20000, () => hook.bodies.slice(before).find((b) => names(b.body).includes("VigilE2EOther")));
  if (names(next.body).includes("VigilE2ETest")) fail(`the notification after the silence still carries VigilE2ETest: ${names(next.body).join(", ")}`);
  check(`the next notification of the group carries ${names(next.body).join(", ")} and not the silenced VigilE2ETest`);

  // The history: delivered entries, the newest with VigilE2EOther alone.
  await page.locator('.tabs button[data-tab="notifications"]').click();
  const delivered = page.locator('tr.notification[data-outcome="delivered"]');
  await waitFor("two delivered notifications in the history", 15000, async () => (await delivered.count()) >= 2);
  const newest = await page.locator("tr.notification").first().getAttribute("data-alertnames");
  if (newest !== "VigilE2EOther") fail(`the newest notification in the history carried "${newest}", not VigilE2EOther alone (the server must report each notification's alerts)`);
  check(`notification history shows ${await delivered.count()} delivered entries, the newest with VigilE2EOther only`);
  await page.screenshot({ path: join(shots, "alerts-notifications.png"), fullPage: true });

  // The filter is kept in the URL and applies to the alerts.
  await page.locator('.tabs button[data-tab="alerts"]').click();
  await group.locator('.alert[data-alertname="VigilE2EOther"]').waitFor({ timeout: 15000 });
  await page.locator(".alert-filter").fill('severity="info"');
  await waitFor("the filter in the URL", 5000, async () => decodeURIComponent(page.url()).includes('q=severity="info"'));
  await waitFor("the filter to hide VigilE2ETest", 5000, async () => (await page.locator('.alert[data-alertname="VigilE2ETest"]').count()) === 0);
  if ((await page.locator('.alert[data-alertname="VigilE2EOther"]').count()) !== 1) fail("the filter severity=\"info\" hides VigilE2EOther");
  await page.locator(".alert-filter").fill("");
  check('the filter severity="info" keeps VigilE2EOther only, and is kept in the URL');

  // Expire the silence from the UI.
  await page.goto(`${base}/#/alerts?tab=silences`);
  const card = page.locator(`.silence[data-id="${id}"]`);
  await card.locator("button", { hasText: "Expire" }).click();
  await card.locator("button", { hasText: "Yes, expire" }).click();
  await page.locator(`[data-section="expired"] .silence[data-id="${id}"][data-state="expired"]`).waitFor({ timeout: 10000 });
  if ((await page.locator(`[data-section="active"] .silence[data-id="${id}"]`).count()) !== 0) fail("the expired silence is still listed as active");
  check(`expiring silence ${id} in the UI moves it to the expired ones`);

  // Rules: the e2e group's rule fires, the security pack's rules are inactive.
  await page.goto(`${base}/#/alerts?tab=rules`);
  await page.locator('details.rule-group[data-group="e2e"] tr[data-rule="VigilE2ETest"][data-state="firing"]').waitFor({ timeout: 10000 });
  const security = page.locator('details.rule-group[data-group="vigil-security"] tr.rule');
  const states = await security.evaluateAll((rows) => rows.map((r) => r.dataset.state));
  if (!states.length || states.some((s) => s !== "inactive")) fail(`vigil-security rules are ${states.join(", ") || "missing"}, not all inactive`);
  check(`rules tab: e2e group with VigilE2ETest firing, ${states.length} vigil-security rules inactive`);
  await page.screenshot({ path: join(shots, "alerts-rules.png"), fullPage: true });

  // A phone, in the dark theme: no tab makes the page wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => localStorage.setItem("vigil.theme", "dark"));
  for (const tab of ["rules", "notifications", "silences", "alerts"]) {
    await page.goto(`${base}/#/alerts?tab=${tab}&suppressed=1`);
    await page.reload();
    await page.locator(".foot").waitFor({ timeout: 10000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) fail(`the alerts page's ${tab} tab is ${overflow} px wider than a 390 px phone`);
  }
  await group.locator(".alert").first().waitFor({ timeout: 10000 });
  await page.screenshot({ path: join(shots, "alerts-phone-dark.png"), fullPage: true });
  await group.locator('.alert[data-alertname="VigilE2EOther"] .silence-btn').click();
  await page.locator('[role="dialog"]').waitFor({ timeout: 5000 });
  const formOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (formOverflow > 0) fail(`the silence form is ${formOverflow} px wider than a 390 px phone`);
  await page.screenshot({ path: join(shots, "alerts-phone-form.png") });
  await page.keyboard.press("Escape");
  check("alerts page tabs and the silence form fit a 390 px phone, dark theme");

  await page.setViewportSize(t.viewport);
  await page.evaluate(() => localStorage.removeItem("vigil.theme"));
  await page.reload();
}
