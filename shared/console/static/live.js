// The live board: top_performers?live=true, movement against yesterday (compare=previous,
// which the service accepts with live), refreshed with the tiles.

import { call } from "./api.js";
import { boardTable } from "./boards.js";
import { replace, status } from "./dom.js";
import { state } from "./state.js";

const view = () => document.getElementById("view-live");

export async function refreshLive() {
  const form = document.getElementById("live-form");
  const params = {
    live: true,
    compare: "previous",
    metric: form.metric.value,
    limit: form.limit.value,
    team: state.team,
  };
  try {
    const reply = await call("top_performers", { params });
    replace(document.getElementById("live-board"), boardTable(reply));
    status(view(), "");
  } catch (error) {
    status(view(), error.message, true);
  }
}

export function initLive() {
  document.getElementById("live-form").addEventListener("change", refreshLive);
}
