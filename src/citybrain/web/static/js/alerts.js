// The alerts feed: every alert the page has seen is kept (a Map by id, never trimmed), shown newest
// first, coloured by severity, filtered by scene, level and status. Renders are coalesced to a few
// per second and keyed by id, so a burst of thousands costs a few renders and a note being typed
// survives them. After a reconnect (including the server's "too slow" close) the feed re-reads
// the store, so alerts published while disconnected are not lost.
import { allows, api } from "./api.js";
import * as live from "./live.js";
import { bilingual, fmtTime, loc, onLocale, t } from "./i18n.js";
import { el, SEVERITIES, throttle } from "./util.js";

const RANK = { open: 0, acknowledged: 1, resolved: 2 };
const PAGE = 200;
const store = new Map();
const rows = new Map();  // id -> {node, sig}
const drafts = new Map();  // id -> {action, note}
const countHooks = new Set();
let who = null;  // GET /api/v1/auth/me: what each scene lets the caller do
let scenes = [];
let root, list, more;
let filter = { scene: "", severity: "", status: "" };
let shown = PAGE;
let replayTs = null;  // in replay: show alerts as they were at this time

export const onCounts = (fn) => countHooks.add(fn);
export const all = () => store;

export function upsert(a) {
  if (!readable(a.scene)) return;  // only the scenes shown on this screen
  const cur = store.get(a.id);
  if (cur && (RANK[cur.status] > RANK[a.status] || (cur.status === a.status && cur.last_ts > a.last_ts))) return;
  store.set(a.id, a);
  schedule();
}

const schedule = throttle(() => render(), 250);

/** How an alert looked at replay time ts (or now). */
function asOf(a) {
  if (replayTs == null) return a;
  if (a.resolved_ts != null && a.resolved_ts <= replayTs) return a;
  if (a.acked_ts != null && a.acked_ts <= replayTs) return { ...a, status: "acknowledged", resolved_by: null, resolved_ts: null };
  return { ...a, status: "open", acked_by: null, acked_ts: null, resolved_by: null, resolved_ts: null };
}

function visible() {
  const out = [];
  for (const raw of store.values()) {
    if (replayTs != null && raw.opened_ts > replayTs) continue;
    const a = asOf(raw);
    if (filter.scene && a.scene !== filter.scene) continue;
    if (filter.severity && a.severity !== filter.severity) continue;
    if (filter.status && a.status !== filter.status) continue;
    out.push(a);
  }
  return out.sort((x, y) => y.opened_ts - x.opened_ts || (x.id < y.id ? -1 : 1));
}

function counts() {
  const c = { critical: 0, major: 0, warning: 0, info: 0 };
  for (const raw of store.values()) {
    if (replayTs != null && raw.opened_ts > replayTs) continue;
    const a = asOf(raw);
    if (a.status === "open") c[a.severity] = (c[a.severity] || 0) + 1;
  }
  return c;
}

function row(a) {
  const lifecycle = [];
  if (a.acked_ts) lifecycle.push(el("div", { class: "meta" }, `${t("status.acknowledged")}: ${t("alerts.by", { who: a.acked_by, time: fmtTime(a.acked_ts) })}${a.ack_note ? ` · ${a.ack_note}` : ""}`));
  if (a.resolved_ts) lifecycle.push(el("div", { class: "meta" }, `${t("status.resolved")}: ${t("alerts.by", { who: a.resolved_by, time: fmtTime(a.resolved_ts) })}${a.resolve_note ? ` · ${a.resolve_note}` : ""}`));
  const node = el("li", { class: `alert ${a.severity} ${a.status}`, dataset: { id: a.id, status: a.status, severity: a.severity } },
    el("div", { class: "meta" },
      el("span", {}, `${t(`severity.${a.severity}`)} · ${sceneTitle(a.scene)}`),
      el("span", { class: "num" }, fmtTime(a.opened_ts, true))),
    el("div", { class: "title" }, bilingual(a.title), a.count > 1 ? ` ${t("alerts.count", { count: a.count })}` : ""),
    el("div", {}, a.message),
    el("div", { class: "meta" }, el("span", { class: "status" }, t(`status.${a.status}`)), el("span", {}, a.key)),
    lifecycle,
    actions(a));
  return node;
}

const readable = (scene) => scenes.some((s) => s.name === scene);
// acknowledge/resolve go through /api/v1/alerts/..., which the API authorizes in the platform
// scene: offered where the caller may operate both there and in the alert's own scene
const mayOperate = (scene) => allows(who, "platform", "operate") && allows(who, scene, "operate");
const operatesSomewhere = () => scenes.some((s) => mayOperate(s.name));

