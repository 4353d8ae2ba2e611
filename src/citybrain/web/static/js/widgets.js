// One generic mechanism for every scene widget. A widget descriptor (see docs/dashboard.md) names
// its kind, a label, where its data comes from (api + field, or metric) and the live topic that
// tells it something changed. Kinds: figure, figures, share, bar, pie, table, timeseries, alerts,
// tiles, radar, line.
import { api } from "./api.js";
import { axis, baseOption, chart } from "./charts.js";
import { axisTimeFormatter, bilingual, fmtNum, fmtTime, loc, minIntervalFor, t, tOr } from "./i18n.js";
import { el, pick, throttle } from "./util.js";

const lastPart = (path) => String(path || "").split(".").pop();

/**
 * How a categorical value is shown: the descriptor's category label ({value, color, label}) if
 * one matches, else the catalogue's "<field>.<value>" (severity.major, status.open, trend.rising),
 * else the value itself (or a {locale: text} label).
 */
export function valueLabel(field, v, categories) {
  if (v == null || v === "") return "—";
  const c = categories?.find((x) => String(x.value) === String(v));
  if (c?.label) return loc(c.label);
  if (typeof v === "object") return loc(v);
  if (typeof v === "boolean") return tOr(`${lastPart(field)}.${v}`, t(`value.${v}`));
  return tOr(`${lastPart(field)}.${v}`, String(v));
}

/** A column or field heading: the descriptor's label, else the catalogue's "field.<name>". */
export const fieldLabel = (field, label) => (label ? loc(label) : tOr(`field.${lastPart(field)}`, String(field)));
const isTimeField = (field) => /(^|_)ts$/.test(lastPart(field));

const REFRESH_MS = 500;

class Widget {
  constructor(desc) {
    this.desc = desc;
    this.node = el("div", { class: `widget ${desc.kind}`, dataset: { kind: desc.kind, widget: desc.id || "" } });
    this.labelNode = el("div", { class: "wlabel" });
    this.node.append(this.labelNode);
    this.refresh = throttle(() => this.load().catch((err) => this.failed(err)), REFRESH_MS);
    this.replaying = false;
  }
  relabel() {
    this.labelNode.textContent = loc(this.desc.label);
    if (this.data !== undefined) this.render();
  }
  /** A "no data" note over the widget while its API returns nothing to show. */
  empty(yes) {
    let note = this.node.querySelector(":scope > .empty-note");
    if (yes && !note) this.node.append(note = el("div", { class: "empty-note" }));
    if (note) note.textContent = yes ? t("figure.no_data") : "";
    note?.toggleAttribute("hidden", !yes);
  }
  failed(err) {
    this.node.title = `${t("widget.error")}: ${err.message}`;
  }
  async load() {
    if (!this.desc.api || this.replaying) return;
    this.data = await api(this.desc.api);
    this.node.title = "";
    this.render();
  }
  onLive() { this.refresh(); }
  replayStart() {
    this.replaying = true;
    this.node.classList.add("dim");
    this.node.title = t("widget.live_only");
  }
  replayAt() {}
  replayStop() {
    this.replaying = false;
    this.node.classList.remove("dim");
    this.node.title = "";
    this.refresh();
  }
  render() {}
}

/**
 * One number (or label). `status: {field, categories}` adds a coloured badge beside it, e.g. the
 * congestion level next to the city index; a null value shows the catalogue's "no data".
 */
