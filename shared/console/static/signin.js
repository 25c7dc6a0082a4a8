// The minimal sign-in until the Identity Platform one of issue 13: when a function answers
// 401 (AUTH_MODE=jwt), the page asks for an ID token, keeps it for this tab only
// (sessionStorage) and api.js sends it as a bearer token on every call.

import { TOKEN_KEY, UNAUTHENTICATED } from "./api.js";
import { CHANGED } from "./state.js";

export function initSignIn() {
  const form = document.getElementById("signin");
  const signOut = document.getElementById("signout");
  const showSignOut = () => {
    signOut.hidden = !sessionStorage.getItem(TOKEN_KEY);
  };
  document.addEventListener(UNAUTHENTICATED, () => {
    if (!form.hidden) return;
    form.hidden = false;
    form.token.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, form.token.value.trim());
    form.reset();
    form.hidden = true;
    showSignOut();
    document.dispatchEvent(new Event(CHANGED));
  });
  signOut.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignOut();
    form.hidden = false;
  });
  showSignOut();
}
