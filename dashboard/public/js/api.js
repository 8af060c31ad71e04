/** The admin API as the dashboard uses it: a bearer key kept in localStorage, JSON answers. */

const KEY_STORAGE = "parcours.adminKey";
const REQUEST_TIMEOUT_MS = 10_000;

/** Raised when the engine refuses the admin key; the app goes back to the key screen. */
export class UnauthorizedError extends Error {}

/** Raised for an answer that is neither 2xx nor 401, with the engine's message when it has one. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key) {
  localStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

/** GETs an admin path such as `/api/scenarios` with the stored key (or `key` when given). */
export async function get(path, key = storedKey()) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${key ?? ""}`, accept: "application/json" },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (response.status === 401 || response.status === 403) throw new UnauthorizedError();
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.message ?? `${path} answered ${response.status}`);
  }
  return body;
}

/** `get` for a path built from segments, each one URL-encoded. */
export function getAt(...segments) {
  const [base, ...rest] = segments;
  return get([base, ...rest.map((segment) => encodeURIComponent(segment))].join("/"));
}
