// A hash router: thirteen views, no server routes beyond /console/ (a reload keeps the view).
import { reactive } from "vue";

const ROUTES = [
  ["inbox", /^\/inbox$/],
  ["cases", /^\/cases$/],
  ["case", /^\/cases\/([^/]+)$/],
  ["new", /^\/new$/],
  ["dispatch", /^\/dispatch$/],
  ["risks", /^\/risks$/],
  ["household", /^\/households\/([^/]+)$/],
  ["parking", /^\/parking(?:\/([^/]+))?$/],
  ["parking-session", /^\/sessions\/([^/]+)$/],
  ["reconciliation", /^\/reconciliation$/],
  ["reports", /^\/reports$/],
  ["safety", /^\/safety$/],
];
export const route = reactive({ name: "inbox", id: "" });

function parse() {
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/inbox";
  for (const [name, re] of ROUTES) {
    const m = path.match(re);
    if (m) {
      route.name = name;
      route.id = m[1] || "";
      return;
    }
  }
  route.name = "inbox";
  route.id = "";
}

export function go(path) {
  location.hash = `#${path}`;
}

export function startRouter() {
  window.addEventListener("hashchange", parse);
  parse();
}
