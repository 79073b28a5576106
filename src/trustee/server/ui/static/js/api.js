// The server's HTTP API, with the caller's token from session storage (never from the URL).

const TOKEN_KEY = "trustee.token";
const NAME_KEY = "trustee.display_name";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export const session = {
  token() {
    return window.sessionStorage.getItem(TOKEN_KEY);
  },
  displayName() {
    return window.sessionStorage.getItem(NAME_KEY) || "";
  },
  save(token, displayName) {
    window.sessionStorage.setItem(TOKEN_KEY, token);
    window.sessionStorage.setItem(NAME_KEY, displayName || "");
  },
  clear() {
    window.sessionStorage.removeItem(TOKEN_KEY);
    window.sessionStorage.removeItem(NAME_KEY);
  },
};

const STATUS_TEXT = {
  0: "the server could not be reached",
  403: "permission denied",
  404: "not found",
  413: "the request is too large",
  429: "too many requests: try again shortly",
  503: "the server is sealed: unseal it first",
};

/**
 * Call `/v1/<path>` (or an absolute path) and answer the envelope's `data`.
 * Errors become ApiError with the server's own message, which is written for people.
 * `whole` answers the whole envelope instead (a login's `auth` block is beside `data`).
 */
export async function api(path, { method = "GET", body, auth = true, token, whole = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const value = token ?? session.token();
    if (!value) throw new ApiError(401, "not signed in");
    headers["X-Vault-Token"] = value;
  }
  const url = path.startsWith("/") ? path : `/v1/${path}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, STATUS_TEXT[0]);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const errors = payload && Array.isArray(payload.errors) ? payload.errors : [];
    const message = errors.length ? errors.join("; ") : STATUS_TEXT[response.status];
    const error = new ApiError(response.status, message || `HTTP ${response.status}`);
    const lost = /invalid or expired token|no token/.test(error.message);
    if (auth && token === undefined && response.status === 403 && lost) {
      // The token expired or was revoked while the page was open: ask for a new one.
      window.dispatchEvent(new CustomEvent("trustee:signed-out", { detail: error.message }));
    }
    throw error;
  }
  if (payload === null) return null;
  if (whole) return payload;
  return payload.data === undefined ? payload : payload.data;
}

export function segment(value) {
  return encodeURIComponent(String(value));
}
