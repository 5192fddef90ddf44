// First-run stepper (/setup): setup code -> owner and passphrase -> recovery key -> cameras.
// Before the owner exists every call carries the setup code (X-Setup-Code); afterwards the
// owner is signed in and the normal API (session cookie + CSRF via api.js) takes over.
import { api, session, el } from "/static/api.js";

const $ = (id) => document.getElementById(id);
let code = new URLSearchParams(window.location.search).get("code") || "";
if (code) window.history.replaceState(null, "", "/setup"); // keep the code out of history

function show(step) {
  for (const id of ["step-code", "step-owner", "step-recovery", "step-cameras"]) {
    $(id).hidden = id !== step;
  }
  const index = { "step-owner": 1, "step-recovery": 2, "step-cameras": 3 }[step] || 1;
  for (const n of [1, 2, 3]) {
    const label = $(`step-label-${n}`);
    if (n === index) label.setAttribute("aria-current", "step");
    else label.removeAttribute("aria-current");
  }
  const heading = $(step).querySelector("h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

async function setupCall(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Setup-Code": code },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error || `${response.status}`);
    error.status = response.status;
    error.field = data.field;
    throw error;
  }
  return data;
}

// --- the code --------------------------------------------------------------------------
$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  code = $("setup-code").value;
  try {
    await setupCall("/api/v1/setup/check");
    show("step-owner");
  } catch (failure) {
    $("code-error").textContent = failure.message;
  }
});

// --- step 1: owner ---------------------------------------------------------------------
let timer = null;
let asked = 0;
const labels = ["very weak", "weak", "fair", "strong", "very strong"];
$("owner-passphrase").addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    const passphrase = $("owner-passphrase").value;
    const mine = ++asked;
    if (!passphrase) {
      $("strength-meter").value = 0;
      $("strength-text").textContent = "";
      return;
    }
    try {
      const result = await setupCall("/api/v1/setup/strength", {
        passphrase,
        name: $("owner-name").value || null,
      });
      if (mine !== asked) return; // a newer answer is on its way
      $("strength-meter").value = result.score;
      $("strength-text").textContent = result.ok
        ? `Strength: ${labels[result.score]}.`
        : `${labels[result.score]}: ${result.reason}. ${result.hint || ""}`;
    } catch (failure) {
      $("strength-text").textContent = failure.message;
    }
  }, 350);
});

let recovery = "";
$("owner-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("owner-error").textContent = "";
  const button = $("owner-submit");
  button.disabled = true;
  $("owner-busy").textContent = "Creating the keys: this takes a few seconds…";
  try {
    const result = await setupCall("/api/v1/setup/owner", {
      name: $("owner-name").value,
      passphrase: $("owner-passphrase").value,
      confirmation: $("owner-confirmation").value,
    });
    $("owner-passphrase").value = "";
    $("owner-confirmation").value = "";
    recovery = result.recovery_identity;
    $("recovery-key").textContent = recovery;
    $("recording-note").textContent = result.recording.length
      ? `Recording started: ${result.recording.join(", ")}.`
      : "Recording starts as soon as a camera is added.";
    await session(true); // the new session's CSRF token for what follows
    show("step-recovery");
  } catch (failure) {
    $("owner-error").textContent = failure.field
      ? `${failure.field}: ${failure.message}`
      : failure.message;
  } finally {
    button.disabled = false;
    $("owner-busy").textContent = "";
  }
});

// --- step 2: recovery key (only ever in this page's memory) ----------------------------
$("recovery-download").addEventListener("click", () => {
  const text =
    "# Porchlight recovery key. Keep it off the box, private.\n" +
    "# Decrypt a segment with: age -d -i this-file SEGMENT.age\n" +
    `${recovery}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = el("a", { href: url, download: "porchlight-recovery.key" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});
$("recovery-print").addEventListener("click", () => window.print());
$("recovery-stored").addEventListener("change", (event) => {
  $("recovery-confirm").disabled = !event.target.checked;
});
$("recovery-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/api/v1/setup/recovery-confirmed", { method: "POST" });
    recovery = "";
    $("recovery-key").textContent = "";
    show("step-cameras");
  } catch (failure) {
    $("recovery-error").textContent = failure.message;
  }
});
window.addEventListener("beforeunload", (event) => {
  if (recovery) event.preventDefault(); // the key is not confirmed as stored yet
});

// --- step 3: cameras -------------------------------------------------------------------
function cameraBody() {
  const onvif = $("cam-onvif").value.trim();
  const [host, port] = onvif.includes(":") && !onvif.startsWith("[")
    ? onvif.split(":")
    : [onvif, "80"];
  return {
    name: $("cam-name").value.trim(),
    main_url: $("cam-url").value.trim() || null,
    onvif_host: $("cam-url").value.trim() ? null : host || null,
    onvif_port: Number(port) || 80,
    username: $("cam-user").value || null,
    password: $("cam-password").value || null,
  };
}

$("cam-test").addEventListener("click", async () => {
  $("cam-error").textContent = "";
  $("cam-result").textContent = "Connecting (up to ~8 s)…";
  try {
    const body = cameraBody();
    const result = await api("/api/v1/cameras/test", {
      method: "POST",
      body: { url: body.main_url, username: body.username, password: body.password },
    });
    $("cam-result").textContent = `The camera sends ${result.summary}.`;
  } catch (failure) {
    $("cam-result").textContent = "";
    $("cam-error").textContent = failure.message;
  }
});

$("camera-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("cam-error").textContent = "";
  try {
    const saved = await api("/api/v1/cameras", { method: "POST", body: cameraBody() });
    $("cam-password").value = "";
    $("cam-result").textContent = `Camera ${saved.name} saved and started.`;
  } catch (failure) {
    const field = failure.body && failure.body.field ? `${failure.body.field}: ` : "";
    $("cam-error").textContent = field + failure.message;
  }
});

$("discover").addEventListener("click", async () => {
  const list = $("discovered");
  list.replaceChildren(el("li", { text: "Looking for cameras (a few seconds)…" }));
  try {
    const found = await api("/api/v1/cameras/discover", { method: "POST", body: {} });
    list.replaceChildren();
    if (!found.devices.length) list.append(el("li", { text: `No camera answered on ${found.interface}.` }));
    for (const device of found.devices) {
      const label = [device.name, device.hardware, `${device.host}:${device.port}`]
        .filter(Boolean)
        .join(" · ");
      list.append(
        el("li", {}, el("button", {
          type: "button",
          class: "secondary",
          text: `Use ${label}`,
          onclick: () => {
            $("cam-url").value = "";
            $("cam-onvif").value = `${device.host}:${device.port}`;
            $("cam-user").focus();
          },
        })),
      );
    }
  } catch (failure) {
    list.replaceChildren(el("li", { class: "error", text: failure.message }));
  }
});

$("use-demo").addEventListener("click", () => window.location.assign("/"));

show(code ? "step-owner" : "step-code");
if (code) $("setup-code").value = code;
