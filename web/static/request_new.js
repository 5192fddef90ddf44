// The new-request form (/requests/new): POST /api/v1/requests, then the request's page.
import { api } from "/static/api.js";

const $ = (id) => document.getElementById(id);

// A datetime-local value (the browser's zone) as ISO 8601 UTC, or null when empty.
function instant(id) {
  const value = $(id).value;
  return value ? new Date(value).toISOString() : null;
}

$("request-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("request-error").textContent = "";
  const cameras = $("rq-cameras").value.split(",").map((c) => c.trim()).filter(Boolean);
  const body = {
    organisation: $("rq-organisation").value,
    person: $("rq-person").value,
    badge: $("rq-badge").value,
    contact: $("rq-contact").value,
    reference: $("rq-reference").value,
    basis: $("rq-basis").value,
    channel: $("rq-channel").value,
    received_at: instant("rq-received"),
    deadline: instant("rq-deadline"),
    window_start: instant("rq-window-start"),
    window_end: instant("rq-window-end"),
    cameras,
    reason: $("rq-reason").value,
    notes: $("rq-notes").value,
  };
  try {
    const created = await api("/api/v1/requests", { method: "POST", body });
    window.location.assign(`/requests/${created.id}`);
  } catch (error) {
    const reasons = error.body && error.body.reasons ? `: ${error.body.reasons.join("; ")}` : "";
    $("request-error").textContent = `${error.message}${reasons}`;
  }
});
