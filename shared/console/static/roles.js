// What the signed-in role is shown: the ID token's claims (fleet_role, driver_id, teams) decide
// which tabs and teams the page offers. Only a courtesy: every function checks the token and
// refuses what the role may not do, whatever the page shows.

import { state } from "./state.js";

const role = { name: null, teams: null, blocked: false };

// Without claims (AUTH_MODE=off, or a pasted token that is no JWT) everything is shown and the
// functions decide.
export function applyRole(claims) {
  role.name = claims && typeof claims.fleet_role === "string" ? claims.fleet_role : null;
  role.teams = claims && Array.isArray(claims.teams) ? claims.teams.map(String) : null;
  role.blocked = role.name === "driver";
  for (const link of document.querySelectorAll(".tabs a[data-roles]")) {
    link.hidden = role.name !== null && !link.dataset.roles.split(" ").includes(role.name);
  }
  const picker = document.getElementById("team");
  picker.placeholder = role.teams ? "all your teams" : "all teams";
  if (role.teams && state.team && !role.teams.includes(state.team)) {
    // A team the last user picked, which this one may not see.
    state.team = "";
    picker.value = "";
  }
  if (role.teams) {
    const names = role.teams.map((team) => Object.assign(document.createElement("option"), { value: team }));
    document.getElementById("team-names").replaceChildren(...names);
  }
  const note = document.getElementById("not-for-role");
  note.hidden = !role.blocked;
  note.textContent = role.blocked
    ? `The console is for dispatchers and admins. You are signed in as driver ${claims.driver_id ?? ""}: your own day is in the driver app.`
    : "";
  document.body.dataset.session = role.blocked ? "blocked" : "open";
}

// A driver gets the note above and no data.
export const blocked = () => role.blocked;

// The teams the token names (a dispatcher's, or an admin's held to them), or null: any team.
export const allowedTeams = () => role.teams;

// Whether the view's tab is shown to this role.
export function mayView(view) {
  const link = document.querySelector(`.tabs a[data-view="${view}"]`);
  return !link || !link.hidden;
}
