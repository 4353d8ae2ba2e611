// The city map: MapLibre with a background-only style (no basemap, tiles or glyph downloads) and
// the GeoJSON layers the installed scenes declare in panel.map_layers. Live rows are merged into
// an in-memory feature index as they arrive; each source is pushed to the GPU at most FLUSH_MS
// apart, so 10,000 moving vehicles cost a few setData calls a second, not one per message.
import * as maplibregl from "maplibre-gl";
import { api } from "./api.js";
import * as live from "./live.js";
import { loc, onLocale, t } from "./i18n.js";
import { arrowIcon, legendEntries, styleLayers } from "./layers.js";
import { el, expand, pick, throttle } from "./util.js";

const FLUSH_MS = 250;
const CENTRE = [115.89, 28.68];  // the seed city; the view fits the data once it has some
const LEVEL_RAMP = ["#34d399", "#f5c542", "#ff8a3d", "#ff4d5e"];
export const layers = new Map();  // id -> {desc, features: Map(key -> feature), flush}
export const stats = { flushes: 0, lastFlushMs: 0 };
let map;
let onPick = () => {};
let fitted = false;

const STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": "#071627" } }],
};

export function collectLayers(scenes) {
  const out = [];
  for (const s of scenes) {
    for (const d of s.panel?.map_layers || []) out.push({ scene: s.name, ...d });
    // a "map" widget is read as a point layer over a list API (docs/dashboard.md, "map widgets")
    const detail = (s.panel?.widgets || []).find((w) => w.kind === "detail");
    for (const [i, w] of (s.panel?.widgets || []).entries()) {
      if (w.kind !== "map") continue;
      out.push({ scene: s.name, id: `${s.name}.map${i}`, title: w.label || s.title, geometry: w.geometry || "vehicle",
        source: w.api, items: w.items, lon: w.lon, lat: w.lat, key: w.id || "key", live: w.live, heading: w.heading,
        // levels 0-3 (GB/T 32960 alarm levels); legend labels come from the catalogue (<color_by>.<n>)
        color: w.color || (w.color_by ? { by: w.color_by, categories: LEVEL_RAMP.map((color, value) => ({ value, color })), default: LEVEL_RAMP[3] } : undefined),
        drill: w.drill || { title: w.id, detail: w.click || detail?.api } });
    }
  }
  return out;
}

