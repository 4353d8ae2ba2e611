// Who is signed in. The session cookie is httpOnly, so the page remembers only that it signed in
// (sessionStorage) and asks /auth/me on a reload instead of provoking a 401 on a first visit.
import { reactive } from "vue";
import { api, setCsrf } from "./api.js";

const KEY = "citybrain.console.signed-in";
export const session = reactive({ me: null, ready: false });

export async function restore() {
  if (sessionStorage.getItem(KEY)) {
    try {
      const me = await api("/auth/me");
      setCsrf(me.csrf);
      session.me = me;
    } catch {
      sessionStorage.removeItem(KEY);
    }
  }
  session.ready = true;
}

export async function signIn(username, password, code) {
  const me = await api("/auth/login", { method: "POST", body: { username, password, code } });
  setCsrf(me.csrf);
  sessionStorage.setItem(KEY, "1");
  session.me = me;
}

export async function signOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    sessionStorage.removeItem(KEY);
    setCsrf("");
    session.me = null;
  }
}

/** Whether the signed-in person holds one of ``roles`` (an administrator holds them all). */
export function holds(...roles) {
  const mine = session.me?.roles || [];
  return mine.includes("admin") || roles.some((r) => mine.includes(r));
}
