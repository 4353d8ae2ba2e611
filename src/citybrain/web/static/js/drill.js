// Drill-down: click a map feature to see the numbers behind it, its metric history (1 h / 24 h /
// 7 d) and, for vehicles, a track replay drawn on the map. What to fetch comes from the layer's
// `drill` descriptor (docs/dashboard.md); nothing here knows about a particular scene.
import { api } from "./api.js";
import { axis, baseOption, chart } from "./charts.js";
import { axisTimeFormatter, fmtNum, fmtTime, loc, minIntervalFor, t } from "./i18n.js";
import { getMap } from "./map.js";
import { el, expand, pick } from "./util.js";
import { fieldLabel, valueLabel } from "./widgets.js";

const RANGES = { "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000 };
let node;
let current = null;  // {desc, key, props}
let player = null;
let generation = 0;

export function init(container) {
  node = container;
}

export function close() {
  stopPlayer();
  clearTrack();
  current = null;
  node.hidden = true;
}

export async function open(desc, key, props) {
  stopPlayer();
  clearTrack();
  const mine = ++generation;
  current = { desc, key, props };
  const drill = desc.drill || {};
  const vars = { ...props, key };
  const title = loc(props?.[drill.title || desc.label || "name"]) || key;
  node.hidden = false;
  node.dataset.key = key;
  node.dataset.layer = desc.id;
  const body = el("div", { class: "body" });
  node.replaceChildren(
    el("header", {}, el("h2", {}, `${loc(desc.title)} · ${title}`),
      el("button", { class: "btn ghost", type: "button", dataset: { action: "close" }, onclick: close }, t("drill.close"))),
    body);
  const table = await details(drill, vars, props);
  if (mine !== generation) return;  // another feature was picked meanwhile
  body.append(el("h3", {}, t("drill.detail")), table);
  for (const m of drill.metrics || []) body.append(history(m, expand(m.key || "{key}", vars, (v) => v)));
  if (drill.track) body.append(track(expand(drill.track, vars)));
}

async function details(drill, vars, props) {
  let detail = {};
  if (drill.detail) {
    try {
      detail = await api(expand(drill.detail, vars));
    } catch (err) {
      return el("div", { class: "error" }, err.message);
    }
  }
  const merged = { ...props, ...detail };
  // undeclared fields are every plain one, headed by the catalogue's "field.<name>" when it has one
  const fields = drill.fields || Object.keys(props || {}).filter((k) => typeof props[k] !== "object").map((k) => ({ field: k }));
  return el("table", { class: "grid detail" }, fields.map((f) => {
    const v = pick(merged, f.field) ?? pick(merged.data, f.field);
    const shown = typeof v === "number" ? `${fmtNum(v, f.digits)}${f.unit ? ` ${loc(f.unit)}` : ""}` : Array.isArray(v) ? v.map(loc).join("、") : valueLabel(f.field, v, f.categories);
    return el("tr", { dataset: { field: f.field } }, el("th", {}, fieldLabel(f.field, f.label)), el("td", { class: typeof v === "number" ? "n" : "" }, shown));
  }));
}

function rangeButtons(onPickRange, initial = "1h") {
  const box = el("div", { class: "ranges" });
  for (const r of Object.keys(RANGES)) {
    box.append(el("button", { class: `btn${r === initial ? " active" : ""}`, type: "button", dataset: { range: r }, onclick: (e) => {
      for (const b of box.children) b.classList.remove("active");
      e.target.classList.add("active");
      onPickRange(RANGES[r]);
    } }, t(`range.${r}`)));
  }
  return box;
}

function history(m, key) {
  const plot = el("div", { class: "plot" });
  const summary = el("div", { class: "note" });
  const section = el("section", { class: "history", dataset: { metric: m.metric } });
  let c = null;
  const load = async (span) => {
    const end = Date.now();
    const q = new URLSearchParams({ key, start: end - span, end, agg: m.agg || "avg", max_points: 300 });
    const res = await api(`/api/v1/metrics/${encodeURIComponent(m.metric)}?${q}`);
    c ??= chart(plot);
    const vals = res.points.map((p) => p[1]);
    section.dataset.points = String(vals.length);
    summary.textContent = vals.length
      ? `n=${vals.length} · min ${fmtNum(Math.min(...vals))} · avg ${fmtNum(vals.reduce((a, b) => a + b, 0) / vals.length)} · max ${fmtNum(Math.max(...vals))}`
      : t("drill.no_data");
    c.setOption(baseOption({
      tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
      xAxis: axis({ type: "time", axisLabel: { color: "#8fb0d0", splitNumber: 4, hideOverlap: true, formatter: axisTimeFormatter(span) }, minInterval: minIntervalFor(span) }),
      yAxis: axis({ type: "value" }),
      series: [{ type: "line", showSymbol: false, areaStyle: { opacity: 0.15 }, data: res.points }],
    }), true);
  };
  section.append(el("h3", {}, `${t("drill.history")} · ${loc(m.label) || m.metric}`), rangeButtons((span) => load(span).catch(() => {})), plot, summary);
  load(RANGES["1h"]).catch((err) => { summary.textContent = err.message; });
  return section;
}

// -- track replay -------------------------------------------------------------------------------
function normalise(res) {
  const raw = Array.isArray(res) ? res : res?.points || [];
  return raw.map((p) => (Array.isArray(p) ? { ts: p[0], lon: p[1], lat: p[2], speed: p[3], heading: p[4] } : p))
    .filter((p) => p.lon != null && p.lat != null).sort((a, b) => a.ts - b.ts);
}

function track(url) {
  const section = el("section", { class: "track" });
  const status = el("div", { class: "note" });
  const slider = el("input", { type: "range", min: 0, max: 0, value: 0 });
  const speed = el("select", {}, [1, 5, 10, 30, 60].map((s) => el("option", { value: s }, `${s}×`)));
  speed.value = "10";
  const play = el("button", { class: "btn", type: "button", dataset: { action: "play-track" } }, t("drill.play"));
  let points = [];
  const show = (i) => {
    const p = points[i];
    if (!p) return;
    slider.value = String(i);
    section.dataset.index = String(i);
    status.textContent = `${fmtTime(p.ts, true)}${p.speed != null ? ` · ${fmtNum(p.speed)} km/h` : ""}`;
    getMap().getSource("cb-track-head")?.setData({ type: "Feature", properties: { heading: p.heading ?? 0 }, geometry: { type: "Point", coordinates: [p.lon, p.lat] } });
  };
  const load = async (span) => {
    stopPlayer();
    const end = Date.now();
    const sep = url.includes("?") ? "&" : "?";
    points = normalise(await api(`${url}${sep}start=${end - span}&end=${end}`));
    section.dataset.points = String(points.length);
    slider.max = String(Math.max(0, points.length - 1));
    if (!points.length) { status.textContent = t("drill.no_track"); clearTrack(); return; }
    drawTrack(points);
    show(0);
  };
  slider.oninput = () => { stopPlayer(); show(Number(slider.value)); };
  play.onclick = () => {
    if (player) { stopPlayer(); play.textContent = t("drill.play"); return; }
    if (!points.length) return;
    play.textContent = t("drill.pause");
    let i = Number(slider.value) >= points.length - 1 ? 0 : Number(slider.value);
    let clock = points[i].ts;
    let last = performance.now();
    const step = (now) => {
      clock += (now - last) * Number(speed.value);
      last = now;
      while (i < points.length - 1 && points[i + 1].ts <= clock) i += 1;
      show(i);
      if (i >= points.length - 1) { stopPlayer(); play.textContent = t("drill.play"); section.dataset.done = "1"; return; }
      player = requestAnimationFrame(step);
    };
    player = requestAnimationFrame(step);
  };
  section.append(el("h3", {}, t("drill.track")), rangeButtons((span) => load(span).catch(() => {})),
    el("div", { class: "player" }, play, speed, slider), status);
  load(RANGES["1h"]).catch((err) => { status.textContent = err.message; });
  return section;
}

function drawTrack(points) {
  const map = getMap();
  const line = { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: points.map((p) => [p.lon, p.lat]) } };
  if (!map.getSource("cb-track")) {
    map.addSource("cb-track", { type: "geojson", data: line });
    map.addSource("cb-track-head", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "cb-track", type: "line", source: "cb-track", paint: { "line-color": "#ffffff", "line-width": 3, "line-dasharray": [2, 1] } });
    map.addLayer({ id: "cb-track-head", type: "symbol", source: "cb-track-head", layout: {
      "icon-image": "cb-arrow", "icon-size": 0.9, "icon-allow-overlap": true, "icon-rotate": ["get", "heading"], "icon-rotation-alignment": "map" },
    paint: { "icon-color": "#ffffff" } });
  } else {
    map.getSource("cb-track").setData(line);
  }
}

function clearTrack() {
  const map = getMap();
  if (!map?.getSource("cb-track")) return;
  map.getSource("cb-track").setData({ type: "FeatureCollection", features: [] });
  map.getSource("cb-track-head").setData({ type: "FeatureCollection", features: [] });
}

function stopPlayer() {
  if (player) cancelAnimationFrame(player);
  player = null;
}
