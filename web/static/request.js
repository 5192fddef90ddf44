// One request (/requests/{id}): its fields, guidance for its legal basis, the decision
// buttons (Decline as prominent as Share), paperwork (sealed: listing needs the unlock),
// legal holds, the consents given for it (with Revoke: /static/consents.js) and the
// history of every change (GET /api/v1/requests/{id}).
import { api, el, ensureUnlocked } from "/static/api.js";
import { showConsents } from "/static/consents.js";

const $ = (id) => document.getElementById(id);
const id = document.getElementById("request").dataset.request;
const words = (value) => value.replaceAll("_", " ");
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—");
let current = null;

const LABELS = [
  ["organisation", "Organisation"], ["person", "Person"], ["badge", "Badge or ID"],
  ["contact", "Contact"], ["reference", "Reference"], ["basis", "Legal basis"],
  ["channel", "Arrived by"], ["received_at", "Received"], ["deadline", "Deadline"],
  ["window_start", "Footage from"], ["window_end", "Footage to"], ["cameras", "Cameras"],
  ["reason", "Stated reason"], ["notes", "Notes"],
];

function shown(name, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (name.endsWith("_at") || name.startsWith("window_") || name === "deadline") return when(value);
  if (Array.isArray(value)) return value.length ? value.join(", ") : "not stated";
  return name === "basis" || name === "channel" ? words(value) : String(value);
}

function describe(change) {
  const c = change.changes;
  if (change.kind === "create") return "recorded";
  if (change.kind === "state") return `${words(c.from)} → ${words(c.to)}: ${c.reason}`;
  if (change.kind === "paperwork") return `paperwork attached (${c.size} bytes)`;
  if (change.kind === "update") {
    return Object.entries(c.changes || {})
      .map(([name, [before, after]]) => `${name}: ${shown(name, before)} → ${shown(name, after)}`)
      .join("; ");
  }
  return change.kind;
}

// The timeline of the requested camera and day (the browser's day) in selection mode for
// this request: the requested window is shown, nothing is selected, the owner picks.
function shareLink(r) {
  const query = new URLSearchParams({ request: String(r.id) });
  if (r.cameras.length) query.set("camera", r.cameras[0]);
  if (r.window_start) {
    const d = new Date(r.window_start);
    const pad = (n) => String(n).padStart(2, "0");
    query.set("day", `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`);
  }
  return `/timeline?${query}`;
}

function render(detail) {
  const r = detail.request;
  current = r;
  $("rq-title").textContent = r.organisation;
  $("rq-state").textContent = words(r.state);
  $("rq-deadline").textContent = r.deadline
    ? `Deadline ${when(r.deadline)}${r.overdue ? " — overdue" : r.due_soon ? " — due within 48 hours" : ""}`
    : "No deadline given";
  const open = r.allowed.length > 0;
  $("rq-actions").hidden = !open;
  $("rq-state-form").hidden = !open;
  $("rq-decline").disabled = !r.allowed.includes("declined");
  $("rq-share").href = shareLink(r);
  $("rq-to").replaceChildren(
    el("option", { value: "", text: "choose…" }),
    ...r.allowed.map((s) => el("option", { value: s, text: words(s) })));
  $("rq-fields").replaceChildren(...LABELS.flatMap(([name, label]) => [
    el("dt", { text: label }), el("dd", { text: shown(name, r[name]) }),
  ]));
  const g = detail.guidance;
  $("guide-title").textContent = `${g.title}: what it means`;
  $("guide-means").textContent = g.means;
  $("guide-may").replaceChildren(...g.you_may.map((line) => el("li", { text: line })));
  $("guide-disclaimer").textContent = g.disclaimer;
  $("rq-history").replaceChildren(...detail.history.map((c) =>
    el("li", {},
      el("time", { datetime: c.at, text: when(c.at) }), " ",
      el("span", { text: `${c.user || c.role}: ${describe(c)}` }), " ",
      el("span", { class: "note", text: `(audit #${c.audit_seq})` }))));
  $("rq-hold").hidden = !(r.window_start && r.window_end);
  if (document.activeElement !== $("rq-notes")) $("rq-notes").value = r.notes;
}

async function load() {
  $("rq-error").textContent = "";
  try {
    render(await api(`/api/v1/requests/${id}`));
  } catch (error) {
    $("rq-error").textContent = error.message;
  }
}

async function loadPapers() {
  $("paper-error").textContent = "";
  try {
    const { paperwork } = await api(`/api/v1/requests/${id}/paperwork`);
    $("paper-list").replaceChildren(...paperwork.map((p) =>
      el("li", {}, el("a", { href: `/api/v1/requests/${id}/paperwork/${p.id}`, download: p.name, text: p.name }),
        el("span", { class: "note", text: ` ${p.content_type}, ${p.length} bytes, ${when(p.uploaded_at)}` }))));
    if (!paperwork.length) $("paper-list").replaceChildren(el("li", { class: "note", text: "None attached." }));
  } catch (error) {
    $("paper-error").textContent = error.message;
  }
}

async function loadHolds() {
  try {
    const { holds } = await api("/api/v1/holds");
    const mine = holds.filter((h) => String(h.request) === id);
    $("rq-holds").replaceChildren(...mine.map((h) =>
      el("li", { text: `${h.camera || "all cameras"}, ${when(h.start)} to ${when(h.end)}${h.released_at ? ` (released ${when(h.released_at)})` : " (held)"}` })));
  } catch (error) {
    $("hold-error").textContent = error.message;
  }
}

async function move(to, reason) {
  $("rq-error").textContent = "";
  try {
    if (to === "declined") {
      await api(`/api/v1/requests/${id}/decline`, { method: "POST", body: reason ? { reason } : {} });
    } else {
      await api(`/api/v1/requests/${id}/state`, { method: "POST", body: { to, reason } });
    }
    $("rq-reason").value = "";
    await load();
  } catch (error) {
    $("rq-error").textContent = error.message;
  }
}

$("rq-decline").addEventListener("click", () => move("declined", $("rq-reason").value.trim()));

$("rq-state-form").addEventListener("submit", (event) => {
  event.preventDefault();
  move($("rq-to").value, $("rq-reason").value.trim());
});

$("rq-notes-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("rq-error").textContent = "";
  try {
    await api(`/api/v1/requests/${id}`, { method: "PATCH", body: { notes: $("rq-notes").value } });
    await load();
  } catch (error) {
    $("rq-error").textContent = error.message;
  }
});

$("paper-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("paper-file").files[0];
  if (!file) return;
  $("paper-error").textContent = "";
  try {
    await ensureUnlocked();
    await api(`/api/v1/requests/${id}/paperwork?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
    event.target.reset();
    await Promise.all([loadPapers(), load()]);
  } catch (error) {
    $("paper-error").textContent = error.message;
  }
});

$("rq-hold").addEventListener("click", async () => {
  $("hold-error").textContent = "";
  const r = current;
  const cameras = r.cameras.length ? r.cameras : [null];
  try {
    for (const camera of cameras) {
      await api("/api/v1/holds", {
        method: "POST",
        body: { camera, start: r.window_start, end: r.window_end, reason: `request ${r.id}: ${r.organisation} ${r.reference}`.trim(), request: r.id },
      });
    }
    await loadHolds();
  } catch (error) {
    $("hold-error").textContent = error.message;
  }
});

load();
loadPapers();
loadHolds();
showConsents($("rq-consents"), $("rq-consents-error"), { request: id });
