// Every call the page makes goes through `call`: one place that builds the URL, adds the
// caller's token and turns the service's error shape into an Error with its message as is.

import { AUTH_REQUIRED, bearer, refused } from "./session.js";

// The functions are the console's siblings (/console beside /get_targets, locally and behind
// the gateway). This module is served at <base>/console/<version>/api.js, so <base>/ is two
// folders up whatever the page's own URL looks like.
const BASE = new URL("../../", import.meta.url);

export class ApiError extends Error {
  constructor(message, status, code, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function url(name, params = {}) {
  const target = new URL(name, BASE);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      target.searchParams.set(key, String(value));
    }
  }
  return target;
}

// The request's headers and the token they carry (session.js), if any. Signed out, a page
// whose functions ask for a token calls nothing: the sign-in form is showing already.
async function headers(extra) {
  const all = { ...extra };
  const token = await bearer();
  if (AUTH_REQUIRED && !token) throw new ApiError("Sign in first.", 401);
  if (token) all.Authorization = `Bearer ${token}`;
  return { all, token };
}

// A 401 ends the session that token belonged to: the sign-in form shows the service's message.
async function failure(response, token) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not the service's JSON (a proxy's page, say): the status line is all there is.
  }
  const error = body && body.error;
  const failed = error && typeof error.message === "string"
    ? new ApiError(error.message, response.status, error.code, error.field)
    : new ApiError(`HTTP ${response.status} ${response.statusText}`, response.status);
  if (response.status === 401) refused(token, failed.message);
  return failed;
}

// JSON of GET <name>?params, or of a POST with `body` (an object as JSON, a string as is with
// `contentType`).
export async function call(name, { params = {}, method = "GET", body, contentType } = {}) {
  const { all, token } = await headers({ Accept: "application/json" });
  const init = { method, headers: all };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = contentType || "application/json";
  }
  let response;
  try {
    response = await fetch(url(name, params), init);
  } catch (error) {
    throw new ApiError(`${name} cannot be reached: ${error.message}`, 0);
  }
  if (!response.ok) throw await failure(response, token);
  return response.json();
}

// The function's own CSV of the same query, saved as a file. Fetched (not a plain link) so
// the token goes with it.
export async function download(name, params, filename) {
  const { all, token } = await headers({});
  const response = await fetch(url(name, { ...params, format: "csv" }), { headers: all });
  if (!response.ok) throw await failure(response, token);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
