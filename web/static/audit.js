// The audit log viewer (/settings/audit): pages of entries, newest first, and "Verify",
// which runs the server's full chain and checkpoint check (POST /api/v1/audit/verify).
import { api, el } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
let before = null; // null: the newest page
let next = null;

async function load() {
  $("audit-error").textContent = "";
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (before !== null) query.set("before", String(before));
  try {
    const page = await api(`/api/v1/audit?${query}`);
    next = page.next_before;
    $("audit-count").textContent = `${page.total} entries in all`;
    $("audit-table").querySelector("tbody").replaceChildren(...page.entries.map((entry) =>
      el("tr", {},
        el("td", { text: String(entry.seq) }),
        el("td", { text: new Date(entry.time).toLocaleString() }),
        el("td", {}, el("code", { text: entry.kind })),
        el("td", { text: entry.actor.user ? `${entry.actor.user} (${entry.actor.role})` : entry.actor.role }),
        el("td", {}, el("code", { class: "summary", text: entry.summary })))));
    $("audit-older").disabled = next === null;
    $("audit-newer").disabled = before === null;
  } catch (error) {
    $("audit-error").textContent = error.message;
  }
}

$("audit-older").addEventListener("click", () => {
  if (next !== null) {
    before = next;
    load();
  }
});

$("audit-newer").addEventListener("click", () => {
  before = null;
  load();
});

$("audit-verify").addEventListener("click", async () => {
  const button = $("audit-verify");
  const result = $("audit-verify-result");
  button.disabled = true;
  result.className = "";
  result.textContent = "Verifying…";
  try {
    const verdict = await api("/api/v1/audit/verify", { method: "POST" });
    if (verdict.ok) {
      result.textContent = `Intact: ${verdict.entries} entries, ${verdict.checkpoints} signed checkpoints.`;
    } else {
      result.className = "error";
      result.textContent = `NOT intact: ${verdict.reason}`;
    }
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});

load();
