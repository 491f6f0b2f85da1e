// The host dashboard with logs: after a line in the app log and an sshd failure in the auth log (besides what
// the other sections wrote), its "Recent logs" and "Security events" panels show this host's lines; the whole
// page is saved for the closing screenshot.
import { join } from "node:path";

export default async function hostWithLogs(t) {
  const { page, base, hostname, shots, check, waitFor } = t;
  t.appendLines(t.files.appLog, ["level=info msg=\"host dashboard check\""]);
  t.appendLines(t.files.authLog, [`${new Date().toISOString()} ${hostname} sshd[4242]: Failed password for invalid user guest from 203.0.113.21 port 40022 ssh2`]);
  await page.setViewportSize(t.viewport);
  await page.goto(`${base}/#/host/${encodeURIComponent(hostname)}?from=now-30m&to=now`);
  const count = (panel) => page.locator(`[data-panel="${panel}"] .log`).count();
  const logs = await waitFor("lines in the host's Recent logs panel", 15000, () => count("Recent logs"));
  const events = await waitFor("lines in the host's Security events panel", 15000, () => count("Security events"));
  await waitFor("points in the CPU by mode chart", 10000, () =>
    page.evaluate(() => {
      const u = document.querySelector('[data-panel="CPU by mode"] .chart')?.__uplot;
      return u && u.data.slice(1).some((s) => s.some((v) => v !== null && v !== undefined));
    }),
  );
  await page.screenshot({ path: join(shots, "host-logs.png"), fullPage: true });
  check(`host dashboard shows ${logs} recent log lines and ${events} security events for ${hostname}`);
}
