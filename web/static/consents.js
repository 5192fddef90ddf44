// The consents already given, with Revoke (the share page and the request page).
//
//   import { showConsents } from "/static/consents.js";
//   await showConsents(listElement, errorElement, { request: 7 });   // or { personal: true }
//
// Data: GET /api/v1/consents?request= (or every consent, filtered to those with no
// request); POST /api/v1/consents/{id}/revoke {reason}. Revoking stops every later
// download of that consent's bundle; a bundle already downloaded cannot be taken back.
import { api, el } from "/static/api.js";

const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });

function describe(c) {
  const r = c.redactions || {};
  const hidden = [
    r.faces ? "faces blurred" : "faces not blurred",
    r.masks && r.masks.length ? `${r.masks.length} privacy mask${r.masks.length === 1 ? "" : "s"}` : null,
    r.text ? "release text" : null,
    c.audio ? "with sound" : "no sound",
  ].filter(Boolean);
  return `${c.camera}, ${when(c.start)} to ${when(c.end)}, to ${c.recipient.name} (${hidden.join(", ")})`;
}

function state(c) {
  if (c.revoked_at) return `revoked ${when(c.revoked_at)}${c.revoke_reason ? `: ${c.revoke_reason}` : ""}`;
  if (Date.parse(c.expires_at) <= Date.now()) return `expired ${when(c.expires_at)}`;
  return `valid until ${when(c.expires_at)}`;
}

function revokeForm(c, refresh, errorElement) {
  const reasonId = `revoke-reason-${c.id}`;
  const form = el(
    "form",
    { class: "row", "aria-label": `Revoke consent ${c.id.slice(0, 8)}` },
    el("label", { for: reasonId, text: "Reason (kept in your log)" }),
    el("input", { id: reasonId, maxlength: "2000" }),
    el("button", { type: "submit", class: "danger", text: "Revoke" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorElement.textContent = "";
    try {
      await api(`/api/v1/consents/${c.id}/revoke`, {
        method: "POST",
        body: { reason: form.querySelector("input").value.trim() },
      });
      await refresh();
    } catch (error) {
      errorElement.textContent = error.message;
    }
  });
  return el("details", {}, el("summary", { text: "Revoke…" }), form);
}

export async function showConsents(listElement, errorElement, { request = null, personal = false } = {}) {
  const refresh = () => showConsents(listElement, errorElement, { request, personal });
  errorElement.textContent = "";
  let consents;
  try {
    const query = request ? `?request=${encodeURIComponent(request)}` : "";
    ({ consents } = await api(`/api/v1/consents${query}`));
  } catch (error) {
    errorElement.textContent = error.message;
    return [];
  }
  if (personal) consents = consents.filter((c) => c.request === null);
  listElement.replaceChildren(
    ...consents.map((c) =>
      el(
        "li",
        { "data-testid": "consent", "data-consent": c.id },
        el("span", { text: describe(c) }),
        " ",
        el("span", { class: c.revoked_at ? "note bad" : "note", text: `(${state(c)})` }),
        c.revoked_at ? null : revokeForm(c, refresh, errorElement),
      ),
    ),
  );
  if (!consents.length) listElement.replaceChildren(el("li", { class: "note", text: "None yet." }));
  return consents;
}
