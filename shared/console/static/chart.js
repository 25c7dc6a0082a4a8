// A driver's closed days as three uPlot charts. uPlot is loaded on the first chart only, so
// the first load of the page does not carry it.

const charts = [];
const INK = "#1f2933";
const DONE = "#0b5cad";
const TARGET = "#b03a2e";

const DAY = 86400;
// Business dates are calendar dates: drawn at UTC midnight and written as the ISO date, so no
// browser zone shifts a day and no hour is shown.
const isoDate = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);

function options(uPlot, container, unit, series) {
  return {
    width: Math.max(280, container.clientWidth),
    height: 220,
    // Room on the right for the last date label.
    padding: [12, 40, 0, 0],
    // Ticks fall on UTC midnights, whatever the browser's zone.
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    scales: { x: { time: true } },
    axes: [
      {
        stroke: INK,
        grid: { stroke: "#e4e7eb" },
        space: 70,
        incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY],
        values: (u, splits) => splits.map(isoDate),
      },
      { stroke: INK, grid: { stroke: "#e4e7eb" }, label: unit, size: 60 },
    ],
    series: [{ label: "Date", value: (u, v) => (v === null ? "–" : isoDate(v)) }, ...series],
  };
}

export async function drawHistory(days) {
  const { default: uPlot } = await import("./vendor/uplot/uPlot.esm.js");
  for (const chart of charts.splice(0)) chart.destroy();
  const sorted = [...days].reverse();
  const x = sorted.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000);
  const plots = [
    ["chart-deliveries", "deliveries", [
      { label: "Deliveries", stroke: DONE, width: 2, points: { show: true } },
      { label: "Target", stroke: TARGET, width: 2, dash: [6, 4] },
    ], [sorted.map((d) => d.deliveries_completed), sorted.map((d) => d.target_deliveries)]],
    ["chart-revenue", "revenue", [
      { label: "Revenue", stroke: DONE, width: 2, points: { show: true } },
      { label: "Target", stroke: TARGET, width: 2, dash: [6, 4] },
    ], [sorted.map((d) => d.revenue_generated), sorted.map((d) => d.target_revenue)]],
    ["chart-achievement", "%", [
      { label: "Achievement %", stroke: DONE, width: 2, points: { show: true } },
    ], [sorted.map((d) => d.achievement_percentage)]],
  ];
  for (const [id, unit, series, data] of plots) {
    const container = document.getElementById(id);
    container.replaceChildren();
    charts.push(new uPlot(options(uPlot, container, unit, series), [x, ...data], container));
  }
}
