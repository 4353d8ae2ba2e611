// Message catalogues (one JSON per locale), scene-supplied {locale: text} labels, Intl formatting.
export const LOCALES = ["zh-CN", "en"];
const catalogues = {};
const listeners = new Set();
let locale = "zh-CN";

export async function loadLocale(next) {
  if (!LOCALES.includes(next)) next = LOCALES[0];
  if (!catalogues[next]) {
    const res = await fetch(`/static/i18n/${next}.json`);
    catalogues[next] = await res.json();
  }
  locale = next;
  localStorage.setItem("citybrain.locale", next);
  document.documentElement.lang = next;
  numberFormats.clear();
  applyStatic();
  for (const fn of listeners) fn(next);
}

export const currentLocale = () => locale;
export const savedLocale = () => localStorage.getItem("citybrain.locale") || LOCALES[0];
export const onLocale = (fn) => listeners.add(fn);

/** A catalogue string with {name} placeholders filled in. */
export function t(key, params = {}) {
  const text = catalogues[locale]?.[key] ?? catalogues[LOCALES[0]]?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** Whether the current (or the first) catalogue has a key. */
export function has(key) {
  return key in (catalogues[locale] || {}) || key in (catalogues[LOCALES[0]] || {});
}

/** A catalogue string if the key exists, else the fallback. */
export const tOr = (key, fallback, params) => (has(key) ? t(key, params) : fallback);

/** A scene label: {"zh-CN": ..., "en": ...} or a plain string. */
export function loc(value) {
  if (value == null) return "";
  if (typeof value !== "object") return String(value);
  return value[locale] ?? value[LOCALES[0]] ?? value.en ?? Object.values(value)[0] ?? "";
}

/**
 * A text made in both languages, "中文 / English" (alert and rule titles): the current locale's
 * half; a text without " / " as it is.
 */
export function bilingual(text) {
  const parts = String(text ?? "").split(" / ");
  if (parts.length !== 2) return String(text ?? "");
  return locale === "en" ? parts[1] : parts[0];
}

const numberFormats = new Map();
export function fmtNum(value, digits) {
  if (value == null || Number.isNaN(Number(value))) return "—";
  const n = Number(value);
  const d = digits ?? (Math.abs(n) >= 100 || Number.isInteger(n) ? 0 : 1);
  const k = `${d}`;
  if (!numberFormats.has(k)) {
    numberFormats.set(k, new Intl.NumberFormat(locale, { maximumFractionDigits: d, minimumFractionDigits: 0 }));
  }
  return numberFormats.get(k).format(n);
}

export function fmtTime(ms, withDate = false) {
  if (ms == null) return "—";
  const opts = withDate
    ? { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
    : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  return new Intl.DateTimeFormat(locale, opts).format(new Date(ms));
}

const axisFormats = new Map();
function fmtParts(ms, opts) {
  const k = JSON.stringify(opts);
  if (!axisFormats.has(k) || axisFormats.get(k).locale !== locale) {
    axisFormats.set(k, { locale, f: new Intl.DateTimeFormat(locale, { hour12: false, ...opts }) });
  }
  return axisFormats.get(k).f.format(new Date(ms));
}

/**
 * Labels for a time axis spanning `spanMs`: seconds for spans up to two minutes (or a tick that is
 * not on a whole minute), hours:minutes up to a day and a half, then the date (and the time when
 * the tick is not at midnight). Use with `minIntervalFor(span)` so ticks never repeat a label.
 */
export function axisTimeFormatter(spanMs) {
  return (v) => {
    const d = new Date(v);
    const onMinute = d.getSeconds() === 0 && d.getMilliseconds() === 0;
    if (spanMs < 2 * 60_000 || !onMinute) return fmtParts(v, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    if (spanMs <= 36 * 3_600_000) return fmtParts(v, { hour: "2-digit", minute: "2-digit" });
    if (d.getHours() === 0 && d.getMinutes() === 0) return fmtParts(v, { month: "2-digit", day: "2-digit" });
    return fmtParts(v, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  };
}

/** The smallest tick step for a time axis spanning `spanMs` (a whole minute beyond 2 minutes). */
export function minIntervalFor(spanMs) {
  if (spanMs > 36 * 3_600_000) return 3_600_000;
  return spanMs >= 2 * 60_000 ? 60_000 : 1_000;
}

export function fmtClock(ms) {
  return new Intl.DateTimeFormat(locale, {
    year: "numeric", month: "long", day: "numeric", weekday: "short",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(ms));
}

/** Fill every element that names a catalogue key in data-i18n. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.title = `${t("app.title")} · citybrain`;
}
