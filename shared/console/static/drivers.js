// The drivers: get_targets pages (keyset: each page's next_after is the next one's `after`,
// so 10,000 drivers are never loaded at once), a status filter, the team picked, and an exact
// search by id.

import { call } from "./api.js";
import { bar, el, format, replace, status, table } from "./dom.js";
import { state } from "./state.js";

const view = () => document.getElementById("view-drivers");
const filter = () => document.getElementById("driver-filter");

// `after` of each page shown so far: [null] is the first page.
let pages = [null];
let nextAfter = null;

export const driverColumns = [
  { label: "Driver", cell: (d) => el("a", { href: `#driver/${encodeURIComponent(d.driver_id)}`, text: d.driver_id }) },
  { label: "Team", cell: (d) => d.team ?? "–" },
  { label: "Status", cell: (d) => d.status },
  { label: "Deliveries", cell: (d) => el("span", {}, `${format.count(d.current_deliveries)} / ${format.count(d.target_deliveries)} `, bar(`Deliveries of ${d.driver_id}`, d.deliveries_percentage)) },
  { label: "Revenue", cell: (d) => el("span", {}, `${format.money(d.current_revenue)} / ${format.money(d.target_revenue)} `, bar(`Revenue of ${d.driver_id}`, d.revenue_percentage)) },
  { label: "Achievement", numeric: true, cell: (d) => format.pct(d.achievement_percentage) },
  { label: "Active minutes", numeric: true, cell: (d) => format.count(d.active_minutes) },
];

function show(drivers, caption) {
  const built = drivers.length ? table(caption, driverColumns, drivers) : el("p", { class: "empty", text: `${caption}: none.` });
  built.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.id = drivers[i].driver_id; });
  replace(document.getElementById("driver-list"), built);
}

async function load() {
  const f = filter();
  const after = pages[pages.length - 1];
  const params = { limit: f.limit.value, status: f.status.value, team: state.team, after };
  try {
    const page = await call("get_targets", { params });
    nextAfter = page.next_after;
    const where = [state.team && `team ${state.team}`, f.status.value].filter(Boolean).join(", ");
    show(page.drivers, `Drivers, page ${pages.length}${where ? ` (${where})` : ""}`);
    status(view(), "");
  } catch (error) {
    nextAfter = null;
    status(view(), error.message, true);
  }
  document.getElementById("drivers-next").disabled = nextAfter === null;
  document.getElementById("drivers-first").disabled = pages.length === 1;
}

export function refreshDrivers() {
  pages = [null];
  return load();
}

async function search(event) {
  event.preventDefault();
  const id = event.target.driver_id.value.trim();
  if (!id) return refreshDrivers();
  try {
    const driver = await call("get_targets", { params: { driver_id: id } });
    show([driver], `Driver ${id}`);
    status(view(), "");
  } catch (error) {
    replace(document.getElementById("driver-list"));
    status(view(), error.message, true);
  }
  document.getElementById("drivers-next").disabled = true;
}

export function initDrivers() {
  filter().addEventListener("change", refreshDrivers);
  document.getElementById("driver-search").addEventListener("submit", search);
  document.getElementById("drivers-next").addEventListener("click", () => {
    if (nextAfter === null) return;
    pages.push(nextAfter);
    load();
  });
  document.getElementById("drivers-first").addEventListener("click", refreshDrivers);
}