class Figure extends Widget {
  constructor(desc) {
    super(desc);
    this.node.dataset.field = desc.field || "";
    this.valueNode = el("span", { class: "value num" }, "—");
    this.unitNode = desc.unit ? el("span", { class: "unit" }, loc(desc.unit)) : null;
    this.statusNode = desc.status ? el("span", { class: "status-badge", dataset: { field: desc.status.field } }) : null;
    this.node.append(el("div", {}, this.valueNode, this.unitNode, this.statusNode));
  }
  relabel() {
    if (this.unitNode) this.unitNode.textContent = loc(this.desc.unit);
    super.relabel();
  }
  render() {
    const v = pick(this.data, this.desc.field);
    const empty = v == null || v === "";
    this.valueNode.textContent = typeof v === "number" ? fmtNum(v, this.desc.digits) : empty ? "—" : valueLabel(this.desc.field, v, this.desc.categories);
    this.valueNode.title = empty ? t("figure.no_data") : "";
    this.valueNode.classList.toggle("empty", empty);
    this.node.dataset.value = empty ? "" : String(v);
    if (this.statusNode) {
      const st = this.desc.status;
      const sv = pick(this.data, st.field);
      const c = st.categories?.find((x) => String(x.value) === String(sv));
      this.statusNode.textContent = sv == null ? "" : valueLabel(st.field, sv, st.categories);
      this.statusNode.style.background = c?.color || "";
      this.statusNode.dataset.value = sv == null ? "" : String(sv);
      this.statusNode.hidden = sv == null;
    }
  }
}

/**
 * Shares of a whole as one segmented bar with a counted legend: `field` picks an object
 * {category: count} (or rows with `x`/`y`), `categories` give order, colour and label.
 */
class Share extends Widget {
  constructor(desc) {
    super(desc);
    this.bar = el("div", { class: "share-bar" });
    this.legend = el("div", { class: "share-legend" });
    this.node.append(this.bar, this.legend);
  }
  entries() {
    const raw = pick(this.data, this.desc.field);
    const counts = new Map();
    if (Array.isArray(raw)) for (const r of raw) counts.set(String(pick(r, this.desc.x || "key")), Number(pick(r, this.desc.y || "value")) || 0);
    else for (const [k, v] of Object.entries(raw || {})) counts.set(k, Number(v) || 0);
    const cats = this.desc.categories || [...counts.keys()].map((value) => ({ value }));
    return cats.map((c, i) => ({ ...c, color: c.color || PALETTE_FALLBACK[i % PALETTE_FALLBACK.length], count: counts.get(String(c.value)) || 0 }));
  }
  render() {
    const rows = this.entries();
    const total = rows.reduce((a, r) => a + r.count, 0);
    this.bar.replaceChildren(...rows.filter((r) => r.count > 0).map((r) => el("span", {
      style: `width:${(100 * r.count) / total}%;background:${r.color}`, title: `${valueLabel(this.desc.field, r.value, this.desc.categories)} ${fmtNum(r.count)}`,
    })));
    this.legend.replaceChildren(...rows.map((r) => el("span", { class: "row", dataset: { value: String(r.value) } },
      el("span", { class: "sw", style: `background:${r.color}` }), `${valueLabel(this.desc.field, r.value, this.desc.categories)} `,
      el("b", { class: "num" }, fmtNum(r.count)))));
  }
}
const PALETTE_FALLBACK = ["#35c7ff", "#34d399", "#f5c542", "#ff8a3d", "#ff4d5e", "#b28dff"];

/** Several figures from one API object: fields = {field: label}. */
class Figures extends Widget {
  render() {
    this.node.querySelector(".figs")?.remove();
    const box = el("div", { class: "figs" });
    for (const [field, label] of Object.entries(this.desc.fields || {})) {
      const v = pick(this.data, field);
      box.append(el("div", { class: "fig", dataset: { field } }, el("span", { class: "wlabel" }, loc(label)),
        el("span", { class: "value num" }, typeof v === "number" ? fmtNum(v, this.desc.digits?.[field]) : valueLabel(field, v))));
    }
    this.node.append(box);
  }
}

