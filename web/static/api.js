// The dashboard's one way to call the JSON API (ES module, no build step).
//
//   import { api, session, ensureUnlocked, ApiError } from "/static/api.js";
//   const events = await api("/api/v1/events?day=2026-11-28");
//   await api("/api/v1/users", { method: "POST", body: { name: "sam", role: "viewer" } });
//
// - Sends the session cookie (same origin) and, on every state change, the CSRF token
//   from GET /api/v1/session (fetched once per page, again after an unlock).
// - A 401 while the session still exists means the footage is locked: an account that can
//   unlock (the owner; a viewer with a household key: `can_unlock` in the session info)
//   gets the passphrase dialog (base.html) and the call is tried once more; a 401 without a
//   session sends the browser to the sign-in page.
// - Any other failure throws ApiError with the server's reason ({"error": ...}).

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let current = null; // Promise<session info | null>

export class ApiError extends Error {
  constructor(status, reason, body) {
    super(reason);
    this.status = status;
    this.body = body;
  }
}

export function session(refresh = false) {
  if (refresh || current === null) {
    current = fetch("/api/v1/session", { credentials: "same-origin" }).then((r) =>
      r.ok ? r.json() : null,
    );
  }
  return current;
}

export function toSignIn() {
  window.location.assign("/signin");
}

async function send(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers }, signal };
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob || typeof body === "string") {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  if (!SAFE.has(method)) {
    const who = await session();
    if (who) init.headers["X-CSRF-Token"] = who.csrf_token;
  }
  return fetch(path, init);
}

async function reason(response) {
  const body = await response.json().catch(() => ({}));
  return [body.error || `${response.status} ${response.statusText}`, body];
}

// fetch + the rules above; returns the parsed JSON (or the Response with raw: true).
export async function api(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401) {
    const who = await session(true);
    if (!who) {
      toSignIn();
      throw new ApiError(401, "signed out");
    }
    if (who.can_unlock && (await ensureUnlocked(true))) {
      response = await send(path, options);
    }
  }
  if (!response.ok) {
    const [text, body] = await reason(response);
    throw new ApiError(response.status, text, body);
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Ask for the passphrase when footage is locked; resolves true once unlocked.
export async function ensureUnlocked(knownLocked = false) {
  const who = await session(!knownLocked);
  if (!who) {
    toSignIn();
    return false;
  }
  if (who.unlocked && !knownLocked) return true;
  if (!who.can_unlock) return false;
  const dialog = document.getElementById("unlock-dialog");
  if (!dialog) return false;
  const form = document.getElementById("unlock-form");
  const input = document.getElementById("unlock-passphrase");
  const error = document.getElementById("unlock-error");
  const cancel = document.getElementById("unlock-cancel");
  error.textContent = "";
  return new Promise((resolve) => {
    const finish = (ok) => {
      form.removeEventListener("submit", submit);
      cancel.removeEventListener("click", dismiss);
      input.value = "";
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const dismiss = () => finish(false);
    const submit = async (event) => {
      event.preventDefault();
      const r = await send("/api/v1/unlock", {
        method: "POST",
        body: { passphrase: input.value },
      });
      input.value = "";
      if (r.ok) {
        await session(true);
        document.dispatchEvent(new CustomEvent("porchlight:unlocked"));
        finish(true);
        return;
      }
      error.textContent = (await reason(r))[0];
    };
    form.addEventListener("submit", submit);
    cancel.addEventListener("click", dismiss);
    dialog.showModal();
    input.focus();
  });
}

// Small helpers the page modules share.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function localTime(iso, options = { hour: "2-digit", minute: "2-digit", second: "2-digit" }) {
  return new Date(iso).toLocaleTimeString([], options);
}
