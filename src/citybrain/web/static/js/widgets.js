// One generic mechanism for every scene widget. A widget descriptor (see docs/dashboard.md) names
// its kind, a label, where its data comes from (api + field, or metric) and the live topic that
// tells it something changed. Kinds: figure, bar, pie, table, timeseries.
import { api } from "./api.js";
import { axis, baseOption, chart } from "./charts.js";
import { fmtNum, fmtTime, loc, t } from "./i18n.js";
import { el, pick, throttle } from "./util.js";

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

class Figure extends Widget {
  constructor(desc) {
    super(desc);
    this.valueNode = el("span", { class: "value num" }, "—");
    this.node.append(el("div", {}, this.valueNode, desc.unit ? el("span", { class: "unit" }, loc(desc.unit)) : null));
  }
  render() {
    const v = pick(this.data, this.desc.field);
    this.valueNode.textContent = typeof v === "number" ? fmtNum(v, this.desc.digits) : loc(v) || "—";
  }
}

/** Several figures from one API object: fields = {field: label}. */
class Figures extends Widget {
  render() {
    this.node.querySelector(".figs")?.remove();
    const box = el("div", { class: "figs" });
    for (const [field, label] of Object.entries(this.desc.fields || {})) {
      const v = pick(this.data, field);
      box.append(el("div", { class: "fig", dataset: { field } }, el("span", { class: "wlabel" }, loc(label)),
        el("span", { class: "value num" }, typeof v === "number" ? fmtNum(v) : loc(v) || "—")));
    }
    this.node.append(box);
  }
}

const rowsOf = (desc, data) => (Array.isArray(data) ? data : pick(data, desc.rows || desc.items || "rows") || []);

class Bar extends Widget {
  constructor(desc) {
    super(desc);
    this.plotNode = el("div", { class: "plot" });
    this.node.classList.add("chart");
    this.node.append(this.plotNode);
  }
  rows(y = this.desc.y) {
    return rowsOf(this.desc, this.data).map((r) => [loc(pick(r, this.desc.x)), Number(pick(r, y)) || 0]);
  }
  render() {
    this.chart ??= chart(this.plotNode);
    const ys = Array.isArray(this.desc.y) ? this.desc.y : [this.desc.y];
    const rows = this.rows(ys[0]);
    this.chart.setOption(baseOption({
      grid: { left: 8, right: 12, top: 8, bottom: 4, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
      xAxis: axis({ type: "value" }),
      yAxis: axis({ type: "category", data: rows.map((r) => r[0]), inverse: true }),
      legend: { show: ys.length > 1, textStyle: { color: "#8fb0d0" }, top: 0 },
      series: ys.map((y) => ({ type: "bar", name: y, data: this.rows(y).map((r) => r[1]), barMaxWidth: 12, itemStyle: { borderRadius: 3 },
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
    const cols = (this.desc.columns || Object.keys(rows[0] || {})).map((c) => (typeof c === "string" ? { field: c, label: c } : c));
    const head = el("tr", {}, cols.map((c) => el("th", {}, loc(c.label))));
    const body = rows.slice(0, this.desc.limit || 20).map((r) => el("tr", {}, cols.map((c) => {
      const v = pick(r, c.field);
      return typeof v === "number" ? el("td", { class: "n" }, fmtNum(v, c.digits)) : el("td", {}, loc(v));
    })));
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
    this.chart.setOption(baseOption({
      legend: { show: series.length > 1 && series.length <= 6, textStyle: { color: "#8fb0d0" }, top: 0 },
      tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
      xAxis: axis({ type: "time", splitNumber: 4, axisLabel: { color: "#8fb0d0", hideOverlap: true, formatter: (v) => fmtTime(v).slice(0, 5) } }),
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

class Unknown extends Widget {
  render() {}
  relabel() {
    super.relabel();
    this.node.querySelector(".note")?.remove();
    this.node.append(el("div", { class: "note" }, t("widget.unknown", { kind: this.desc.kind })));
  }
}

const KINDS = { figure: Figure, figures: Figures, bar: Bar, pie: Pie, table: Table, timeseries: Timeseries };
// Kinds that are not drawn in a panel card: a "map" widget becomes a map layer (see map.js) and a
// "detail" widget is the drill-down of that layer.
export const NOT_IN_CARD = new Set(["map", "detail"]);

export function makeWidget(desc) {
  const Kind = KINDS[desc.kind] || Unknown;
  return new Kind(desc);
}
