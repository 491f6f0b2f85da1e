// The security page: sshd and sudo lines written to the auth log show in the auth events table (filters in the
// URL, raw line on a click), the summary and histogram count them; the sshd jail's detect-mode ban and the
// threat-intel match are listed; an address banned from the form is on the fleet list (page and API) until
// Unban; the server's refusal is shown as it says it; the phone layout fits 390 px.
import { join } from "node:path";

const ATTACKER = "203.0.113.7";
const LISTED = "203.0.113.99"; // in the harness's intel feed "e2e"
const ALICE_FROM = "198.51.100.4";
const MANUAL = "192.0.2.77";
const HOSTILE = `"><img/src=x/onerror=window.__pwned=1>${"A".repeat(300)}`;
const HOSTILE_FROM = "203.0.113.50";

/// A classic syslog timestamp (`Nov  2 09:05:01`) of now, in local time as rsyslog writes it.
function syslogNow() {
  const d = new Date();
  const mon = d.toLocaleString("en-US", { month: "short" });
  const pad = (n) => String(n).padStart(2, "0");
  return `${mon} ${String(d.getDate()).padStart(2, " ")} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

async function logCount(base, query) {
  const u = new URL(`${base}/loki/api/v1/query_range`);
  u.searchParams.set("query", query);
  u.searchParams.set("limit", "1000");
  u.searchParams.set("start", String((Date.now() - 3600_000) * 1e6));
  const j = await (await fetch(u)).json();
  return (j.data?.result ?? []).reduce((n, s) => n + s.values.length, 0);
}

async function apiBans(base) {
  const j = await (await fetch(`${base}/api/v1/bans`)).json();
  return j.data?.bans ?? [];
}

export default async function securityPage(t) {
  const { page, base, hostname, shots, check, fail, waitFor, files, appendLines } = t;
  const ts = syslogNow();
  appendLines(files.authLog, [
    ...Array.from({ length: 6 }, (_, i) => `${ts} ${hostname} sshd[${4100 + i}]: Failed password for invalid user admin from ${ATTACKER} port ${5022 + i} ssh2`),
    `${ts} ${hostname} sshd[4200]: Accepted publickey for alice from ${ALICE_FROM} port 40022 ssh2: ED25519 SHA256:e2eKeyFingerprint`,
    `${ts} ${hostname} sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx`,
    `${ts} ${hostname} sshd[4300]: Failed password for root from ${LISTED} port 6000 ssh2`,
    // A client picks the user name: markup in it must stay text.
    `${ts} ${hostname} sshd[4400]: Failed password for invalid user ${HOSTILE} from ${HOSTILE_FROM} port 7000 ssh2`,
  ]);
  // The records are in the store before the page is asked; then the page has to show them.
  await waitFor("the guard's records of the new auth lines", 20000, async () => (await logCount(base, `{job="security"} | event_action=~"ssh-login|sudo-command"`)) >= 9);

  const url = `${base}/#/security?from=now-15m&to=now&refresh=10s`;
  await page.goto(url);
  const auth = page.locator("table.sec-auth");
  const failRows = auth.locator(`tr.sec-row[data-action="ssh-login"][data-outcome="failure"]`, { hasText: ATTACKER });
  await waitFor(`6 failed ssh logins from ${ATTACKER} in the auth events table`, 20000, async () => (await failRows.count()) >= 6);
  await auth.locator(`tr.sec-row[data-action="ssh-login"][data-outcome="success"]`, { hasText: ALICE_FROM }).filter({ hasText: "alice" }).waitFor({ timeout: 5000 });
  await auth.locator(`tr.sec-row[data-action="sudo-command"]`, { hasText: "/usr/bin/systemctl restart nginx" }).waitFor({ timeout: 5000 });
  if (!/failure/.test(await failRows.first().locator(".outcome").innerText())) fail("a failed login's outcome badge does not say failure");
  const hostile = auth.locator("tr.sec-row", { hasText: HOSTILE_FROM });
  await hostile.waitFor({ timeout: 5000 });
  if (!(await hostile.innerText()).includes('"><img/src=x')) fail("a user name with markup is not shown as text");
  if ((await auth.locator("img").count()) > 0 || (await page.evaluate(() => window.__pwned))) fail("a user name's markup became an element");
  check(`auth events table lists the 6 failed logins from ${ATTACKER}, alice's accepted login from ${ALICE_FROM}, her sudo command, and a user name with markup as text`);

  const stat = (id) => page.locator(`[data-stat="${id}"] .sec-stat-value`);
  await waitFor("the summary's counts", 10000, async () => Number(await stat("failed").innerText()) >= 8 && Number(await stat("success").innerText()) >= 1 && Number(await stat("sudo").innerText()) >= 1);
  const bars = await waitFor("failed logins in the histogram", 10000, () =>
    page.evaluate(() => {
      const u = document.querySelector(".sec-hist .chart")?.__uplot;
      return u ? u.data[1].reduce((n, v) => n + (v ?? 0), 0) : 0;
    }),
  );
  if (bars < 8) fail(`the histogram counts ${bars} failed authentications, expected at least 8`);
  check(`summary counts ${await stat("failed").innerText()} failed and ${await stat("success").innerText()} successful logins, ${await stat("sudo").innerText()} sudo; histogram has ${bars} failures`);

  // A row opens on its raw line.
  await failRows.first().click();
  const raw = auth.locator("tr.sec-detail .sec-raw").first();
  await raw.waitFor({ timeout: 5000 });
  if (!(await raw.innerText()).includes(`Failed password for invalid user admin from ${ATTACKER}`)) fail("the opened row does not show the raw sshd line");
  check("a clicked row shows the raw line and its fields");
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: join(shots, "security.png"), fullPage: true });

  // Filters live in the URL and narrow the table.
  await page.locator('select[aria-label="Outcome"]').selectOption("success");
  await waitFor("outcome=success in the URL", 5000, async () => page.url().includes("outcome=success"));
  await waitFor("only successes in the table", 10000, async () => (await auth.locator('tr.sec-row[data-outcome="failure"]').count()) === 0 && (await auth.locator("tr.sec-row", { hasText: ALICE_FROM }).count()) >= 1);
  await page.locator('select[aria-label="Outcome"]').selectOption("");
  await page.locator('input[aria-label="Search the auth events"]').fill(LISTED);
  await waitFor(`q=${LISTED} in the URL`, 5000, async () => page.url().includes(`q=${encodeURIComponent(LISTED)}`) || page.url().includes(`q=${LISTED}`));
  await waitFor(`only ${LISTED}'s events`, 10000, async () => {
    const rows = await auth.locator("tr.sec-row").allInnerTexts();
    return rows.length >= 1 && rows.every((r) => r.includes(LISTED));
  });
  await page.reload();
  await waitFor("the text filter kept after a reload", 10000, async () => (await page.locator('input[aria-label="Search the auth events"]').inputValue()) === LISTED && (await auth.locator("tr.sec-row").count()) >= 1);
  check("outcome and text filters are in the URL and narrow the auth events");

  // The sshd jail banned the attacker after 5 failures: detect mode records it and reports it to the fleet list.
  await waitFor(`${ATTACKER} on the fleet list, reported by the sshd jail`, 20000, async () => (await apiBans(base)).some((b) => b.ip === ATTACKER && b.jail === "sshd" && b.origin === hostname));
  await page.goto(url);
  const jailRow = page.locator("table.sec-jail tr.sec-row", { hasText: ATTACKER }).filter({ hasText: "sshd" });
  await jailRow.waitFor({ timeout: 15000 });
  if (!/ban/.test(await jailRow.first().locator(".outcome").innerText())) fail("the jail decision is not a ban");
  const detect = await page.locator(".sec-detect").getAttribute("data-detect", { timeout: 15000 });
  if (!detect?.split(" ").includes(hostname)) fail(`the detect-mode note does not name ${hostname}: ${detect}`);
  const jailBan = page.locator(`table.sec-bans tr[data-ip="${ATTACKER}"]`);
  await jailBan.waitFor({ timeout: 10000 });
  const jailBanText = await jailBan.innerText();
  if (!jailBanText.includes("sshd") || !jailBanText.includes(hostname) || !/in \d+m/.test(jailBanText)) fail(`the jail's ban row lacks jail, origin or expiry: ${jailBanText}`);
  await page.locator(`table.sec-top tr[data-ip="${ATTACKER}"] .badge-banned`).waitFor({ timeout: 10000 });
  check(`sshd jail's detect-mode ban of ${ATTACKER} shows in jail decisions and active bans (origin ${hostname}), marked in top failing addresses`);

  // The intel feed lists one address that failed a login.
  const intelRow = page.locator("table.sec-intel tr.sec-row", { hasText: LISTED });
  await intelRow.waitFor({ timeout: 15000 });
  if (!(await intelRow.first().innerText()).includes("e2e")) fail("the intel hit does not name the feed e2e");
  if (Number(await stat("intel").innerText()) < 1) fail("the summary counts no intel hit");
  check(`threat-intel hit on ${LISTED} from feed e2e`);

  // The Ban button of a failing address fills the form.
  await page.locator(`table.sec-top tr[data-ip="${LISTED}"] button`, { hasText: "Ban" }).click();
  await waitFor("the ban form filled with the address", 5000, async () => (await page.locator('.sec-ban-form input[name="ip"]').inputValue()) === LISTED);
  check("a top failing address's Ban button fills the ban form");

  // The server's refusal, as it words it.
  const form = page.locator(".sec-ban-form");
  await form.locator('input[name="ip"]').fill("192.0.2.0/24");
  await form.locator('input[name="duration"]').fill("1h");
  await form.locator('input[name="reason"]').fill("e2e");
  await form.locator('button[type="submit"]').click();
  const err = form.locator(".error");
  await err.waitFor({ timeout: 5000 });
  if (!(await err.innerText()).includes('ip: "192.0.2.0/24" is not an IP address')) fail(`the ban form's error is not the server's: ${await err.innerText()}`);
  check(`ban form shows the server's refusal: ${(await err.innerText()).replace(/\s+/g, " ").trim()}`);

  // Ban from the form.
  await form.locator('input[name="ip"]').fill(MANUAL);
  await form.locator('button[type="submit"]').click();
  const row = page.locator(`table.sec-bans tr[data-ip="${MANUAL}"]`);
  await row.waitFor({ timeout: 10000 });
  const rowText = await row.innerText();
  if (!rowText.includes("manual") || !rowText.includes("api") || !rowText.includes("e2e") || !/in (59m|1h)/.test(rowText)) fail(`the new ban's row lacks jail, origin, reason or expiry: ${rowText}`);
  const listed = (await apiBans(base)).find((b) => b.ip === MANUAL);
  if (!listed || listed.reason !== "e2e" || !listed.expires_at || Math.abs(Date.parse(listed.expires_at) - Date.now() - 3600_000) > 120_000) fail(`GET /api/v1/bans does not list ${MANUAL} for 1h: ${JSON.stringify(listed)}`);
  check(`banned ${MANUAL} from the form: listed on the page (${rowText.replace(/\s+/g, " ").trim()}) and by GET /api/v1/bans`);
  await page.evaluate(() => scrollTo(0, 0)); // the sticky top bar would be drawn mid-page otherwise
  await page.screenshot({ path: join(shots, "security-ban.png"), fullPage: true });

  // Unban, confirmed.
  await row.locator("button", { hasText: "Unban" }).click();
  await row.locator("button", { hasText: "Yes, unban" }).click();
  await row.waitFor({ state: "detached", timeout: 10000 });
  if ((await apiBans(base)).some((b) => b.ip === MANUAL)) fail(`${MANUAL} is still on the fleet list after Unban`);
  await page.locator(".sec-done", { hasText: `Unbanned ${MANUAL}` }).waitFor({ timeout: 5000 });
  if ((await page.locator(`table.sec-bans tr[data-ip="${ATTACKER}"]`).count()) !== 1) fail("unbanning one address changed another's row");
  check(`unbanned ${MANUAL} from the page: gone from the page and from GET /api/v1/bans`);
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: join(shots, "security-unbanned.png"), fullPage: true });

  // A phone, in the dark theme.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => localStorage.setItem("vigil.theme", "dark"));
  await page.goto(`${base}/#/security?from=now-15m`);
  await page.reload();
  await page.locator("table.sec-auth tr.sec-row").first().waitFor({ timeout: 15000 });
  await page.locator(`table.sec-bans tr[data-ip="${ATTACKER}"]`).waitFor({ timeout: 10000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the security page is ${overflow} px wider than a 390 px phone`);
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: join(shots, "security-phone-dark.png"), fullPage: true });
  check("security page fits a 390 px phone (dark theme)");

  await page.setViewportSize(t.viewport);
  await page.evaluate(() => localStorage.removeItem("vigil.theme"));
}
