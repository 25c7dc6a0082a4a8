// One driver: today's progress (get_targets?driver_id) and its closed days (get_history)
// as charts and a table.

import { call } from "./api.js";
import { drawHistory } from "./chart.js";
import { driverColumns } from "./drivers.js";
import { el, format, replace, status, table } from "./dom.js";

const view = () => document.getElementById("view-driver");
let current = null;

const historyColumns = [
  { label: "Date", cell: (d) => d.date },
  { label: "Team", cell: (d) => d.team ?? "–" },
  { label: "Deliveries", numeric: true, cell: (d) => `${format.count(d.deliveries_completed)} / ${format.count(d.target_deliveries)}` },
  { label: "Revenue", numeric: true, cell: (d) => `${format.money(d.revenue_generated)} / ${format.money(d.target_revenue)}` },
  { label: "Achievement", numeric: true, cell: (d) => format.pct(d.achievement_percentage) },
  { label: "Achieved", cell: (d) => (d.target_achieved ? "yes" : "no") },
  { label: "Per active hour", numeric: true, cell: (d) => format.rate(d.deliveries_per_active_hour) },
];

export async function showDriver(id) {
  current = id;
  document.getElementById("h-driver").textContent = `Driver ${id}`;
  const days = document.getElementById("history-form").days.value;
  try {
    const [today, history] = await Promise.all([
      call("get_targets", { params: { driver_id: id } }),
      call("get_history", { params: { driver_id: id, days } }),
    ]);
    if (current !== id) return;
    replace(document.getElementById("driver-today"), table(`Today (${today.business_date})`, driverColumns, [today]));
    const closed = history.history;
    replace(document.getElementById("driver-history"), closed.length
      ? table(`Closed days from ${history.from} to ${history.to}`, historyColumns, closed)
      : el("p", { class: "empty", text: `No closed day from ${history.from} to ${history.to}.` }));
    status(view(), "");
    await drawHistory(closed);
  } catch (error) {
    status(view(), error.message, true);
  }
}

export function initDriver() {
  document.getElementById("history-form").addEventListener("change", () => {
    if (current !== null) showDriver(current);
  });
}
