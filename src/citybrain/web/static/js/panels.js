// Scene panels and the header's headline figures, built from the scenes' panel descriptors.
import * as live from "./live.js";
import { loc, onLocale } from "./i18n.js";
import { el } from "./util.js";
import { makeWidget, NOT_IN_CARD } from "./widgets.js";

export const widgets = [];

function wire(w) {
  widgets.push(w);
  if (w.desc.live) live.on(w.desc.live, (data) => w.onLive(data));
  w.relabel();
  w.refresh();
}

/** One card per scene panel; cards alternate between the left and right columns. */
export function buildPanels(scenes, left, right) {
  let i = 0;
  for (const scene of scenes) {
    const panel = scene.panel || {};
    const shown = (panel.widgets || []).filter((w) => !NOT_IN_CARD.has(w.kind));
    if (!shown.length) continue;
    const title = el("h2");
    const card = el("section", { class: "card panel", dataset: { scene: scene.name } }, title);
    for (const [n, desc] of shown.entries()) {
      const w = makeWidget({ id: `${scene.name}-${n}`, ...desc });
      card.append(w.node);
      wire(w);
    }
    onLocale(() => { title.textContent = loc(panel.title || scene.title); });
    title.textContent = loc(panel.title || scene.title);
    const side = panel.column || (i % 2 === 0 ? "left" : "right");
    (side === "right" ? right : left).append(card);
    i += 1;
  }
}

/** Headline figures declared by scenes (panel.headline: figure widgets) go into the header. */
export function buildHeadline(scenes, node) {
  for (const scene of scenes) {
    for (const [n, desc] of (scene.panel?.headline || []).entries()) {
      const w = makeWidget({ id: `${scene.name}-head-${n}`, kind: "figure", ...desc });
      w.node.className = "fig";
      node.append(w.node);
      wire(w);
    }
  }
}

onLocale(() => { for (const w of widgets) w.relabel(); });
live.onReconnect(() => { for (const w of widgets) if (!w.replaying) w.refresh(); });
