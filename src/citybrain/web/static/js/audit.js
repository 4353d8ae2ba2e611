// The audit search, for people who may administer the platform (GET /api/v1/auth/me's
// can.platform holds "admin"); for anyone else neither the button nor the view exists. The filters
// are the API's (GET /api/v1/audit: actor and target substrings, action exact or a prefix ending in
// ".", a time range); a read of personal fields (action "read") shows its purpose, department and
// the fields it showed unmasked.
import { allows, api } from "./api.js";
import { fmtTime, onLocale, t, tOr } from "./i18n.js";
import { el } from "./util.js";
import { fieldLabel } from "./widgets.js";

const LIMIT = 500;
// suggestions for the action filter; any other action (or prefix) may be typed
const ACTIONS = ["read", "auth.login", "user.", "token.", "factory."];
const query = { actor: "", action: "", target: "", since: "", until: "" };
let root;
let records = [];
let error = "";
let asked = 0;  // the latest search: an older answer arriving late is dropped

/** Offer the audit view when `who` may administer the platform, else remove it from the page. */
export function init(node, opener, who) {
  if (!allows(who, "platform", "admin")) {
    node.remove();
    opener.remove();
    return;
  }
  root = node;
  opener.hidden = false;
  opener.onclick = () => (root.hidden ? open() : close());
  onLocale(() => { if (!root.hidden) frame(); });
}

function open() {
  root.hidden = false;
  frame();
  search();
}

function close() {
  root.hidden = true;
}

const epoch = (local) => (local ? String(new Date(local).getTime()) : "");

async function search() {
  const mine = ++asked;
  const q = new URLSearchParams({ limit: LIMIT });
  for (const k of ["actor", "action", "target"]) if (query[k].trim()) q.set(k, query[k].trim());
  for (const k of ["since", "until"]) if (epoch(query[k])) q.set(k, epoch(query[k]));
  let found = [];
  let failed = "";
  try {
    found = await api(`/api/v1/audit?${q}`);
  } catch (err) {
    failed = t("audit.failed", { message: err.message });
  }
  if (mine !== asked) return;
  records = found;
  error = failed;
  if (!root.hidden) frame();
}

function input(key, type = "text") {
  const box = el("input", { type, name: key, dataset: { filter: key }, maxlength: type === "text" ? 200 : null,
    list: key === "action" ? "audit-actions" : null, placeholder: type === "text" ? t(`audit.hint.${key}`) : null,
    oninput: (e) => { query[key] = e.target.value; } });
  box.value = query[key];
  return el("label", {}, el("span", {}, t(`audit.${key}`)), box);
}

function filters() {
  const form = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); search(); } },
    input("actor"), input("action"), input("target"), input("since", "datetime-local"), input("until", "datetime-local"),
    el("datalist", { id: "audit-actions" }, ACTIONS.map((a) => el("option", { value: a }, tOr(`audit.action.${a}`, a)))),
    el("button", { class: "btn", type: "submit", dataset: { action: "search" } }, t("audit.search")));
  return form;
}

/** What a record's detail says: a read's purpose, department and fields; else its keys and values. */
function detail(r) {
  const d = r.detail || {};
  if (r.action === "read") {
    return el("div", { class: "read" },
      el("div", { dataset: { part: "purpose" } }, `${t("audit.purpose")}:${d.purpose || t("audit.no_purpose")}`),
      el("div", { dataset: { part: "fields" } }, `${t("audit.fields")}:${(d.fields || []).map((f) => fieldLabel(f)).join("、")}`),
      d.department ? el("div", { dataset: { part: "department" } }, `${t("audit.department")}:${d.department}`) : null);
  }
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

function row(r) {
  return el("tr", { dataset: { action: r.action, ts: String(r.ts) } },
    el("td", { class: "num" }, fmtTime(r.ts, true)),
    el("td", {}, r.actor),
    el("td", { title: r.action }, tOr(`audit.action.${r.action}`, r.action)),
    el("td", { class: "target" }, r.target),
    el("td", {}, detail(r)));
}

function frame() {
  const head = el("tr", {}, ["time", "actor", "action", "target", "detail"].map((c) => el("th", {}, t(`audit.col.${c}`))));
  const table = el("table", { class: "grid", dataset: { count: String(records.length) } },
    el("thead", {}, head), el("tbody", {}, records.map(row)));
  root.replaceChildren(
    el("header", {}, el("h2", {}, t("audit.title")),
      el("button", { class: "btn ghost", type: "button", dataset: { action: "close" }, onclick: close }, t("drill.close"))),
    filters(),
    el("div", { class: "error" }, error),
    el("div", { class: "note" }, records.length ? t("audit.shown", { count: records.length }) : t("audit.none")),
    table);
}
