// The console's start: the views by URL hash (#live, #boards, #drivers, #driver/<id>,
// #targets, #webhooks), the team picker, and the refresh every 15 seconds.

import { call } from "./api.js";
import { showDriver, initDriver } from "./driver.js";
import { initDrivers, refreshDrivers } from "./drivers.js";
import { initLive, refreshLive } from "./live.js";
import { initPeriods, refreshPeriod } from "./periods.js";
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

function route() {
  const [name, ...rest] = location.hash.slice(1).split("/");
  const view = VIEWS[name] ? name : "live";
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
  return VIEWS[view].load(arg);
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
  try {
    const board = await call("top_performers", { params: { live: true, group_by: "team", limit: 100 } });
    const names = document.getElementById("team-names");
    names.replaceChildren(...board.teams.map((t) => Object.assign(document.createElement("option"), { value: t.team })));
  } catch {
    // The picker still takes any name typed in; the tiles show the service's error if any.
  }
}

async function start() {
  initSignIn();
  initLive();
  initPeriods();
  initDrivers();
  initDriver();
  initUpload();
  const picker = document.getElementById("team");
  picker.addEventListener("change", () => setTeam(picker.value));
  onTeamChange(async () => {
    await refresh();
    await show();
  });
  document.addEventListener(CHANGED, async () => {
    await refresh();
    await Promise.all([show(), loadTeams()]);
  });
  window.addEventListener("hashchange", () => {
    show();
    document.getElementById("main").focus({ preventScroll: true });
  });
  await refresh();
  await Promise.all([show(), loadTeams()]);
  setInterval(async () => {
    await refresh();
    if (VIEWS[route().view].live) await refreshLive();
  }, REFRESH_MS);
  document.body.dataset.ready = "true";
}

start();