/** The rows of a list widget; `sort: "field"` or `"-field"` (descending) orders them, nulls last. */
const rowsOf = (desc, data) => {
  const raw = Array.isArray(data) ? data : pick(data, desc.rows || desc.items || "rows") || [];
  const rows = Array.isArray(raw) ? raw : Object.entries(raw).map(([key, value]) => ({ key, value }));
  if (!desc.sort) return rows;
  const desc_ = desc.sort.startsWith("-");
  const field = desc_ ? desc.sort.slice(1) : desc.sort;
  const val = (r) => pick(r, field);
  return [...rows].filter((r) => val(r) != null).sort((a, b) => (val(a) < val(b) ? -1 : val(a) > val(b) ? 1 : 0) * (desc_ ? -1 : 1))
    .concat(rows.filter((r) => val(r) == null));
};

class Bar extends Widget {
  constructor(desc) {
    super(desc);
    this.plotNode = el("div", { class: "plot" });
    this.node.classList.add("chart");
    this.node.append(this.plotNode);
  }
  rows(y = this.desc.y) {
    return rowsOf(this.desc, this.data).slice(0, this.desc.limit || 1000)
      .map((r) => [valueLabel(this.desc.x, pick(r, this.desc.x), this.desc.categories), Number(pick(r, y)) || 0]);
  }
  render() {
    this.chart ??= chart(this.plotNode);
    const ys = Array.isArray(this.desc.y) ? this.desc.y : [this.desc.y];
    const rows = this.rows(ys[0]);
    this.empty(!rows.length);
    this.chart.setOption(baseOption({
      grid: { left: 8, right: 12, top: ys.length > 1 ? 26 : 8, bottom: 4, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
      xAxis: axis({ type: "value" }),
      yAxis: axis({ type: "category", data: rows.map((r) => r[0]), inverse: true }),
      legend: { show: ys.length > 1, textStyle: { color: "#8fb0d0" }, top: 0 },
      series: ys.map((y) => ({ type: "bar", name: fieldLabel(y, this.desc.y_labels?.[y]), data: this.rows(y).map((r) => r[1]), barMaxWidth: 12, itemStyle: { borderRadius: 3 },
        label: { show: ys.length === 1, position: "right", color: "#d8e6f5", formatter: (p) => fmtNum(p.value) } })),
    }), true);
  }
}

class Pie extends Bar {
  render() {
    this.chart ??= chart(this.plotNode);
    const data = this.rows().map(([name, value]) => ({ name, value }));
    this.chart.setOption(baseOption({
      tooltip: { trigger: "item" }, xAxis: undefined, yAxis: undefined,
      series: [{ type: "pie", radius: ["40%", "70%"], data, label: { color: "#d8e6f5" } }],
    }), true);
  }
}

class Table extends Widget {
  render() {
    const rows = rowsOf(this.desc, this.data);
    this.empty(!rows.length);
    const cols = (this.desc.columns || Object.keys(rows[0] || {})).map((c) => (typeof c === "string" ? { field: c } : c));
    const head = el("tr", {}, cols.map((c) => el("th", { class: c.digits != null ? "n" : null }, fieldLabel(c.field, c.label))));
    const body = rows.slice(0, this.desc.limit || 20).map((r) => el("tr", {}, cols.map((c) => {
      const v = pick(r, c.field);
      if (typeof v === "number" && isTimeField(c.field)) return el("td", { class: "n" }, fmtTime(v));
      if (typeof v === "number") return el("td", { class: "n" }, fmtNum(v, c.digits));
      const cat = c.categories?.find((x) => String(x.value) === String(v));
      const td = el("td", { dataset: { value: v == null || typeof v === "object" ? "" : String(v) } }, valueLabel(c.field, v, c.categories));
      if (cat?.color) td.append(el("span", { class: "dot", style: `background:${cat.color}` }));
      return td;
    })));
    this.node.querySelector("table")?.remove();
    this.node.append(el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, body)));
  }
}

