// The token lives in sessionStorage and goes only into the Authorization header (or the live
// feed's first message). It is never put in a URL and never logged.
const KEY = "citybrain.token";
let onUnauthorised = () => {};

export const getToken = () => sessionStorage.getItem(KEY);
export const setToken = (token) => sessionStorage.setItem(KEY, token);
export const clearToken = () => sessionStorage.removeItem(KEY);
export const whenUnauthorised = (fn) => { onUnauthorised = fn; };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET/POST JSON with the bearer token. */
export async function api(path, { method = "GET", body, token = getToken() } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorised();
    throw new ApiError(res.status, data?.message || `${res.status} ${res.statusText}`);
  }
  return data;
}

/** The token's identity and scopes, or an ApiError. */
export const session = (token) => api("/api/v1/session", { token });
