// The share page (/share?camera=&start=&end=&request=): one clip on its way out
// (docs/design/share-flow.md). In order, each step opened by the one before:
//   1. redaction options (faces on, the camera's privacy masks on, release text, sound off)
//      -> "Make preview": POST /api/v1/previews, poll GET /api/v1/previews/{job};
//   2. the redacted preview <video> (GET .../preview.mp4) and its report; changing an
//      option afterwards hides the consent until the preview is made again;
//   3. recipient, validity, the passphrase typed again -> POST /api/v1/consents (signed),
//      then POST /api/v1/consents/{id}/export with the same passphrase (held only for
//      those two calls), poll GET /api/v1/exports/{job};
//   4. "Download bundle" (GET /api/v1/exports/{job}/bundle.zip), and share links
//      (POST /api/v1/exports/{job}/links; hidden when the box has no such route).
// The consents already given for the request (or the personal ones) are listed with Revoke.
import { api, el, ensureUnlocked } from "/static/api.js";
import { showConsents } from "/static/consents.js";

const $ = (id) => document.getElementById(id);
const page = $("share");
const clip = { camera: page.dataset.camera, start: page.dataset.start, end: page.dataset.end };
const request = JSON.parse(page.dataset.request); // null: a personal share
const masks = JSON.parse(page.dataset.masks);
const POLL_MS = 500;
const AGE_KEY = /^age1[02-9ac-hj-np-z]{20,100}$/;

let previewed = null; // the options (JSON) the preview on screen was made with
let consent = null; // the consent signed on this page
let exportJob = null; // its export job, once started

