// Live / replay switch. Replay plays a past range back from the store at 1x-60x: metric widgets
// reveal their series up to the replay clock, the alerts feed shows alerts as they were then, and
// map layers that declare a `replay` source are re-read as of that time. The live feed is paused
// meanwhile and everything re-reads current state when live mode resumes.
import * as alerts from "./alerts.js";
import * as live from "./live.js";
import * as map from "./map.js";
import { widgets } from "./panels.js";
import { onLocale, t } from "./i18n.js";
import { el, throttle } from "./util.js";

const SPEEDS = [1, 2, 5, 10, 30, 60];
const TICK_MS = 250;
export const state = { active: false, playing: false, start: 0, end: 0, ts: 0, speed: 10, done: false };
let root;
let timer = null;
let lastWall = 0;
const clockHooks = new Set();
export const onClock = (fn) => clockHooks.add(fn);
const mapAt = throttle(() => map.replayAt(state.ts), 1000);

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}
const fromLocalInput = (text) => new Date(text).getTime();

export function init(node) {
  root = node;
  const now = Date.now();
  state.start = now - 3_600_000;
  state.end = now;
  render();
  onLocale(render);
}

function render() {
  const modeBtn = (active, key, onclick) =>
    el("button", { class: `btn${active ? " active" : ""}`, type: "button", dataset: { mode: key }, onclick }, t(`mode.${key}`));
  const parts = [modeBtn(!state.active, "live", stop), modeBtn(state.active, "replay", enter)];
  if (state.active) {
    const start = el("input", { type: "datetime-local", dataset: { replay: "start" }, title: t("replay.start"), value: toLocalInput(state.start),
      onchange: (e) => { state.start = fromLocalInput(e.target.value); } });
    const end = el("input", { type: "datetime-local", dataset: { replay: "end" }, title: t("replay.end"), value: toLocalInput(state.end),
      onchange: (e) => { state.end = fromLocalInput(e.target.value); } });
    const speed = el("select", { dataset: { replay: "speed" }, title: t("replay.speed"), onchange: (e) => { state.speed = Number(e.target.value); } },
      SPEEDS.map((s) => el("option", { value: s }, `${s}×`)));
    speed.value = String(state.speed);
    const play = el("button", { class: "btn", type: "button", dataset: { replay: "play" }, onclick: () => (state.playing ? pause() : play_()) },
      t(state.playing ? "replay.pause" : "replay.play"));
    parts.push(el("span", { class: "replay" }, start, end, speed, play));
  }
  root.replaceChildren(...parts);
  root.dataset.replay = state.active ? (state.done ? "done" : state.playing ? "playing" : "paused") : "off";
}

function enter() {
  if (state.active) return;
  state.active = true;
  state.done = false;
  const now = Date.now();
  state.end = now;
  state.start = now - 3_600_000;
  live.setPaused(true);
  render();
}

async function play_() {
  if (state.ts <= state.start || state.ts >= state.end || state.done) {
    state.ts = state.start;
    state.done = false;
    for (const w of widgets) w.replayStart(state.start, state.end);
    await alerts.replayStart(state.start);
  }
  state.playing = true;
  lastWall = performance.now();
  timer = setInterval(tick, TICK_MS);
  render();
  tick();
}

function tick() {
  const now = performance.now();
  state.ts = Math.min(state.end, state.ts + (now - lastWall) * state.speed);
  lastWall = now;
  for (const w of widgets) w.replayAt(state.ts);
  alerts.replayAt(state.ts);
  mapAt();
  for (const fn of clockHooks) fn(state.ts);
  if (state.ts >= state.end) {
    state.done = true;
    pause();
  }
}

function pause() {
  clearInterval(timer);
  timer = null;
  state.playing = false;
  render();
}

function stop() {
  if (!state.active) return;
  pause();
  state.active = false;
  state.ts = 0;
  for (const w of widgets) w.replayStop();
  alerts.replayStop();
  map.replayStop();
  live.setPaused(false);
  for (const fn of clockHooks) fn(null);
  render();
}
