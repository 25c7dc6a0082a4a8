// The sign-in form: email and password sent to Identity Platform (PASSWORD_SIGN_IN), or an ID
// token to paste (AUTH_MODE=jwt without an API key, or a function that answered 401 with
// AUTH_MODE=off). Shown at start when the functions ask for a token, and again with the
// service's message whenever a session ends; Sign out forgets the tokens and reloads the page,
// so nothing of the last user's data stays on screen.

import { applyRole } from "./roles.js";
import {
  AUTH_REQUIRED, ENDED, PASSWORD_SIGN_IN, SIGNED_IN, claims, signInWithPassword, signOut, usePastedToken,
} from "./session.js";
import { CHANGED } from "./state.js";

const panel = () => document.getElementById("sign-in");
const passwordForm = () => document.getElementById("password-signin");
const tokenForm = () => document.getElementById("signin");

function say(message, isError) {
  const line = document.getElementById("sign-in-message");
  line.textContent = message;
  line.classList.toggle("error", isError);
  line.setAttribute("role", isError ? "alert" : "status");
}

function ask(message = "", isError = false) {
  const form = PASSWORD_SIGN_IN ? passwordForm() : tokenForm();
  document.body.dataset.session = "none";
  document.getElementById("who").hidden = true;
  document.getElementById("signout").hidden = true;
  say(message, isError);
  const wasHidden = panel().hidden;
  panel().hidden = false;
  form.hidden = false;
  if (wasHidden) form.querySelector("input").focus();
}

function describe(who) {
  if (!who) return "Signed in.";
  const name = who.email || who.sub || "unknown user";
  const teams = Array.isArray(who.teams) && who.teams.length ? ` of ${who.teams.join(", ")}` : "";
  return `Signed in as ${name} (${who.fleet_role || "no role"}${teams}).`;
}

async function submitPassword(event) {
  event.preventDefault();
  const form = passwordForm();
  const button = form.querySelector("button");
  button.disabled = true;
  say("Signing in…", false);
  try {
    await signInWithPassword(form.email.value.trim(), form.password.value);
    form.reset();
  } catch (error) {
    say(`Sign-in refused: ${error.message}`, true);
    form.password.value = "";
  } finally {
    button.disabled = false;
  }
}

function submitToken(event) {
  event.preventDefault();
  const form = tokenForm();
  usePastedToken(form.token.value.trim());
  form.reset();
}

// Resolves once the page may load its data: at once when no sign-in is asked for, else at the
// first sign-in. A later sign-in (after a session ended) reloads the views instead.
export function initSignIn() {
  let started = false;
  passwordForm().addEventListener("submit", submitPassword);
  tokenForm().addEventListener("submit", submitToken);
  document.getElementById("signout").addEventListener("click", () => {
    signOut();
    location.reload();
  });
  document.addEventListener(ENDED, (event) => ask(event.detail, true));
  applyRole(null);
  return new Promise((resolve) => {
    document.addEventListener(SIGNED_IN, () => {
      panel().hidden = true;
      const who = document.getElementById("who");
      who.textContent = describe(claims());
      who.hidden = false;
      document.getElementById("signout").hidden = false;
      applyRole(claims());
      if (started) document.dispatchEvent(new Event(CHANGED));
      started = true;
      resolve();
    });
    if (AUTH_REQUIRED) {
      ask();
    } else {
      started = true;
      resolve();
    }
  });
}
