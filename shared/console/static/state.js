// What every view shares: the team picked (it filters everything) and the fleet's business
// date, which comes from the service's replies, never from the browser's clock or zone.

const listeners = new Set();

// Fired on document after the page itself changed data (an upload): views reload.
export const CHANGED = "fleet:changed";

export const state = {
  team: "",
  // ISO date of the open business day, from top_performers?live=true's `to`.
  today: null,
};

export function onTeamChange(listener) {
  listeners.add(listener);
}

export function setTeam(team) {
  const next = team.trim();
  if (next === state.team) return;
  state.team = next;
  for (const listener of listeners) listener(next);
}

// The date `days` days before an ISO date, as an ISO date (calendar arithmetic in UTC, so no
// zone or daylight saving shift moves it).
export function shiftDate(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

// Presets of the period boards, from the fleet's own today.
export function preset(name, today) {
  const date = new Date(`${today}T00:00:00Z`);
  if (name === "week") {
    const sinceMonday = (date.getUTCDay() + 6) % 7;
    return { from: shiftDate(today, -sinceMonday), to: today };
  }
  if (name === "last-month") {
    const first = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1));
    const last = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 0));
    return { from: first.toISOString().slice(0, 10), to: last.toISOString().slice(0, 10) };
  }
  const days = Number(name);
  return { from: shiftDate(today, 1 - days), to: today };
}