function actions(a) {
  if (!mayOperate(a.scene) || replayTs != null || a.status === "resolved") return null;
  const draft = drafts.get(a.id);
  if (!draft) {
    return el("div", { class: "actions" },
      a.status === "open" ? el("button", { class: "btn", type: "button", dataset: { action: "ack" }, onclick: () => openDraft(a.id, "ack") }, t("alerts.ack")) : null,
      el("button", { class: "btn", type: "button", dataset: { action: "resolve" }, onclick: () => openDraft(a.id, "resolve") }, t("alerts.resolve")));
  }
  const area = el("textarea", { rows: 2, placeholder: t("alerts.note"), maxlength: 2000, oninput: (e) => { draft.note = e.target.value; } });
  area.value = draft.note;
  const error = el("div", { class: "error" }, draft.error || "");
  return el("div", { class: "draft" }, area, error, el("div", { class: "actions" },
    el("button", { class: "btn", type: "button", dataset: { action: "confirm" }, onclick: () => submit(a.id) }, `${t("alerts.confirm")} · ${t(`alerts.${draft.action}`)}`),
    el("button", { class: "btn ghost", type: "button", onclick: () => { drafts.delete(a.id); rerow(a.id); } }, t("alerts.cancel"))));
}

function openDraft(id, action) {
  drafts.set(id, { action, note: "" });
  rerow(id);
  rows.get(id)?.node.querySelector("textarea")?.focus();
}

async function submit(id) {
  const draft = drafts.get(id);
  try {
    const updated = await api(`/api/v1/alerts/${encodeURIComponent(id)}/${draft.action}`, { method: "POST", body: { note: draft.note } });
    drafts.delete(id);
    upsert(updated);
    rerow(id);
  } catch (err) {
    draft.error = t("alerts.failed", { message: err.message });
    rerow(id);
  }
}

function rerow(id) {
  const a = store.get(id);
  const old = rows.get(id);
  if (!a || !old) return schedule();
  const node = row(asOf(a));
  old.node.replaceWith(node);
  rows.set(id, { node, sig: sig(asOf(a)) });
}

const sig = (a) => `${a.status}|${a.last_ts}|${a.count}|${drafts.has(a.id)}|${a.acked_ts}|${a.resolved_ts}`;

function render() {
  const items = visible();
  const page = items.slice(0, shown);
  const keep = new Set(page.map((a) => a.id));
  for (const [id, r] of rows) if (!keep.has(id)) { r.node.remove(); rows.delete(id); }
  let prev = null;
  for (const a of page) {
    let r = rows.get(a.id);
    const s = sig(a);
    if (!r || r.sig !== s) {
      const node = row(a);
      if (r) r.node.replaceWith(node);
      r = { node, sig: s };
      rows.set(a.id, r);
    }
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== r.node) list.insertBefore(r.node, want);
    prev = r.node;
  }
  list.dataset.total = String(items.length);
  more.replaceChildren(items.length === 0 ? t("alerts.none") : t("alerts.shown", { shown: page.length, total: items.length }),
    items.length > page.length ? el("button", { class: "btn ghost", type: "button", onclick: () => { shown += PAGE; render(); } }, t("alerts.more")) : "");
  const c = counts();
  for (const fn of countHooks) fn(c);
}

function sceneTitle(name) {
  const s = scenes.find((x) => x.name === name);
  return s ? loc(s.title) : name;
}

function filters() {
  const mk = (key, allLabel, options) => {
    const sel = el("select", { dataset: { filter: key }, onchange: (e) => { filter[key] = e.target.value; shown = PAGE; render(); } },
      el("option", { value: "" }, allLabel), options.map(([v, label]) => el("option", { value: v }, label)));
    sel.value = filter[key];
    return sel;
  };
  return el("div", { class: "filters" },
    mk("scene", t("alerts.all_scenes"), scenes.map((s) => [s.name, loc(s.title)])),
    mk("severity", t("alerts.all_levels"), SEVERITIES.map((s) => [s, t(`severity.${s}`)])),
    mk("status", t("alerts.all_status"), Object.keys(RANK).map((s) => [s, t(`status.${s}`)])));
}

function frame() {
  const parts = [el("h2", {}, t("alerts.title")), filters(), list, more];
  if (!operatesSomewhere()) parts.push(el("div", { class: "hint" }, t("alerts.readonly")));
  root.replaceChildren(...parts);
  for (const r of rows.values()) r.node.remove();
  rows.clear();
  render();
}

async function reload(since) {
  const recent = await api(`/api/v1/alerts?limit=1000${since ? `&since=${since}` : ""}`);
  const open = await api("/api/v1/alerts?status=open&limit=10000");
  for (const a of [...recent, ...open]) upsert(a);
}

export async function init(node, sceneList, caller) {
  root = node;
  scenes = sceneList;
  who = caller;
  list = el("ol", { id: "alert-list" });
  more = el("div", { class: "more" });
  frame();
  live.on("alert.*", upsert);
  live.onReconnect(() => reload().catch(() => {}));
  onLocale(frame);
  await reload();
}

export async function replayStart(start) {
  const past = await api(`/api/v1/alerts?since=${start}&limit=10000`);
  for (const a of past) upsert(a);
  replayTs = start;
  render();
}
export function replayAt(ts) { replayTs = ts; schedule(); }
export function replayStop() { replayTs = null; render(); }
