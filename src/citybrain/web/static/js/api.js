// Two ways in. A person signs in with a username and password: the server sets an HttpOnly session
// cookie the page never sees (same-origin requests carry it) and answers with a CSRF token, which
// is kept in this module's memory only and sent as X-CSRF-Token on every change. A kiosk or big
// screen can instead use an API token: it lives in sessionStorage and goes only into the
// Authorization header (or the live feed's first message), never into a URL or a log.
const KEY = "citybrain.token";
// Not a secret: a hint that this browser may hold a session cookie, so a page opened without one
// does not start with a request that can only fail.
const HINT = "citybrain.session";
let onUnauthorised = () => {};
let csrf = "";

export const getToken = () => sessionStorage.getItem(KEY);
export const setToken = (token) => sessionStorage.setItem(KEY, token);
export const clearToken = () => sessionStorage.removeItem(KEY);
export const mayHaveSession = () => localStorage.getItem(HINT) === "1";
export const whenUnauthorised = (fn) => { onUnauthorised = fn; };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET/POST JSON with the bearer token, or with the session cookie (and its CSRF token on changes). */
export async function api(path, { method = "GET", body, token = getToken(), quiet = false } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "same-origin" });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet) onUnauthorised();
    throw new ApiError(res.status, data?.message || `${res.status} ${res.statusText}`);
  }
  return data;
}

/** Who is calling (token or session) and what each scene lets them do: GET /api/v1/auth/me. */
export async function me(token = getToken()) {
  const who = await api("/api/v1/auth/me", { token, quiet: true });
  if (!token) csrf = who.csrf || "";
  return who;
}

/** Sign in with a username, password and (when enrolled) a one-time code. */
export async function login(username, password, code) {
  const who = await api("/api/v1/auth/login", { method: "POST", body: { username, password, code }, token: null, quiet: true });
  csrf = who.csrf || "";
  localStorage.setItem(HINT, "1");
  return who;
}

/** End the session (or forget the token). */
export async function logout() {
  const token = getToken();
  clearToken();
  if (!token && mayHaveSession()) await api("/api/v1/auth/logout", { method: "POST", token: null, quiet: true }).catch(() => {});
  forget();
}

/** Forget the session on this page (it ended on the server). */
export function forget() {
  csrf = "";
  localStorage.removeItem(HINT);
}

/** Whether the caller may take `action` in `scene` (from GET /api/v1/auth/me's `can`). */
export const allows = (who, scene, action) => (who?.can?.[scene] || []).includes(action);
