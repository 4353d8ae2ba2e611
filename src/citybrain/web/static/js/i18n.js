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

/** A scene label: {"zh-CN": ..., "en": ...} or a plain string. */
export function loc(value) {
  if (value == null) return "";
  if (typeof value !== "object") return String(value);
  return value[locale] ?? value[LOCALES[0]] ?? value.en ?? Object.values(value)[0] ?? "";
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
