// Small helpers shared by the dashboard modules.

/** Create an element: el("div", {class: "x", onclick}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** Value at a dotted path ("data.speed") of an object. */
export function pick(obj, path) {
  if (!path) return obj;
  let cur = obj;
  for (const part of String(path).split(".")) {
    if (cur == null) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Fill {name} placeholders of an API template from an object (values URL-encoded). */
export function expand(template, values, encode = encodeURIComponent) {
  return template.replace(/\{(\w+)\}/g, (_, name) => encode(String(values[name] ?? "")));
}

/** Glob match of live topics, as the server does ("alert.*", "state.pulse"). */
export function topicMatch(pattern, topic) {
  if (pattern === topic) return true;
  if (!pattern.includes("*") && !pattern.includes("?")) return false;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(topic);
}

/**
 * Run fn at most once per `ms`: the first call runs at once, later calls inside the window are
 * coalesced into one trailing run, so the last state is always shown.
 */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    const wait = last + ms - performance.now();
    if (wait <= 0 && !timer) {
      last = performance.now();
      fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        last = performance.now();
        fn();
      }, Math.max(0, wait));
    }
  };
}

export const SEVERITIES = ["critical", "major", "warning", "info"];
export const SEVERITY_COLORS = { info: "#4c9bff", warning: "#f5c542", major: "#ff8a3d", critical: "#ff4d5e" };
