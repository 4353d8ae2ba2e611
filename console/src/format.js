// Times in Beijing time (UTC+8, no daylight saving), whatever the browser's zone: the city's clock.
const BJT_MS = 8 * 3600 * 1000;
const pad = (n) => String(n).padStart(2, "0");

/** Epoch ms -> "YYYY-MM-DD HH:mm" in Beijing time; "—" for none. */
export function bjt(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms + BJT_MS);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** A span in calendar time: "2天3小时", "45分钟" (zh) or "2 d 3 h", "45 min" (en). */
export function span(ms, zh) {
  const mins = Math.floor(Math.abs(ms) / 60000);
  const d = Math.floor(mins / 1440);
  const h = Math.floor((mins % 1440) / 60);
  const m = mins % 60;
  if (zh) return d ? `${d}天${h}小时` : h ? `${h}小时${m}分钟` : `${m}分钟`;
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}