/** A scene's open alerts (sdk.Alerts), newest first: what, whom, level, since when; live. */
class Alerts extends Widget {
  constructor(desc) {
    super({ ...desc, api: `/api/v1/alerts?scene=${encodeURIComponent(desc.scene)}&status=open&limit=${desc.limit || 20}` });
  }
  render() {
    const rows = Array.isArray(this.data) ? this.data : [];
    this.empty(!rows.length);
    const head = el("tr", {}, ["alert", "key", "severity", "opened_ts"].map((f) => el("th", {}, t(`alerts.col.${f}`))));
    const body = rows.map((a) => el("tr", { class: `alert ${a.severity}`, dataset: { id: a.id } },
      el("td", {}, bilingual(a.title)), el("td", {}, a.key), el("td", {}, t(`severity.${a.severity}`)),
      el("td", { class: "n" }, fmtTime(a.opened_ts))));
    this.node.querySelector("table")?.remove();
    this.node.append(el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, body)));
  }
}

/** A metric over time, one line per entity key; live points update it, replay reveals a past range. */
class Timeseries extends Widget {
  constructor(desc) {
    super(desc);
    this.plotNode = el("div", { class: "plot" });
    this.node.classList.add("chart");
    this.node.append(this.plotNode);
    this.series = new Map();  // key -> Map(ts -> value)
    this.rangeMs = desc.range_ms || 3_600_000;
    this.cursor = null;
    this.redraw = throttle(() => this.render(), REFRESH_MS);
  }
  async keys() {
    if (this.desc.key) return [this.desc.key];
    const keys = await api(`/api/v1/metrics/${encodeURIComponent(this.desc.metric)}/keys`);
    return keys.slice(0, this.desc.max_keys || 12);
  }
  async load(start, end) {
    end ??= Date.now();
    start ??= end - this.rangeMs;
    const agg = this.desc.agg || "avg";
    const keys = await this.keys();
    const next = new Map();
    await Promise.all(keys.map(async (key) => {
      const q = new URLSearchParams({ key, start, end, agg, max_points: 240 });
      const res = await api(`/api/v1/metrics/${encodeURIComponent(this.desc.metric)}?${q}`);
      next.set(key, new Map(res.points.map(([ts, v]) => [ts, v])));
    }));
    this.series = next;
    this.data = true;
    this.render();
  }
  onLive(points) {
    if (this.replaying || !Array.isArray(points)) return;
    const horizon = Date.now() - this.rangeMs;
    for (const p of points) {
      if (this.desc.key && p.key !== this.desc.key) continue;
      if (!this.series.has(p.key)) {
        if (this.series.size >= (this.desc.max_keys || 12)) continue;
        this.series.set(p.key, new Map());
      }
      const s = this.series.get(p.key);
      s.set(p.ts, p.value);
      for (const ts of s.keys()) { if (ts < horizon) s.delete(ts); else break; }
    }
    this.data = true;
    this.redraw();
  }
  render() {
    this.chart ??= chart(this.plotNode);
    const names = this.desc.key_labels || {};
    const series = [...this.series].map(([key, pts]) => ({
      name: loc(names[key]) || key, type: "line", showSymbol: false, smooth: true, lineStyle: { width: 1.5 },
      data: [...pts].filter(([ts]) => this.cursor == null || ts <= this.cursor).sort((a, b) => a[0] - b[0]),
    }));
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) for (const [ts] of s.data) { if (ts < lo) lo = ts; if (ts > hi) hi = ts; }
    const span = hi > lo ? hi - lo : 60_000;
    this.chart.setOption(baseOption({
      grid: { left: 8, right: 28, top: 24, bottom: 4, containLabel: true },  // room for the last time label
      legend: { show: series.length > 1 && series.length <= 6, textStyle: { color: "#8fb0d0" }, top: 0 },
      tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
      xAxis: axis({ type: "time", splitNumber: 4, minInterval: minIntervalFor(span),
        axisLabel: { color: "#8fb0d0", hideOverlap: true, formatter: axisTimeFormatter(span) } }),
      yAxis: axis({ type: "value" }),
      series,
    }), true);
  }
  replayStart(start, end) {
    this.replaying = true;
    this.cursor = start;
    this.load(start, end).catch((err) => this.failed(err));
  }
  replayAt(ts) {
    this.cursor = ts;
    this.redraw();
  }
  replayStop() {
    this.replaying = false;
    this.cursor = null;
    this.load().catch((err) => this.failed(err));
  }
}

