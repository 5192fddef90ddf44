// The settings page (/settings): users and roles, install windows, household keys, the
// key passphrase, two-factor sign-in, retention and quota, browser notifications.
// Everything goes through the JSON API (docs/design/settings.md); no secret is kept here.
import { api, el } from "/static/api.js";
import { notifyEnabled, setNotify } from "/static/notify.js";

const $ = (id) => document.getElementById(id);
let cameras = [];

function failure(target, error) {
  $(target).textContent = error.message || String(error);
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function cameraBoxes(container, chosen, name) {
  for (const cam of cameras) {
    const id = `${name}-${cam}`;
    container.append(
      el("span", { class: "row" },
        el("input", { type: "checkbox", id, value: cam, checked: chosen.includes(cam) }),
        el("label", { for: id, text: cam })),
    );
  }
}

// A password or passphrase asked for in a dialog (never window.prompt: it shows the text).
function askSecret(title, label, autocomplete = "off") {
  const dialog = $("secret-dialog");
  const form = $("secret-form");
  const input = $("secret-input");
  $("secret-title").textContent = title;
  $("secret-label").textContent = label;
  input.autocomplete = autocomplete;
  input.value = "";
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", submit);
      $("secret-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      input.value = "";
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submit = (event) => {
      event.preventDefault();
      finish(input.value);
    };
    const cancel = () => finish(null);
    form.addEventListener("submit", submit);
    $("secret-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    input.focus();
  });
}

function checked(container) {
  return [...container.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
}

// -- users ------------------------------------------------------------------------------
async function loadUsers() {
  const list = await api("/api/v1/users");
  const body = $("users-table").querySelector("tbody");
  body.replaceChildren();
  for (const user of list) body.append(userRow(user));
}

function userRow(user) {
  const actions = el("td", { class: "row" });
  if (user.role !== "owner") {
    const other = user.role === "viewer" ? "installer" : "viewer";
    actions.append(
      el("button", { type: "button", class: "secondary", text: `Make ${other}`,
        onclick: () => change(user.name, { role: other }) }),
      el("button", { type: "button", class: "secondary", text: user.enabled ? "Disable" : "Enable",
        onclick: () => change(user.name, { enabled: !user.enabled }) }),
      el("button", { type: "button", class: "secondary", text: "Reset password",
        onclick: () => resetPassword(user.name) }),
      el("button", { type: "button", class: "danger", text: "Delete",
        onclick: () => remove(user.name) }),
    );
  }
  let camerasCell = el("td", { text: user.cameras === null ? "all (by role)" : user.cameras.join(", ") || "none" });
  if (user.role === "viewer") {
    const box = el("div", { class: "row" });
    cameraBoxes(box, user.cameras, `cams-${user.name}`);
    box.append(el("button", { type: "button", class: "secondary", text: "Save cameras",
      onclick: () => saveCameras(user.name, checked(box)) }));
    camerasCell = el("td", {}, box);
  }
  if (user.role === "owner") camerasCell = el("td", { text: "all" });
  const state = `${user.enabled ? "active" : "disabled"}${user.household_key ? ", household key" : ""}`;
  return el("tr", {},
    el("th", { scope: "row", text: user.name }),
    el("td", { text: user.role }),
    camerasCell,
    el("td", { text: `${state}${user.sessions ? `, ${user.sessions} signed in` : ""}` }),
    actions);
}

async function guarded(target, work) {
  $(target).textContent = "";
  try {
    await work();
  } catch (error) {
    failure(target, error);
  }
}

const change = (name, body) => guarded("user-error", async () => {
  await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "PATCH", body });
  await loadUsers();
});

const resetPassword = (name) => guarded("user-error", async () => {
  const password = await askSecret(`New password for ${name}`, "New password (at least 12 characters, hard to guess)", "new-password");
  if (!password) return;
  await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "PATCH", body: { password } });
  await loadUsers();
});

const remove = (name) => guarded("user-error", async () => {
  if (!window.confirm(`Delete the account ${name}? It is signed out everywhere.`)) return;
  await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "DELETE" });
  await loadUsers();
});

const saveCameras = (name, list) => guarded("user-error", async () => {
  await api(`/api/v1/users/${encodeURIComponent(name)}/cameras`, { method: "PUT", body: { cameras: list } });
  await loadUsers();
});

$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("user-error", async () => {
    const role = $("user-role").value;
    await api("/api/v1/users", {
      method: "POST",
      body: {
        name: $("user-name").value,
        role,
        password: $("user-password").value,
        cameras: role === "viewer" ? checked($("user-cameras")) : [],
      },
    });
    $("user-form").reset();
    await loadUsers();
  }).finally(() => { $("user-password").value = ""; });
});

// -- install windows --------------------------------------------------------------------
let countdown = null;

async function loadWindows() {
  const state = await api("/api/v1/install-windows");
  const current = $("window-current");
  clearInterval(countdown);
  current.replaceChildren();
  if (state.current) {
    const ends = Date.now() + state.current.seconds_left * 1000;
    const text = el("span");
    const tick = () => {
      const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      text.textContent = `Open: ${Math.floor(left / 60)} min ${left % 60} s left (until ${when(state.current.expires_at)}). `;
      if (left === 0) loadWindows();
    };
    tick();
    countdown = setInterval(tick, 1000);
    current.append(text, el("button", { type: "button", class: "danger", text: "Close now",
      onclick: () => guarded("window-error", async () => {
        await api(`/api/v1/install-windows/${state.current.id}`, { method: "DELETE" });
        await loadWindows();
      }) }));
  } else {
    current.textContent = "No install window is open.";
  }
  $("window-recent").replaceChildren(...state.recent.map((w) => el("li", {
    text: `#${w.id} opened ${when(w.opened_at)} by ${w.opened_by}, ${w.closed_at ? `closed ${when(w.closed_at)}` : w.open ? "open" : `expired ${when(w.expires_at)}`}`,
  })));
}

