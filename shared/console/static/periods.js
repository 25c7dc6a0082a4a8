// Period boards: drivers or teams over from/to (presets from the fleet's own today),
// min_days, movement against the period just before, and the service's CSV of the very same
// query.

import { call, download } from "./api.js";
import { boardTable } from "./boards.js";
import { replace, status } from "./dom.js";
import { preset, state } from "./state.js";

const view = () => document.getElementById("view-boards");
const form = () => document.getElementById("period-form");

function query() {
  const f = form();
  return {
    from: f.from.value,
    to: f.to.value,
    group_by: f.group_by.value,
    metric: f.metric.value,
    min_days: f.min_days.value,
    limit: f.limit.value,
    compare: "previous",
    team: state.team,
  };
}

// The query of the board on screen: the CSV asks for exactly it, even if the form was
// edited since.
let shown = null;

export async function refreshPeriod() {
  const f = form();
  if (!f.from.value && state.today) applyPreset("7");
  if (!f.reportValidity()) return;
  const params = query();
  try {
    const reply = await call("top_performers", { params });
    shown = params;
    replace(document.getElementById("period-board"), boardTable(reply));
    status(view(), "");
  } catch (error) {
    status(view(), error.message, true);
  }
}

function applyPreset(name) {
  const { from, to } = preset(name, state.today);
  form().from.value = from;
  form().to.value = to;
}

export function initPeriods() {
  const f = form();
  f.addEventListener("submit", (event) => {
    event.preventDefault();
    refreshPeriod();
  });
  f.querySelectorAll("[data-preset]").forEach((button) =>
    button.addEventListener("click", () => {
      applyPreset(button.dataset.preset);
      refreshPeriod();
    }),
  );
  document.getElementById("period-csv").addEventListener("click", async () => {
    if (!shown) return;
    const name = `top_${shown.group_by}s_${shown.from}_${shown.to}.csv`;
    try {
      await download("top_performers", shown, name);
    } catch (error) {
      status(view(), error.message, true);
    }
  });
}