/** A number for a chart, or ECharts' "-" (a gap) for none. */
const chartNum = (v) => (v == null || v === "" || Number.isNaN(Number(v)) ? "-" : Number(v));
const withUnit = (v, digits, unit) => (v == null || v === "-" ? "—" : `${fmtNum(v, digits)}${unit ? ` ${loc(unit)}` : ""}`);
const LEGEND = { type: "scroll", top: 0, textStyle: { color: "#8fb0d0" }, pageTextStyle: { color: "#8fb0d0" }, pageIconColor: "#35c7ff" };

/**
 * A schematic tile map (grid cartogram): one tile per row of a list at its `row`/`col`, with its
 * name and value, coloured by `color_by` among `categories` (the legend). Not a geographic map: it
 * draws no boundaries, and says so.
 */
class Tiles extends Widget {
  constructor(desc) {
    super(desc);
    this.grid = el("div", { class: "tile-grid" });
    this.legend = el("div", { class: "share-legend tile-legend" });
    this.noteNode = el("div", { class: "note" });
    this.node.append(this.grid, this.legend, this.noteNode);
  }
  render() {
    const d = this.desc;
    const rows = rowsOf(d, this.data);
    this.empty(!rows.length);
    const at = (r, f) => Math.max(0, Math.trunc(Number(pick(r, f))) || 0);
    const cols = Math.max(1, ...rows.map((r) => at(r, d.col || "col") + 1));
    this.grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    this.grid.replaceChildren(...rows.map((r) => {
      const band = pick(r, d.color_by);
      const cat = d.categories?.find((c) => String(c.value) === String(band));
      const v = pick(r, d.value || "value");
      const name = valueLabel(d.name, pick(r, d.name || "name"));
      const shown = typeof v === "number" ? withUnit(v, d.digits, d.unit) : "—";
      return el("div", {
        class: `tile${cat ? "" : " none"}`,
        dataset: { name, value: band == null ? "" : String(band) },
        style: `grid-row:${at(r, d.row || "row") + 1};grid-column:${at(r, d.col || "col") + 1};${cat?.color ? `background:${cat.color}` : ""}`,
        title: `${name} ${shown}${band == null ? "" : ` ${valueLabel(d.color_by, band, d.categories)}`}`,
      }, el("span", { class: "tname" }, name), el("b", { class: "num" }, shown));
    }));
    this.legend.replaceChildren(...(d.categories || []).map((c) => el("span", { class: "row", dataset: { value: String(c.value) } },
      el("span", { class: "sw", style: `background:${c.color}` }), valueLabel(d.color_by, c.value, d.categories))));
    this.noteNode.textContent = t("tiles.schematic");
  }
}

/**
 * Series over named axes: the answer's list `axes` (named by the field `axis_label` names in the
 * current locale), a `reference` series read from the axes (e.g. the city's mean) and the first
 * `count` rows of `items`, each with `values` = {axis id: value}.
 */