const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
const day = (iso) => {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function seconds(total) {
  const s = Math.round(total);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

function bytes(n) {
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// -- the clip ----------------------------------------------------------------------------
function describeClip() {
  const start = Date.parse(clip.start);
  const end = Date.parse(clip.end);
  $("clip-start").replaceChildren(el("time", { datetime: clip.start, text: when(clip.start) }));
  $("clip-end").replaceChildren(el("time", { datetime: clip.end, text: when(clip.end) }));
  $("clip-length").textContent = seconds((end - start) / 1000);
  const query = new URLSearchParams({ camera: clip.camera, day: day(clip.start) });
  if (request) query.set("request", request.id);
  else query.set("share", "1");
  $("clip-change").href = `/timeline?${query}`;
  const problems = [];
  if (request && request.window_start && request.window_end) {
    const a = Date.parse(request.window_start);
    const b = Date.parse(request.window_end);
    if (start < a || end > b) {
      problems.push(`This clip goes outside the requested window (${when(request.window_start)} to ${when(request.window_end)}). You may still share it; the request did not ask for that part.`);
    }
  }
  if (request && request.cameras.length && !request.cameras.includes(clip.camera)) {
    problems.push(`The request asked for ${request.cameras.join(", ")}, not ${clip.camera}.`);
  }
  $("clip-warning").textContent = problems.join(" ");
  $("clip-warning").hidden = problems.length === 0;
}

// -- 1 and 2: options and preview --------------------------------------------------------
function options() {
  const text = $("opt-text").value.trim();
  return {
    redactions: {
      faces: $("opt-faces").checked,
      masks: $("opt-masks").checked ? masks : [],
      text: text || null,
    },
    audio: $("opt-audio").checked,
  };
}

function stale() {
  // What is consented to must be what was watched: a changed option needs a new preview.
  if (previewed === null || consent !== null) return;
  if (JSON.stringify(options()) === previewed) {
    $("share-consent").hidden = false;
    $("preview-status").textContent = "Preview ready.";
    return;
  }
  $("share-consent").hidden = true;
  $("preview-status").textContent = "You changed the options: make the preview again before consenting.";
}

async function poll(path, bar, status, verb) {
  for (;;) {
    const job = await api(path);
    const { done, total } = job.progress;
    if (total > 0) {
      bar.max = total;
      bar.value = done;
      status.textContent = `${verb}… ${Math.floor((100 * done) / total)} %`;
    }
    if (job.state !== "running") return job;
    await sleep(POLL_MS);
  }
}

async function makePreview(event) {
  event.preventDefault();
  $("options-error").textContent = "";
  if (consent !== null) return;
  if (!(await ensureUnlocked())) {
    $("options-error").textContent = "Footage is locked: unlock it to make the preview.";
    return;
  }
  const chosen = options();
  const button = $("preview-make");
  const bar = $("preview-progress");
  button.disabled = true;
  previewed = null;
  $("share-consent").hidden = true;
  bar.hidden = false;
  bar.removeAttribute("value");
  $("preview-status").textContent = "Making the preview…";
  try {
    const started = await api("/api/v1/previews", { method: "POST", body: { ...clip, ...chosen } });
    const job = await poll(`/api/v1/previews/${started.id}`, bar, $("preview-status"), "Redacting");
    if (job.state !== "done") throw new Error(job.error || `the preview ${job.state}`);
    showPreview(job);
    previewed = JSON.stringify(chosen);
    stale();
  } catch (error) {
    $("options-error").textContent = error.message;
    $("preview-status").textContent = "";
  } finally {
    button.disabled = false;
    bar.hidden = true;
  }
}

function showPreview(job) {
  const video = $("preview-video");
  video.src = `/api/v1/previews/${job.id}/preview.mp4`;
  const r = job.report;
  const faces = $("opt-faces").checked
    ? `faces blurred in ${r.frames_with_faces} of ${r.frames} frames` +
      (r.frames_tracked_only ? ` (${r.frames_tracked_only} of them by following a face the detector lost for a moment)` : "")
    : `${r.frames} frames, faces not blurred`;
  $("preview-report").textContent = `Preview at ${r.width}×${r.height} (the bundle keeps the camera's size): ${faces}.`;
  $("share-preview").hidden = false;
}

// -- 3 and 4: consent, export, download ---------------------------------------------------
function recipientChanged() {
  const key = $("recipient-age").value.trim();
  const valid = AGE_KEY.test(key);
  $("encrypt").disabled = !valid;
  if (!valid) $("encrypt").checked = false;
}

async function consentAndExport(event) {
  event.preventDefault();
  $("consent-error").textContent = "";
  const field = $("consent-passphrase");
  let passphrase = field.value;
  field.value = "";
  const button = $("consent-submit");
  button.disabled = true;
  try {
    if (consent === null) {
      const age = $("recipient-age").value.trim();
      consent = await api("/api/v1/consents", {
        method: "POST",
        body: {
          ...clip,
          ...options(),
          passphrase,
          recipient: { name: $("recipient-name").value.trim(), age: age || null },
          validity_days: Number($("validity").value),
          request: request ? request.id : null,
        },
      });
      for (const input of document.querySelectorAll("#share-options input, #share-consent input:not([type=password]), #share-consent select")) {
        input.disabled = true;
      }
      $("preview-make").disabled = true;
      $("consent-done").textContent = `Consent ${consent.id} signed with your key at ${when(consent.created_at)}, valid until ${when(consent.expires_at)}.`;
      $("share-export").hidden = false;
      refreshConsents();
    }
    await startExport(passphrase);
  } catch (error) {
    $("consent-error").textContent = error.message;
    if (consent !== null) $("consent-submit").textContent = "Make the bundle (type the passphrase again)";
  } finally {
    passphrase = null;
    button.disabled = false;
  }
}

async function startExport(passphrase) {
  const body = {
    passphrase,
    clip: { camera: consent.camera, start: consent.start, end: consent.end },
  };
  const fulfil = $("fulfil") ? $("fulfil").value : "";
  if (fulfil) body.fulfil = fulfil;
  if ($("encrypt").checked) body.age_recipient = consent.recipient.age;
  $("export-error").textContent = "";
  $("export-status").textContent = "Making the bundle…";
  const job = await api(`/api/v1/consents/${consent.id}/export`, { method: "POST", body });
  // Started: the passphrase is not needed again on this page.
  $("share-consent").hidden = true;
  const bar = $("export-progress");
  const done = await poll(`/api/v1/exports/${job.id}`, bar, $("export-status"), "Making the bundle");
  if (done.state !== "done") {
    $("export-error").textContent = done.error || `The bundle was not made (${done.state}).`;
    $("export-status").textContent = "";
    $("share-consent").hidden = false;
    $("consent-submit").textContent = "Make the bundle (type the passphrase again)";
    return;
  }
  exportJob = done;
  bar.value = bar.max;
  $("export-status").textContent = "The bundle is ready.";
  const link = $("bundle-link");
  link.href = `/api/v1/exports/${done.id}/bundle.zip`;
  link.setAttribute("download", done.file);
  link.hidden = false;
  $("bundle-about").textContent =
    `${done.file}, ${bytes(done.size)}; clip SHA-256 ${done.clip_sha256}. ` +
    (done.file.endsWith(".age")
      ? "Encrypted to the recipient's age key: only they can open it. "
      : "") +
    "The recipient checks it with the verify_bundle.py inside it (Python and the cryptography package); read them your key fingerprint, which it prints, over the phone or in person. Kept here for an hour.";
  showLinks();
}

// -- share links (another part of the API; hidden when this box has none) -----------------
const notHere = (error) => error.status === 404 && error.message === "Not Found";

// data-state on the section says what was decided: "absent" (this box has no share-link
// routes: the section stays hidden) or "shown".
async function showLinks() {
  const section = $("share-links");
  try {
    await listLinks();
  } catch (error) {
    if (notHere(error)) {
      section.dataset.state = "absent";
      return;
    }
    $("link-error").textContent = error.message;
  }
  section.hidden = false;
  section.dataset.state = "shown";
}

async function listLinks() {
  const { links } = await api(`/api/v1/links?consent=${encodeURIComponent(consent.id)}`);
  $("link-list").replaceChildren(
    ...links.map((link) => {
      const gone = link.revoked_at
        ? `revoked ${when(link.revoked_at)}`
        : Date.parse(link.expires_at) <= Date.now()
          ? `expired ${when(link.expires_at)}`
          : `expires ${when(link.expires_at)}`;
      const item = el("li", { "data-testid": "link" },
        el("span", { text: `Link made ${when(link.created_at)}: ${link.downloads} of ${link.max_downloads} downloads, ${gone}` }));
      if (!link.revoked_at) {
        item.append(" ", el("button", {
          type: "button",
          class: "danger",
          text: "Revoke link",
          onclick: () => revokeLink(link.id),
        }));
      }
      return item;
    }),
  );
}

async function revokeLink(id) {
  $("link-error").textContent = "";
  try {
    await api(`/api/v1/links/${encodeURIComponent(id)}/revoke`, { method: "POST", body: { reason: "revoked by the owner" } });
    await listLinks();
  } catch (error) {
    $("link-error").textContent = error.message;
  }
}

$("link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("link-error").textContent = "";
  try {
    const link = await api(`/api/v1/exports/${exportJob.id}/links`, {
      method: "POST",
      body: { days: Number($("link-days").value), downloads: Number($("link-downloads").value) },
    });
    $("link-url").value = window.location.origin + link.url;
    $("link-made").hidden = false;
    $("link-url").select();
    await listLinks();
  } catch (error) {
    if (notHere(error)) {
      $("share-links").hidden = true;
      $("share-links").dataset.state = "absent";
      return;
    }
    $("link-error").textContent = error.message;
  }
});

$("link-copy").addEventListener("click", async () => {
  const field = $("link-url");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    $("link-status").textContent = "Copied.";
  } catch {
    $("link-status").textContent = "Select the link and copy it by hand (the browser refused).";
  }
});

// -- the consents already given ----------------------------------------------------------
function refreshConsents() {
  return showConsents($("consent-list"), $("consent-list-error"), request ? { request: request.id } : { personal: true });
}

// -- start ---------------------------------------------------------------------------------
describeClip();
if (request) {
  const date = new Date().toLocaleDateString([], { dateStyle: "medium" });
  const reference = request.reference ? `, case ${request.reference}` : "";
  $("opt-text").value = `Released to ${request.organisation}${reference}, ${date}`.slice(0, 200);
  $("recipient-name").value = request.organisation;
}
$("share-options").addEventListener("submit", makePreview);
$("share-options").addEventListener("input", stale);
$("share-options").addEventListener("change", stale);
$("recipient-age").addEventListener("input", recipientChanged);
$("share-consent").addEventListener("submit", consentAndExport);
refreshConsents();
