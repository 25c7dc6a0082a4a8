// Today's tiles: get_targets?summary=true (for the team picked), and the fleet's business
// date from the live board's window.

import { call } from "./api.js";
import { bar, el, format, replace } from "./dom.js";
import { state } from "./state.js";

const section = () => document.getElementById("today");

function tile(key, label, value, shown, extra = null) {
  return el("div", { class: "tile", "data-tile": key, "data-value": value },
    el("span", { class: "tile-label", text: label }),
    el("span", { class: "tile-value", text: shown }),
    extra);
}

function share(done, target) {
  return target > 0 ? (done / target) * 100 : 100;
}

function tiles(summary) {
  const s = summary.by_status;
  return [
    tile("drivers", "Drivers", summary.drivers, format.count(summary.drivers)),
    tile("available", "Available", s.available, format.count(s.available)),
    tile("busy", "Busy", s.busy, format.count(s.busy)),
    tile("break", "On break", s.break, format.count(s.break)),
    tile("offline", "Offline", s.offline, format.count(s.offline)),
    tile("deliveries", "Deliveries done / target", summary.deliveries.done,
      `${format.count(summary.deliveries.done)} / ${format.count(summary.deliveries.target)}`,
      bar("Deliveries against target", share(summary.deliveries.done, summary.deliveries.target))),
    tile("revenue", "Revenue done / target", summary.revenue.done,
      `${format.money(summary.revenue.done)} / ${format.money(summary.revenue.target)}`,
      bar("Revenue against target", share(summary.revenue.done, summary.revenue.target))),
    tile("reached_deliveries", "Reached deliveries target", summary.reached_deliveries,
      `${format.count(summary.reached_deliveries)} of ${format.count(summary.drivers)}`),
    tile("reached_revenue", "Reached revenue target", summary.reached_revenue,
      `${format.count(summary.reached_revenue)} of ${format.count(summary.drivers)}`),
  ];
}

export async function refreshToday() {
  const [summary, day] = await Promise.all([
    call("get_targets", { params: { summary: true, team: state.team } }),
    call("top_performers", { params: { live: true, limit: 1 } }),
  ]);
  state.today = day.to;
  replace(section(), ...tiles(summary));
  document.getElementById("business-date").textContent = `Business day ${day.to}.`;
}

export function showTodayError(error) {
  replace(section(), el("p", { class: "status error", role: "alert", text: error.message }));
}
