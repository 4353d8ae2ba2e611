// The platform's API, same origin, with the person's session cookie. Changes carry the session's
// CSRF token; errors come back as ApiError with the server's message (shown to the operator).
let csrf = "";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setCsrf(token) {
  csrf = token || "";
}

function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one !== undefined && one !== null && one !== "" && one !== false) params.append(k, String(one));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const r = await fetch(withQuery(`/api/v1${path}`, query), {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data.message || `${r.status} ${r.statusText}`);
  return data;
}

/** A command id of the browser's own (a retried command is applied once by the server). */
export function commandId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // plain http on a LAN address is not a secure context: no randomUUID there, but random values
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
