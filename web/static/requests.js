// The request list (/requests) and legal holds: GET /api/v1/requests (filters), /api/v1/holds.
import { api, el } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const words = (value) => value.replaceAll("_", " ");

export function when(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

function deadline(r) {
  if (!r.deadline) return "";
  if (r.overdue) return `${when(r.deadline)} (overdue)`;
  return r.due_soon ? `${when(r.deadline)} (due soon)` : when(r.deadline);
}

async function loadRequests() {
  $("requests-error").textContent = "";
  const query = new URLSearchParams();
  if ($("filter-state").value) query.set("state", $("filter-state").value);
  if ($("filter-basis").value) query.set("basis", $("filter-basis").value);
  if ($("filter-overdue").checked) query.set("overdue", "true");
  try {
    const { requests } = await api(`/api/v1/requests?${query}`);
    const rows = requests.map((r) =>
      el("tr", { class: r.overdue ? "overdue" : null },
        el("td", {}, el("a", { href: `/requests/${r.id}`, text: String(r.id) })),
        el("td", { text: when(r.received_at) }),
        el("td", {}, el("a", { href: `/requests/${r.id}`, text: r.organisation })),
        el("td", { text: words(r.basis) }),
        el("td", { text: words(r.state) }),
        el("td", { text: deadline(r) })));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "6", text: "No requests." })));
    $("request-table").querySelector("tbody").replaceChildren(...rows);
  } catch (error) {
    $("requests-error").textContent = error.message;
  }
}

async function loadHolds() {
  try {
    const { holds } = await api("/api/v1/holds");
    const rows = holds.map((h) =>
      el("tr", {},
        el("td", { text: String(h.id) }),
        el("td", { text: h.camera || "all cameras" }),
        el("td", { text: when(h.start) }),
        el("td", { text: when(h.end) }),
        el("td", { text: h.reason }),
        el("td", {}, h.request ? el("a", { href: `/requests/${h.request}`, text: String(h.request) }) : null),
        el("td", {}, h.released_at
          ? document.createTextNode(`released ${when(h.released_at)}`)
          : el("button", { type: "button", class: "secondary", text: "Release", onclick: () => release(h.id) }))));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "7", text: "No holds." })));
    $("hold-table").querySelector("tbody").replaceChildren(...rows);
  } catch (error) {
    $("hold-error").textContent = error.message;
  }
}

async function release(id) {
  $("hold-error").textContent = "";
  try {
    await api(`/api/v1/holds/${id}/release`, { method: "POST" });
    await loadHolds();
  } catch (error) {
    $("hold-error").textContent = error.message;
  }
}

$("request-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadRequests();
});

$("hold-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("hold-error").textContent = "";
  const body = {
    camera: $("hold-camera").value.trim() || null,
    start: new Date($("hold-start").value).toISOString(),
    end: new Date($("hold-end").value).toISOString(),
    reason: $("hold-reason").value,
    request: $("hold-request").value ? Number($("hold-request").value) : null,
  };
  try {
    await api("/api/v1/holds", { method: "POST", body });
    event.target.reset();
    await loadHolds();
  } catch (error) {
    $("hold-error").textContent = error.message;
  }
});

loadRequests();
loadHolds();
