// The webhook subscriptions with their delivery counts and last error (manage_webhooks GET).
// Times are shown as the service writes them.

import { call } from "./api.js";
import { el, format, replace, status, table } from "./dom.js";

const view = () => document.getElementById("view-webhooks");

const columns = [
  { label: "URL", cell: (s) => s.url },
  { label: "Events", cell: (s) => s.events.join(", ") },
  { label: "Description", cell: (s) => s.description ?? "" },
  { label: "Pending", numeric: true, cell: (s) => format.count(s.deliveries.pending) },
  { label: "Delivered", numeric: true, cell: (s) => format.count(s.deliveries.delivered) },
  { label: "Failed", numeric: true, cell: (s) => format.count(s.deliveries.failed) },
  { label: "Last attempt", cell: (s) => s.last_attempt_at ?? "–" },
  { label: "Last error", cell: (s) => (s.last_error ? `${s.last_error} (${s.last_error_at})` : "–") },
];

export async function refreshWebhooks() {
  try {
    const reply = await call("manage_webhooks");
    const list = reply.subscriptions;
    replace(document.getElementById("webhook-list"), list.length
      ? table("Subscriptions, oldest first", columns, list)
      : el("p", { class: "empty", text: "No subscription." }));
    status(view(), "");
  } catch (error) {
    status(view(), error.message, true);
  }
}
