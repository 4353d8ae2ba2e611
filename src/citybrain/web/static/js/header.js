// The header: clock (or the replay clock), open alerts by severity, connection state.
import * as alerts from "./alerts.js";
import * as live from "./live.js";
import { onClock, state as replayState } from "./replay.js";
import { fmtClock, fmtNum, onLocale, t } from "./i18n.js";
import { el, SEVERITIES } from "./util.js";

export function init(headline, clock, conn) {
  const counts = el("div", { class: "sev-counts", dataset: { widget: "alert-counts" } });
  const label = el("div", { class: "wlabel" });
  const box = el("div", { class: "fig" }, label, counts);
  headline.append(box);
  const cells = {};
  for (const s of SEVERITIES) {
    cells[s] = el("span", { class: "value num" }, "0");
    counts.append(el("span", { class: `sev-${s}`, dataset: { severity: s } }, cells[s]));
  }
  const relabel = () => {
    label.textContent = t("head.alerts");
    for (const s of SEVERITIES) cells[s].parentElement.title = t(`severity.${s}`);
  };
  relabel();
  onLocale(relabel);
  alerts.onCounts((c) => { for (const s of SEVERITIES) cells[s].textContent = fmtNum(c[s] || 0); });

  let replayTs = null;
  const paint = () => {
    clock.textContent = replayTs == null ? fmtClock(Date.now()) : t("replay.banner", { time: fmtClock(replayTs), speed: replayState.speed });
    clock.dataset.replay = replayTs == null ? "" : String(replayTs);
  };
  onClock((ts) => { replayTs = ts; paint(); });
  setInterval(paint, 1000);
  paint();
  onLocale(paint);
  live.onStatus((s) => {
    conn.dataset.state = s;
    conn.title = t(`conn.${s === "replay" ? "live" : s === "auth" ? "down" : s}`);
  });
}
