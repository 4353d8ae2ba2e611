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

// Panels in `order` (descriptor key, default 100; ties keep the scenes' order), so the headline
// scene comes first in its column and in the header.
export const ordered = (scenes) => scenes.map((s, i) => [s, i])
  .sort(([a, i], [b, j]) => (a.panel?.order ?? 100) - (b.panel?.order ?? 100) || i - j).map(([s]) => s);


/**
 * One card per scene panel. A panel that names its `column` goes there; the others go to the
 * column with fewer cards (the alerts feed counts as one on the right; a tie goes right, beside
 * the headline card), so every installed scene is on screen. Cards in a column share its height
 * in proportion to their content and scroll inside themselves; the card of the panel with the
 * lowest declared `order` is the lead and gives up less height (docs/dashboard.md, "Layout").
 */
export function buildPanels(scenes, left, right) {
  const load = { left: 0, right: 1 };
  const lead = ordered(scenes).find((s) => s.panel?.order != null && (s.panel.widgets || []).some((w) => !NOT_IN_CARD.has(w.kind)));
  for (const scene of ordered(scenes)) {
    const panel = scene.panel || {};
    const shown = (panel.widgets || []).filter((w) => !NOT_IN_CARD.has(w.kind));
    if (!shown.length) continue;
    const title = el("h2");
    const body = el("div", { class: "body" });
    const card = el("section", { class: "card panel", dataset: { scene: scene.name } }, title, body);
    for (const [n, desc] of shown.entries()) {
      const w = makeWidget({ id: `${scene.name}-${n}`, ...desc });
      body.append(w.node);
      wire(w);
    }
    onLocale(() => { title.textContent = loc(panel.title || scene.title); });
    title.textContent = loc(panel.title || scene.title);
    const side = panel.column === "left" || panel.column === "right" ? panel.column : load.left < load.right ? "left" : "right";
    load[side] += 1;
    card.dataset.column = side;
    if (scene === lead) card.classList.add("lead");
    (side === "right" ? right : left).append(card);
  }
}

/** Headline figures declared by scenes (panel.headline: figure widgets) go into the header. */
export function buildHeadline(scenes, node) {
  for (const scene of ordered(scenes)) {
    for (const [n, desc] of (scene.panel?.headline || []).entries()) {
      const w = makeWidget({ id: `${scene.name}-head-${n}`, kind: "figure", ...desc });
      w.node.className = "fig";
      w.node.dataset.scene = scene.name;
      node.append(w.node);
      wire(w);
    }
  }
}

onLocale(() => { for (const w of widgets) w.relabel(); });
live.onReconnect(() => { for (const w of widgets) if (!w.replaying) w.refresh(); });
