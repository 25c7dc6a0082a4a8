// Small DOM helpers: elements built with textContent only (never HTML from data), tables,
// number formats and the status line each view has.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

export const format = {
  count: (value) => (value === null || value === undefined ? "–" : integer.format(value)),
  money: (value) => (value === null || value === undefined ? "–" : money.format(value)),
  pct: (value) => (value === null || value === undefined ? "–" : `${decimal.format(value)}%`),
  rate: (value) => (value === null || value === undefined ? "–" : decimal.format(value)),
};

// columns: [{ label, cell: (row) => string | Node, numeric }]
export function table(caption, columns, rows) {
  const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : null, text: c.label })));
  const body = rows.map((row) =>
    el("tr", {}, ...columns.map((c) => {
      const value = c.cell(row);
      const cell = el("td", { class: c.numeric ? "num" : null });
      cell.append(value instanceof Node ? value : String(value));
      return cell;
    })),
  );
  return el("div", { class: "table-wrap" },
    el("table", {}, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, ...body)));
}

export function replace(container, ...nodes) {
  container.replaceChildren(...nodes);
}

// The view's status line: errors are the service's own message, as it gave it.
export function status(view, message, isError = false) {
  const line = view.querySelector(".status");
  line.textContent = message;
  line.classList.toggle("error", isError);
  line.setAttribute("role", isError ? "alert" : "status");
}

export function bar(label, percentage) {
  const shown = Math.max(0, Math.min(100, percentage));
  return el("span", { class: "bar" },
    el("meter", { min: 0, max: 100, value: shown, "aria-label": label, title: format.pct(percentage) }),
    el("span", { class: "bar-text", text: format.pct(percentage) }));
}
