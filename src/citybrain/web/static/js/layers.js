// Turning a scene's map-layer descriptor (docs/dashboard.md) into MapLibre layers and styles.
import { loc, t, tOr } from "./i18n.js";

export const DEFAULT_COLOR = "#35c7ff";

/** A MapLibre colour expression for descriptor.color. */
export function colorExpr(color) {
  if (!color) return DEFAULT_COLOR;
  if (typeof color === "string") return color;
  if (color.categories) {
    const expr = ["match", ["to-string", ["get", color.by]]];
    for (const c of color.categories) expr.push(String(c.value), c.color);
    expr.push(color.default || "#7f98b5");
    return expr;
  }
  if (color.stops) {
    const expr = ["interpolate", ["linear"], ["to-number", ["get", color.by], 0]];
    for (const [v, c] of color.stops) expr.push(v, c);
    return expr;
  }
  return color.color || DEFAULT_COLOR;
}

/** The legend entries of one layer: [[colour, label], ...]. */
export function legendEntries(desc) {
  const c = desc.color;
  if (!c || typeof c === "string") return [[typeof c === "string" ? c : DEFAULT_COLOR, loc(desc.title)]];
  // labels: the descriptor's, else the message catalogue's "<by>.<value>" (e.g. alarm_level.2),
  // else "<name of the property> <value>" with the name from the catalogue's "field.<by>"
  const named = (v, label) => loc(label) || tOr(`${c.by}.${v}`, `${loc(c.label) || tOr(`field.${c.by}`, t("legend.value"))} ${v}`);
  if (c.categories) return c.categories.map((x) => [x.color, named(x.value, x.label)]);
  if (c.stops) return c.stops.map(([v, col, label]) => [col, named(v, label)]);
  return [];
}

/** MapLibre layer specs for one descriptor (ids prefixed with the descriptor id). */
export function styleLayers(desc, arrowImage) {
  const id = desc.id;
  const color = colorExpr(desc.color);
  const size = desc.size || 4;
  const visibility = desc.visible === false ? "none" : "visible";
  const out = [];
  if (desc.geometry === "line") {
    out.push({ id, type: "line", source: id, layout: { visibility, "line-cap": "round", "line-join": "round" },
      paint: { "line-color": color, "line-width": ["interpolate", ["linear"], ["zoom"], 9, size * 0.5, 15, size * 2] } });
  } else if (desc.geometry === "polygon") {
    out.push({ id, type: "fill", source: id, layout: { visibility }, paint: { "fill-color": color, "fill-opacity": 0.35, "fill-outline-color": color } });
  } else if (desc.geometry === "vehicle") {
    out.push({ id, type: "symbol", source: id, layout: {
      visibility, "icon-image": arrowImage, "icon-size": size / 8, "icon-allow-overlap": true, "icon-ignore-placement": true,
      "icon-rotate": ["to-number", ["get", desc.heading || "heading"], 0], "icon-rotation-alignment": "map",
    }, paint: { "icon-color": color } });
  } else {
    out.push({ id, type: "circle", source: id, layout: { visibility }, paint: {
      "circle-color": color, "circle-opacity": 0.85, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1,
      "circle-radius": desc.radius_by ? ["interpolate", ["linear"], ["to-number", ["get", desc.radius_by], 0], 0, size, 10, size * 3] : size,
    } });
  }
  if (desc.label) {
    out.push({ id: `${id}.label`, type: "symbol", source: id, layout: {
      visibility, "text-field": ["to-string", ["get", desc.label]], "text-size": 12, "text-offset": [0, 1.2],
      "text-font": ["Noto Sans CJK SC Regular"], "text-allow-overlap": false,
    }, paint: { "text-color": "#d8e6f5", "text-halo-color": "#050d18", "text-halo-width": 1.5 } });
  }
  return out;
}

/** An arrow pointing north, drawn once and used as an SDF icon so each layer can colour it. */
export function arrowIcon(px = 32) {
  const c = document.createElement("canvas");
  c.width = c.height = px;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.beginPath();
  g.moveTo(px / 2, 2);
  g.lineTo(px - 6, px - 4);
  g.lineTo(px / 2, px - 10);
  g.lineTo(6, px - 4);
  g.closePath();
  g.fill();
  return g.getImageData(0, 0, px, px);
}
