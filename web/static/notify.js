// Browser notifications for doorbell presses and motion (opt-in, per browser).
//
// The choice lives in localStorage ("porchlight.notify" = "on"); with it on and the
// browser's permission granted, every signed-in dashboard page (app.js imports this)
// listens to the server-sent event stream /api/v1/events/stream
// (event: camera-event, data {"camera", "kind", "phase", "at"}) and shows a local
// Notification for a doorbell press or the start of motion. Nothing leaves the box and
// this browser: no push service, no third party.
const KEY = "porchlight.notify";
const KINDS = { doorbell: "Doorbell", motion: "Motion" };

export function notifyEnabled() {
  try {
    return window.localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

export function setNotify(on) {
  try {
    if (on) window.localStorage.setItem(KEY, "on");
    else window.localStorage.removeItem(KEY);
  } catch {
    // Storage refused (private mode): the choice lasts for this page only.
  }
  if (on) listen();
}

let source = null;

export function listen() {
  if (source || !("Notification" in window) || !("EventSource" in window)) return;
  if (!notifyEnabled() || Notification.permission !== "granted") return;
  source = new EventSource("/api/v1/events/stream");
  source.addEventListener("camera-event", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const title = KINDS[event.kind];
    if (!title || (event.phase && !["start", "instant"].includes(event.phase))) return;
    if (!notifyEnabled()) return;
    const at = new Date(event.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    // The tag makes several open tabs show one notification, not one each.
    new Notification(`${title}: ${event.camera}`, {
      body: `${title} at ${event.camera}, ${at}`,
      tag: `${event.camera}-${event.kind}-${event.at}`,
    });
  });
  source.addEventListener("error", () => {
    if (source && source.readyState === EventSource.CLOSED) source = null;
  });
}

listen();