$("window-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("window-error", async () => {
    await api("/api/v1/install-windows", { method: "POST", body: { minutes: Number($("window-minutes").value) } });
    await loadWindows();
  });
});

// -- household members ------------------------------------------------------------------
async function loadMembers() {
  const { members } = await api("/api/v1/keys/members");
  const list = $("members-list");
  list.replaceChildren(...members.map((name) => el("li", { class: "row" },
    el("span", { text: name }),
    el("button", { type: "button", class: "danger", text: "Remove",
      onclick: () => guarded("member-error", async () => {
        const owner = await askSecret(`Remove ${name}'s household key`, "Your key passphrase", "current-password");
        if (!owner) return;
        await api(`/api/v1/keys/members/${encodeURIComponent(name)}`, { method: "DELETE", body: { owner_passphrase: owner } });
        await loadMembers();
      }) }))));
  if (!members.length) list.append(el("li", { class: "note", text: "No household member keys." }));
}

$("member-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("member-error", async () => {
    await api("/api/v1/keys/members", {
      method: "POST",
      body: {
        name: $("member-name").value,
        member_passphrase: $("member-passphrase").value,
        owner_passphrase: $("member-owner").value,
      },
    });
    await loadMembers();
  }).finally(() => $("member-form").reset());
});

// -- passphrase -------------------------------------------------------------------------
$("passphrase-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("passphrase-result");
  result.className = "";
  if ($("passphrase-new").value !== $("passphrase-again").value) {
    result.className = "error";
    result.textContent = "the two new passphrases differ";
    return;
  }
  result.textContent = "Changing (this takes a few seconds)…";
  try {
    const done = await api("/api/v1/keys/passphrase", {
      method: "POST",
      body: { old: $("passphrase-old").value, new: $("passphrase-new").value },
    });
    result.textContent = `Passphrase changed. ${done.sessions_ended} other session(s) signed out.`;
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  } finally {
    $("passphrase-form").reset();
  }
});

// -- two-factor -------------------------------------------------------------------------
async function loadTotp() {
  const { enabled } = await api("/api/v1/totp");
  $("totp-state").textContent = enabled
    ? "On: signing in as the owner also needs the code from your authenticator app."
    : "Off: the key passphrase alone signs you in.";
  $("totp-enrol").hidden = enabled;
  $("totp-off-form").hidden = !enabled;
  $("totp-setup").hidden = true;
}

$("totp-start").addEventListener("click", () => guarded("totp-error", async () => {
  const enrolment = await api("/api/v1/totp/enrol", { method: "POST" });
  $("totp-secret").textContent = enrolment.secret.replace(/(.{4})/g, "$1 ").trim();
  $("totp-uri").href = enrolment.uri;
  $("totp-setup").hidden = false;
  $("totp-confirm-code").focus();
}));

$("totp-confirm-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("totp-error", async () => {
    await api("/api/v1/totp/confirm", { method: "POST", body: { code: $("totp-confirm-code").value } });
    $("totp-secret").textContent = "";
    $("totp-confirm-form").reset();
    await loadTotp();
  });
});

$("totp-off-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("totp-error", async () => {
    await api("/api/v1/totp", {
      method: "DELETE",
      body: { passphrase: $("totp-off-passphrase").value, code: $("totp-off-code").value },
    });
    await loadTotp();
  }).finally(() => $("totp-off-form").reset());
});

// -- retention --------------------------------------------------------------------------
function showRetention(view) {
  $("retention-continuous").value = view.continuous_days;
  $("retention-event").value = view.event_days;
  $("retention-quota").value = view.quota || "";
  $("retention-note").textContent = view.editable
    ? `Saved to ${view.config_file}; applies ${view.applies}.`
    : "The service runs without a config file: these are the defaults and cannot be saved here.";
  $("retention-form").querySelector("button").disabled = !view.editable;
}

$("retention-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("retention-result");
  result.className = "";
  try {
    showRetention(await api("/api/v1/settings/retention", {
      method: "PUT",
      body: {
        continuous_days: Number($("retention-continuous").value),
        event_days: Number($("retention-event").value),
        quota: $("retention-quota").value.trim() || null,
      },
    }));
    result.textContent = "Saved.";
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  }
});

// -- notifications (this browser only) --------------------------------------------------
function showNotify() {
  const supported = "Notification" in window;
  $("notify-on").disabled = !supported;
  $("notify-on").checked = supported && notifyEnabled();
  $("notify-state").textContent = !supported
    ? "This browser cannot show notifications."
    : Notification.permission === "denied"
      ? "Notifications are blocked for this site in the browser's settings."
      : "";
}

$("notify-on").addEventListener("change", async () => {
  if ($("notify-on").checked && Notification.permission !== "granted") {
    const answer = await Notification.requestPermission();
    if (answer !== "granted") $("notify-on").checked = false;
  }
  setNotify($("notify-on").checked);
  showNotify();
});

// -- start ------------------------------------------------------------------------------
async function start() {
  const health = await api("/api/v1/health").catch(() => ({ cameras: [] }));
  cameras = (health.cameras || []).map((cam) => cam.name);
  cameraBoxes($("user-cameras"), [], "new");
  showNotify();
  await Promise.all([
    guarded("user-error", loadUsers),
    guarded("window-error", loadWindows),
    guarded("member-error", loadMembers),
    guarded("totp-error", loadTotp),
    guarded("retention-result", async () => showRetention(await api("/api/v1/settings/retention"))),
  ]);
}

start();
