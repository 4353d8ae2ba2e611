// The live feed and the page's one data path. WebSocket messages and synthetic ones (feed()) go
// into an inbox that is drained once per animation frame (or every 100 ms when the tab is hidden),
// so a burst is handled in a few large steps instead of thousands of small ones. Nothing in the
// inbox is dropped. When the server closes a slow client (1013) or the socket drops, we reconnect
// and call the reconnect hooks so modules re-read state from the API.
import { getToken } from "./api.js";
import { topicMatch } from "./util.js";

const handlers = [];  // [pattern, fn(data, topic)]
const reconnectHooks = new Set();
const statusHooks = new Set();
const refusedHooks = new Set();
let inbox = [];
let ws = null;
let topics = new Set();
let backoff = 500;
let paused = false;
let scheduled = false;
let stopped = false;
export const stats = { received: 0, dispatched: 0, maxBatch: 0, reconnects: 0 };

export function on(pattern, fn) {
  handlers.push([pattern, fn]);
  topics.add(pattern);
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "subscribe", topics: [pattern] }));
}
export const onReconnect = (fn) => reconnectHooks.add(fn);
export const onStatus = (fn) => statusHooks.add(fn);
/** Called when the server refuses the feed's credentials (the session or token may have ended). */
export const onRefused = (fn) => refusedHooks.add(fn);
const setStatus = (s) => { for (const fn of statusHooks) fn(s); };

/** Put a message on the page's data path exactly as if it came over the WebSocket. */
export function feed(topic, data) {
  inbox.push({ topic, data });
  schedule();
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  if (document.hidden) setTimeout(drain, 100);
  else requestAnimationFrame(drain);
}

function drain() {
  scheduled = false;
  if (paused) { inbox = []; return; }  // replay mode ignores the live feed and re-reads it after
  const batch = inbox;
  inbox = [];
  stats.maxBatch = Math.max(stats.maxBatch, batch.length);
  for (const msg of batch) {
    for (const [pattern, fn] of handlers) {
      if (!topicMatch(pattern, msg.topic)) continue;
      try {
        fn(msg.data, msg.topic);
      } catch (err) {
        console.error(`live handler for ${pattern} failed`, err);
      }
    }
    stats.dispatched += 1;
  }
}

export function connect() {
  stopped = false;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`;
  setStatus("connecting");
  ws = new WebSocket(url);
  let authed = false;
  // with no token the server takes the session cookie the browser sent with the handshake
  ws.onopen = () => ws.send(JSON.stringify(getToken() ? { op: "auth", token: getToken() } : { op: "auth" }));
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.op === "ready") {
      authed = true;
      backoff = 500;
      ws.send(JSON.stringify({ op: "subscribe", topics: [...topics] }));
      setStatus(paused ? "replay" : "live");
      if (stats.reconnects++ > 0) for (const fn of reconnectHooks) fn();
      return;
    }
    if (msg.op || msg.error) return;
    stats.received += 1;
    inbox.push(msg);
    schedule();
  };
  ws.onclose = (ev) => {
    ws = null;
    if (stopped) return;
    setStatus("down");
    if (!authed && ev.code === 1008) {
      setStatus("auth");
      for (const fn of refusedHooks) fn();
      return;
    }
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  };
}

export function disconnect() {
  stopped = true;
  ws?.close();
}

/** Replay mode pauses live dispatch; resuming re-reads state through the reconnect hooks. */
export function setPaused(value) {
  paused = value;
  setStatus(value ? "replay" : ws?.readyState === WebSocket.OPEN ? "live" : "down");
  if (!value) for (const fn of reconnectHooks) fn();
}
export const isPaused = () => paused;
