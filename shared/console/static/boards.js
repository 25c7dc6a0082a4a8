// A top_performers board as a table: ranks as the service gives them (ties share a rank),
// movement from compare=previous, and the figures of each row.

import { el, format, table } from "./dom.js";

function movement(row) {
  if (row.rank_change === undefined) return "";
  if (row.previous_rank === null || row.rank_change === null) {
    return el("span", { class: "move new", title: "not ranked in the period before", text: "new" });
  }
  const change = row.change_pct === null ? "" : ` (${format.pct(row.change_pct)})`;
  if (row.rank_change > 0) {
    return el("span", { class: "move up", "aria-label": `up ${row.rank_change}${change}`, text: `▲ ${row.rank_change}` });
  }
  if (row.rank_change < 0) {
    return el("span", { class: "move down", "aria-label": `down ${-row.rank_change}${change}`, text: `▼ ${-row.rank_change}` });
  }
  return el("span", { class: "move same", "aria-label": `no change${change}`, text: "=" });
}

function driverLink(id) {
  if (id === null) return "(hidden)";
  return el("a", { href: `#driver/${encodeURIComponent(id)}`, text: id });
}

const FIGURES = [
  { label: "Deliveries", numeric: true, cell: (r) => format.count(r.total_deliveries) },
  { label: "Revenue", numeric: true, cell: (r) => format.money(r.total_revenue) },
  { label: "Achievement", numeric: true, cell: (r) => format.pct(r.avg_achievement) },
  { label: "Days achieved", numeric: true, cell: (r) => format.count(r.days_achieved) },
  { label: "Per active hour", numeric: true, cell: (r) => format.rate(r.deliveries_per_active_hour) },
  { label: "Active minutes", numeric: true, cell: (r) => format.count(r.active_minutes) },
];

export function boardTable(reply) {
  const teams = reply.group_by === "team";
  const rows = teams ? reply.teams : reply.performers;
  const columns = [
    { label: "Rank", numeric: true, cell: (r) => (r.rank === null ? "–" : String(r.rank)) },
    teams
      ? { label: "Team", cell: (r) => r.team }
      : { label: "Driver", cell: (r) => driverLink(r.driver_id) },
    { label: "Move", cell: movement },
    teams
      ? { label: "Drivers", numeric: true, cell: (r) => format.count(r.drivers) }
      : { label: "Days worked", numeric: true, cell: (r) => format.count(r.days_worked) },
    ...FIGURES,
  ];
  const window = reply.live ? `today (${reply.to})` : `${reply.from} to ${reply.to}`;
  const who = reply.team ? `, team ${reply.team}` : "";
  const caption = `${teams ? "Teams" : "Drivers"} by ${reply.metric}, ${window}${who}`;
  if (rows.length === 0) {
    return el("p", { class: "empty", text: `${caption}: nobody is ranked.` });
  }
  const built = table(caption, columns, rows);
  built.querySelectorAll("tbody tr").forEach((tr, index) => {
    tr.dataset.rank = rows[index].rank ?? "";
    tr.dataset.id = teams ? rows[index].team : rows[index].driver_id ?? "";
  });
  return built;
}
