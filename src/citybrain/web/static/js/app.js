// The signed-in screen: everything built from GET /api/v1/scenes (only the scenes the caller may
// read, from GET /api/v1/auth/me's `can`), then the live feed.
import { allows, api } from "./api.js";
import * as alerts from "./alerts.js";
import * as audit from "./audit.js";
import * as drill from "./drill.js";
import * as header from "./header.js";
import * as live from "./live.js";
import * as map from "./map.js";
import { buildHeadline, buildPanels } from "./panels.js";
import * as replay from "./replay.js";

export async function start(who, onRefused = () => {}) {
  const scenes = (await api("/api/v1/scenes")).filter((s) => allows(who, s.name, "read"));
  const $ = (id) => document.getElementById(id);
  buildHeadline(scenes, $("headline"));  // scenes' figures first, then open alerts by severity
  header.init($("headline"), $("clock"), $("conn"));
  buildPanels(scenes, $("panels-left"), $("panels-right"));
  drill.init($("drill"));
  audit.init($("audit"), $("audit-open"), who);  // only for people who may administer the platform
  replay.init($("mode"));
  live.onRefused(onRefused);
  live.connect();
  await Promise.all([
    alerts.init($("alerts"), scenes, who),
    map.init($("map"), map.collectLayers(scenes), (desc, key, props) => drill.open(desc, key, props)),
  ]);
  // test and benchmark hooks; the token is deliberately not among them
  window.citybrain = { feed: live.feed, liveStats: live.stats, mapStats: map.stats, layers: map.layers, merge: map.merge, getMap: map.getMap, ready: true };
  document.body.dataset.ready = "1";
}