class Radar extends Bar {
  render() {
    this.chart ??= chart(this.plotNode);
    const d = this.desc;
    const axes = pick(this.data, d.axes) || [];
    const ids = axes.map((a) => pick(a, d.axis_id || "id"));
    const series = [];
    for (const r of rowsOf(d, this.data).slice(0, d.count ?? 1)) {
      const values = pick(r, d.values) || {};
      series.push({ name: valueLabel(d.name, pick(r, d.name || "name")), value: ids.map((id) => chartNum(values[id])) });
    }
    if (d.reference) series.push({ name: loc(d.reference_label) || fieldLabel(d.reference), value: axes.map((a) => chartNum(pick(a, d.reference))) });
    const all = series.flatMap((s) => s.value).filter((v) => v !== "-");
    this.empty(!all.length);
    const lo = d.min ?? (all.length ? Math.floor(Math.min(...all) * 0.9) : 0);
    const hi = d.max ?? (all.length ? Math.ceil(Math.max(...all)) : 1);
    const name = loc(d.axis_label) || "name";
    this.chart.setOption(baseOption({
      xAxis: undefined, yAxis: undefined,
      legend: { ...LEGEND, show: series.length > 1 },
      tooltip: { trigger: "item", valueFormatter: (v) => withUnit(v, d.digits) },
      radar: {
        indicator: axes.map((a) => ({ name: String(pick(a, name) ?? pick(a, "name") ?? ""), min: lo, max: hi })),
        radius: "60%", center: ["50%", "55%"], splitNumber: 4,
        axisName: { color: "#8fb0d0", fontSize: 11 },
        axisLine: { lineStyle: { color: "#2a4a6e" } }, splitLine: { lineStyle: { color: "#1c3b5e" } }, splitArea: { show: false },
      },
      series: [{ type: "radar", symbolSize: 3, areaStyle: { opacity: 0.12 }, data: series }],
    }), true);
  }
}

/**
 * Series over periods from one answer (a trend by month, not a metric): `x` lists the periods,
 * each of `series` ({field, label}) is a list aligned with it (drawn bold), and each row of
 * `items` a thin line of its `points` ({<at>: period, <y>: value}; aligned by position when no `at`).
 */
class Line extends Bar {
  render() {
    this.chart ??= chart(this.plotNode);
    const d = this.desc;
    const xs = (pick(this.data, d.x) || []).map(String);
    const series = (d.series || []).map((s) => ({
      name: loc(s.label) || fieldLabel(s.field), type: "line", z: 3, symbolSize: 5, lineStyle: { width: 2.5 },
      data: xs.map((_, i) => chartNum((pick(this.data, s.field) || [])[i])),
    }));
    for (const r of rowsOf(d, this.data).slice(0, d.limit || 12)) {
      const points = pick(r, d.points || "points") || [];
      const byAt = d.at ? new Map(points.map((p) => [String(pick(p, d.at)), p])) : null;
      series.push({
        name: valueLabel(d.name, pick(r, d.name || "name")), type: "line", showSymbol: false, lineStyle: { width: 1 },
        data: xs.map((x, i) => chartNum(pick(byAt ? byAt.get(x) : points[i], d.y || "value"))),
      });
    }
    this.empty(!series.some((s) => s.data.some((v) => v !== "-")));
    this.chart.setOption(baseOption({
      grid: { left: 8, right: 28, top: series.length > 1 ? 28 : 8, bottom: 4, containLabel: true },  // room for the last period
      legend: { ...LEGEND, show: series.length > 1 },
      tooltip: { trigger: "axis", valueFormatter: (v) => withUnit(v, d.digits, d.unit), confine: true },
      xAxis: axis({ type: "category", data: xs, boundaryGap: false, axisLabel: { color: "#8fb0d0", hideOverlap: true } }),
      yAxis: axis({ type: "value", scale: true, axisLabel: { color: "#8fb0d0", formatter: (v) => fmtNum(v) } }),
      series,
    }), true);
  }
}

class Unknown extends Widget {
  render() {}
  relabel() {
    super.relabel();
    this.node.querySelector(".note")?.remove();
    this.node.append(el("div", { class: "note" }, t("widget.unknown", { kind: this.desc.kind })));
  }
}

const KINDS = {
  figure: Figure, figures: Figures, share: Share, bar: Bar, pie: Pie, table: Table, timeseries: Timeseries, alerts: Alerts,
  tiles: Tiles, radar: Radar, line: Line,
};
// Kinds that are not drawn in a panel card: a "map" widget becomes a map layer (see map.js) and a
// "detail" widget is the drill-down of that layer.
export const NOT_IN_CARD = new Set(["map", "detail"]);

export function makeWidget(desc) {
  const Kind = KINDS[desc.kind] || Unknown;
  return new Kind(desc);
}
