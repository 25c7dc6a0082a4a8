// The console's start: the views by URL hash (#live, #boards, #drivers, #driver/<id>,
// #targets, #webhooks), the team picker, and the refresh every 15 seconds, once signed in.

import { call } from "./api.js";
import { showDriver, initDriver } from "./driver.js";
import { initDrivers, refreshDrivers } from "./drivers.js";
import { initLive, refreshLive } from "./live.js";
import { initPeriods, refreshPeriod } from "./periods.js";
import { allowedTeams, blocked, mayView } from "./roles.js";
import { AUTH_REQUIRED, signedIn } from "./session.js";
import { initSignIn } from "./signin.js";
import { CHANGED, onTeamChange, setTeam } from "./state.js";
import { refreshToday, showTodayError } from "./today.js";
import { initUpload } from "./upload.js";
import { refreshWebhooks } from "./webhooks.js";

const REFRESH_MS = 15_000;

// What each view loads when shown, and whether the 15-second refresh reloads it too.
const VIEWS = {
  live: { load: refreshLive, live: true },
  boards: { load: refreshPeriod },
  drivers: { load: refreshDrivers },
  driver: { load: (id) => showDriver(id) },
  targets: { load: () => {} },
  webhooks: { load: refreshWebhooks },
};

// Whether the page may call the functions now: not for a driver, nor while signed out.
const calling = () => !blocked() && (!AUTH_REQUIRED || signedIn());

function route() {
  const [name, ...rest] = location.hash.slice(1).split("/");
  const view = VIEWS[name] && mayView(name) ? name : "live";
  return { view, arg: decodeURIComponent(rest.join("/")) };
}

function show() {
  const { view, arg } = route();
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${view}`;
  }
  for (const link of document.querySelectorAll(".tabs a")) {
    const current = link.dataset.view === view || (view === "driver" && link.dataset.view === "drivers");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return calling() ? VIEWS[view].load(arg) : undefined;
}

async function refresh() {
  try {
    await refreshToday();
    const clock = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    document.getElementById("last-refresh").textContent = `Refreshed at ${clock} (this device's clock).`;
  } catch (error) {
    showTodayError(error);
    document.getElementById("last-refresh").textContent = "Refresh failed; trying again in 15 s.";
  }
}

async function loadTeams() {
  // A token that names teams fills the picker itself (roles.js).
  if (allowedTeams()) return;
  try {
    const board = await call("top_performers", { params: { live: true, group_by: "team", limit: 100 } });
    const names = document.getElementById("team-names");
    names.replaceChildren(...board.teams.map((t) => Object.assign(document.createElement("option"), { value: t.team })));
  } catch {
    // The picker still takes any name typed in; the tiles show the service's error if any.
  }
}

// The picker offers the token's teams only; another name is refused before any call.
function pickTeam(picker) {
  const teams = allowedTeams();
  const name = picker.value.trim();
  picker.setCustomValidity(teams && name && !teams.includes(name) ? `Your teams: ${teams.join(", ")}` : "");
  if (!picker.reportValidity()) return;
  setTeam(name);
}

async function start() {
  const signIn = initSignIn();
  initLive();
  initPeriods();
  initDrivers();
  initDriver();
  initUpload();
  const picker = document.getElementById("team");
  picker.addEventListener("change", () => pickTeam(picker));
  onTeamChange(async () => {
    await refresh();
    await show();
  });
  document.addEventListener(CHANGED, async () => {
    if (!calling()) return;
    await refresh();
    await Promise.all([show(), loadTeams()]);
  });
  window.addEventListener("hashchange", () => {
    show();
    document.getElementById("main").focus({ preventScroll: true });
  });
  await signIn;
  if (calling()) {
    await refresh();
    await Promise.all([show(), loadTeams()]);
  }
  setInterval(async () => {
    if (!calling()) return;
    await refresh();
    if (VIEWS[route().view].live) await refreshLive();
  }, REFRESH_MS);
  document.body.dataset.ready = "true";
}

start();
