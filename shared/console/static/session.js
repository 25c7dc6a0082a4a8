// Who the page calls the functions as: an Identity Platform session (email and password through
// its REST API, the ID token renewed before it expires), an ID token pasted in (AUTH_MODE=jwt
// without an API key: a laptop against a test issuer), or nobody (AUTH_MODE=off).
//
// Tokens are kept in this module's memory only, never in sessionStorage or a cookie: a refresh
// token does not expire, so nothing is left behind in the browser once the tab is closed or
// reloaded, at the price of signing in again after a reload.

// How the console function configured this page (shared/console/page.py).
const config = document.body.dataset;
export const AUTH_REQUIRED = config.authMode === "jwt";
export const PASSWORD_SIGN_IN = AUTH_REQUIRED && Boolean(config.identityApiKey);

// Fired on document when a user signs in (not when their token is renewed): detail the claims.
export const SIGNED_IN = "fleet:signed-in";
// Fired when the session ends unasked (a call answered 401, a renewal refused): detail the
// message to show.
export const ENDED = "fleet:session-ended";

export class IdentityError extends Error {}

let current = null; // { idToken, refreshToken, renewAt (ms), claims }
let timer = null;
let renewing = null;

// The payload of a JWT (base64url JSON), or null for anything else. Only to decide what to
// show: the functions verify the token and enforce the role.
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

export const claims = () => (current ? current.claims : null);
export const signedIn = () => current !== null;

function endpoint(origin, path) {
  const url = new URL(path, origin);
  url.searchParams.set("key", config.identityApiKey);
  return url;
}

// Identity Platform answers errors as {"error": {"code": 400, "message": "INVALID_PASSWORD"}}.
// The referrer is the page's origin, for an API key restricted to the console's host.
async function post(url, headers, body) {
  let response;
  try {
    response = await fetch(url, { method: "POST", headers, body, credentials: "omit", referrerPolicy: "strict-origin" });
  } catch (error) {
    throw new IdentityError(`Identity Platform cannot be reached: ${error.message}`);
  }
  let reply = null;
  try {
    reply = await response.json();
  } catch {
    // Not JSON: the status line is all there is.
  }
  if (!response.ok) {
    const message = reply && reply.error && reply.error.message;
    throw new IdentityError(typeof message === "string" ? message : `HTTP ${response.status}`);
  }
  return reply;
}

// Renewed this long before it expires: a minute of an hour's token, half of a shorter one.
function hold(idToken, refreshToken, expiresIn) {
  const seconds = Number(expiresIn) > 0 ? Number(expiresIn) : 3600;
  const lead = Math.min(60, seconds / 2);
  current = { idToken, refreshToken, renewAt: Date.now() + (seconds - lead) * 1000, claims: claimsOf(idToken) };
  clearTimeout(timer);
  timer = setTimeout(() => renew().catch(() => {}), (seconds - lead) * 1000);
}

function end(message) {
  current = null;
  clearTimeout(timer);
  document.dispatchEvent(new CustomEvent(ENDED, { detail: message }));
}

export async function signInWithPassword(email, password) {
  const reply = await post(
    endpoint(config.identityUrl, "/v1/accounts:signInWithPassword"),
    { "Content-Type": "application/json" },
    JSON.stringify({ email, password, returnSecureToken: true }),
  );
  hold(reply.idToken, reply.refreshToken, reply.expiresIn);
  document.dispatchEvent(new CustomEvent(SIGNED_IN, { detail: current.claims }));
}

export function usePastedToken(token) {
  current = { idToken: token, refreshToken: null, renewAt: Infinity, claims: claimsOf(token) };
  clearTimeout(timer);
  document.dispatchEvent(new CustomEvent(SIGNED_IN, { detail: current.claims }));
}

// One renewal at a time, however many calls are waiting for it.
function renew() {
  if (renewing) return renewing;
  const held = current;
  if (!held || !held.refreshToken) return Promise.resolve();
  renewing = post(
    endpoint(config.secureTokenUrl, "/v1/token"),
    { "Content-Type": "application/x-www-form-urlencoded" },
    new URLSearchParams({ grant_type: "refresh_token", refresh_token: held.refreshToken }),
  ).then(
    (reply) => {
      if (current === held) hold(reply.id_token, reply.refresh_token, reply.expires_in);
    },
    (error) => {
      if (current === held) end(`Your session could not be renewed (${error.message}): sign in again.`);
    },
  ).finally(() => {
    renewing = null;
  });
  return renewing;
}

// The token to send now (renewed first if it is due), or null.
export async function bearer() {
  if (current && Date.now() >= current.renewAt) await renew();
  return current ? current.idToken : null;
}

// A function refused `token` (401): the session it belonged to is over. A refusal of a token
// no longer held (an ended session's, or one renewed since) ends nothing more.
export function refused(token, message) {
  if (current ? current.idToken !== token : token !== null) return;
  end(message);
}

export function signOut() {
  current = null;
  clearTimeout(timer);
}