export async function init(container, descs, pick) {
  onPick = pick;
  map = new maplibregl.Map({
    container, style: STYLE, center: CENTRE, zoom: 10, attributionControl: false,
    localIdeographFontFamily: "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif",
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "bottom-right");
  await new Promise((resolve) => map.once("load", resolve));
  map.addImage("cb-arrow", arrowIcon(), { sdf: true });
  for (const desc of descs) addLayer(desc);
  map.on("click", pickAt);
  document.getElementById("map-empty").hidden = descs.length > 0;
  buildSwitches();
  buildLegend();
  onLocale(() => { buildSwitches(); buildLegend(); });
  live.onReconnect(() => { for (const l of layers.values()) load(l).catch(() => {}); });
  await Promise.all([...layers.values()].map((l) => load(l, undefined, false).catch((err) => console.warn(`layer ${l.desc.id}: ${err.message}`))));
  fit();
  return map;
}

/** One click opens one drill-down: the topmost feature within a few pixels of the pointer. */
function pickAt(e) {
  const ids = [...layers.values()].map((l) => l.desc.id).filter((id) => map.getLayoutProperty(id, "visibility") !== "none");
  const r = 5;
  const box = [[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]];
  const f = map.queryRenderedFeatures(box, { layers: ids })[0];
  if (!f) return;
  const layer = layers.get(f.layer.id);
  const key = keyOf(layer.desc, f);
  onPick(layer.desc, key, layer.features.get(key)?.properties || f.properties);
}

// MapLibre drops string feature ids in rendered features, so the key travels as a property.
function keyOf(desc, f) {
  return String(f.properties?.[desc.key || "key"] ?? f.id ?? "");
}

function addLayer(desc) {
  const layer = { desc, features: new Map(), dirty: false };
  layer.flush = throttle(() => flush(layer), FLUSH_MS);
  layers.set(desc.id, layer);
  map.addSource(desc.id, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  const specs = styleLayers(desc, "cb-arrow");
  layer.mapIds = specs.map((s) => s.id);
  for (const spec of specs) map.addLayer(spec);
  map.on("mouseenter", desc.id, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", desc.id, () => { map.getCanvas().style.cursor = ""; });
  if (desc.live) live.on(desc.live, (rows) => merge(layer, rows));
}

async function load(layer, url = layer.desc.source, mayFit = true) {
  if (!url) return;
  const res = await api(url);
  const fc = res?.type === "FeatureCollection" ? res : toFeatures(layer.desc, res);
  layer.features.clear();
  for (const f of fc.features || []) {
    f.properties ??= {};
    const k = keyOf(layer.desc, f);
    f.properties[layer.desc.key || "key"] ??= k;
    layer.features.set(k, f);
  }
  flush(layer);
  if (mayFit && !fitted && layer.features.size) fit();
}

/** A list API (objects with lon/lat fields) read as point features. */
function toFeatures(desc, res) {
  const rows = Array.isArray(res) ? res : pick(res, desc.items || "items") || [];
  const lonK = desc.lon || "lon";
  const latK = desc.lat || "lat";
  const features = [];
  for (const r of rows) {
    const props = r.data && r[lonK] == null ? { ...r.data, key: r.key } : { ...r };
    if (props[lonK] == null || props[latK] == null) continue;
    features.push({ type: "Feature", properties: props, geometry: { type: "Point", coordinates: [Number(props[lonK]), Number(props[latK])] } });
  }
  return { type: "FeatureCollection", features };
}

/** Live rows ({key, ts, data}) or GeoJSON features, merged into the layer's features. */
export function merge(layer, rows) {
  if (typeof layer === "string") layer = layers.get(layer);
  const { desc } = layer;
  const lonK = desc.lon || "lon";
  const latK = desc.lat || "lat";
  for (const row of Array.isArray(rows) ? rows : rows?.features || [rows]) {
    if (row?.type === "Feature") {
      layer.features.set(keyOf(desc, row), row);
      continue;
    }
    const key = String(row.key);
    const data = row.data || {};
    let f = layer.features.get(key);
    if (!f) {
      if (data[lonK] == null) continue;  // a line or polygon is only ever created by its source
      f = { type: "Feature", id: undefined, properties: { [desc.key || "key"]: key }, geometry: { type: "Point", coordinates: [0, 0] } };
      layer.features.set(key, f);
    }
    for (const [k, v] of Object.entries(data)) if (v === null || typeof v !== "object") f.properties[k] = v;
    f.properties.ts = row.ts;
    if (data[lonK] != null && f.geometry.type === "Point") f.geometry.coordinates = [Number(data[lonK]), Number(data[latK])];
  }
  layer.flush();
}

function flush(layer) {
  const t0 = performance.now();
  map.getSource(layer.desc.id)?.setData({ type: "FeatureCollection", features: [...layer.features.values()] });
  stats.flushes += 1;
  stats.lastFlushMs = performance.now() - t0;
}

/**
 * The first view: the road-segment (line) layers when a scene provides one with features — traffic
 * is the headline, and other layers' features may lie elsewhere — else every layer's features.
 */
function fit() {
  const b = new maplibregl.LngLatBounds();
  let n = 0;
  const add = (c) => { if (typeof c[0] === "number") { b.extend(c); n += 1; } else c.forEach(add); };
  const filled = [...layers.values()].filter((l) => l.features.size);
  const roads = filled.filter((l) => l.desc.geometry === "line");
  for (const l of roads.length ? roads : filled) for (const f of l.features.values()) if (f.geometry) add(f.geometry.coordinates);
  if (n) {
    map.fitBounds(b, { padding: 40, duration: 0, maxZoom: 16 });
    fitted = true;
  }
}

function buildSwitches() {
  const node = document.getElementById("layers");
  node.replaceChildren(...[...layers.values()].map((l) => {
    const box = el("input", { type: "checkbox", dataset: { layer: l.desc.id }, checked: l.desc.visible !== false,
      onchange: (e) => setVisible(l, e.target.checked) });
    box.checked = map.getLayoutProperty(l.mapIds[0], "visibility") !== "none";
    return el("label", {}, box, ` ${loc(l.desc.title)}`);
  }));
}

function setVisible(layer, on) {
  for (const id of layer.mapIds) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
}

function buildLegend() {
  const node = document.getElementById("legend");
  if (!layers.size) {
    node.replaceChildren(el("h3", {}, t("map.layers")), el("div", {}, t("map.empty")));
    return;
  }
  node.replaceChildren(...[...layers.values()].map((l) => el("div", {},
    el("h3", {}, loc(l.desc.title)),
    legendEntries(l.desc).map(([color, label]) => el("span", { class: "row" }, el("span", { class: "sw", style: `background:${color}` }), label)))));
}

// -- replay: layers that declare `replay` are re-read as of the replay clock ----------------------
export async function replayAt(ts) {
  await Promise.all([...layers.values()].filter((l) => l.desc.replay).map((l) => load(l, expand(l.desc.replay, { ts })).catch(() => {})));
}
export function replayStop() {
  for (const l of layers.values()) load(l).catch(() => {});
}

/** Centre on a feature (used when an alert is clicked). */
export function focus(layerId, key) {
  const f = layers.get(layerId)?.features.get(String(key));
  if (f?.geometry?.type === "Point") map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 13) });
}
export const getMap = () => map;
