// Targets from a spreadsheet: the file is read here for a preview, then sent as it is to
// set_targets with Content-Type text/csv; the service's answer (its count, or its error
// naming the row and column) is shown as it comes.

import { call, download } from "./api.js";
import { el, format, replace, status, table } from "./dom.js";
import { parseCsv } from "./csv.js";
import { CHANGED, state } from "./state.js";

// The columns set_targets reads; the export's other columns are ignored by it.
const READ = ["driver_id", "target_deliveries", "target_revenue", "team"];
const PREVIEW_ROWS = 20;

const view = () => document.getElementById("view-targets");
let fileText = null;

function preview(text, name) {
  const [header = [], ...rows] = parseCsv(text);
  const indexes = READ.map((column) => header.indexOf(column));
  const columns = READ.filter((_, i) => indexes[i] >= 0).map((column) => ({
    label: column,
    numeric: column.startsWith("target_"),
    cell: (row) => row[header.indexOf(column)] ?? "",
  }));
  columns.unshift({ label: "Row", numeric: true, cell: (row) => String(row.line) });
  const numbered = rows.map((cells, i) => Object.assign(cells, { line: i + 2 }));
  const shown = numbered.slice(0, PREVIEW_ROWS);
  const more = rows.length > shown.length ? `, the first ${shown.length} shown` : "";
  const built = table(`Preview of ${name}`, columns, shown);
  built.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.row = shown[i].line; });
  replace(document.getElementById("upload-preview"),
    el("p", { text: `${name}: ${format.count(rows.length)} drivers${more}. Rows are numbered as in a spreadsheet (the header is row 1).` }),
    built);
}

async function choose(event) {
  const file = event.target.files[0];
  const send = document.getElementById("upload-send");
  fileText = null;
  send.disabled = true;
  replace(document.getElementById("upload-preview"));
  status(view(), "");
  if (!file) return;
  fileText = await file.text();
  preview(fileText, file.name);
  send.disabled = false;
}

// The preview row an error names ("row 14, ..."), marked where it is shown.
function markRow(message) {
  const named = /^row (\d+)/.exec(message);
  for (const tr of document.querySelectorAll("#upload-preview tbody tr")) {
    const bad = named !== null && tr.dataset.row === named[1];
    tr.classList.toggle("bad", bad);
    if (bad) tr.setAttribute("aria-invalid", "true");
    else tr.removeAttribute("aria-invalid");
  }
}

async function send(event) {
  event.preventDefault();
  if (fileText === null) return;
  const button = document.getElementById("upload-send");
  button.disabled = true;
  try {
    const reply = await call("set_targets", { method: "POST", body: fileText, contentType: "text/csv" });
    status(view(), `Targets set for ${format.count(reply.count)} drivers.`);
    document.dispatchEvent(new Event(CHANGED));
  } catch (error) {
    status(view(), `Nothing was written: ${error.message}`, true);
    markRow(error.message);
  } finally {
    button.disabled = false;
  }
}

export function initUpload() {
  const form = document.getElementById("upload-form");
  form.file.addEventListener("change", choose);
  form.addEventListener("submit", send);
  document.getElementById("targets-export").addEventListener("click", async () => {
    try {
      await download("get_targets", { team: state.team }, "drivers.csv");
    } catch (error) {
      status(view(), error.message, true);
    }
  });
}
