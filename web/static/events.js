// The events page: filters (camera, type, day), the sealed event list with decrypted
// thumbnails, and a player for the footage around an event (docs/design/dashboard-footage.md).
//
// Data: GET /api/v1/events (needs the owner's unlock: api() shows the passphrase dialog on
// a 401). Thumbnails and clips load through <img>/<video> src, which cannot show that
// dialog: ensureUnlocked() runs first. No download: clips leave the box only by sharing.
import { api, ApiError, el, ensureUnlocked, session } from "/static/api.js";

const PRE_ROLL = 5; // seconds of footage before an event
const POST_ROLL = 5; // and after its end
const INSTANT = 15; // how long to show after an event without an end (a doorbell press)
const MAX_CLIP = 600; // the clip route's limit (seconds)
const PAGE = 30;

const form = document.getElementById("event-filters");
const list = document.getElementById("event-list");
const statusLine = document.getElementById("events-status");
const more = document.getElementById("events-more");
const player = document.getElementById("player");
const video = document.getElementById("event-video");
const playerNote = document.getElementById("player-note");
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

let nextBefore = null;
let generation = 0; // a newer load makes an older one drop its answer

const KIND = { motion: "Motion", doorbell: "Doorbell", camera_motion: "Camera motion" };

function iso(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function when(value) {
  return new Date(value).toLocaleString([], {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

function filters() {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const key of ["camera", "kind", "day"]) {
    const value = data.get(key);
    if (value) params.set(key, value);
  }
  return params;
}

function fromAddress() {
  const params = new URLSearchParams(window.location.search);
  for (const key of ["camera", "kind", "day"]) {
    const field = form.elements.namedItem(key);
    if (field && params.get(key)) field.value = params.get(key);
  }
}

function say(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", error);
}

function row(event) {
  const label = event.error
    ? "Event record failed to open"
    : `${KIND[event.kind] || event.kind} · ${event.camera}`;
  const item = el("li", { class: "event-row", "data-testid": "event-row", "data-event-id": event.id });
  if (event.has_thumbnail) {
    item.append(
      el("img", {
        class: "thumb",
        "data-testid": "event-thumbnail",
        src: `/api/v1/events/${event.id}/thumbnail.jpg`,
        alt: `Picture of the ${label.toLowerCase()}`,
        loading: "lazy",
        width: 160,
        height: 90,
      }),
    );
  } else {
    item.append(el("div", { class: "thumb none", "aria-hidden": "true", text: "No picture" }));
  }
  const text = el(
    "div",
    { class: "event-text" },
    el("strong", { text: label }),
    el("span", { class: "note", text: event.start ? when(event.start) : event.error }),
  );
  if (event.start && event.end) {
    const seconds = Math.round((new Date(event.end) - new Date(event.start)) / 1000);
    text.append(el("span", { class: "note", text: `${seconds} s` }));
  }
  item.append(text);
  if (event.start) {
    item.append(
      el("button", {
        type: "button",
        class: "secondary",
        "data-testid": "event-play",
        text: "Play",
        "aria-label": `Play the footage of this event (${label}, ${when(event.start)})`,
        onclick: () => play(event),
      }),
    );
  }
  return item;
}

// An account with no key at all (an installer; a viewer without a household key) could
// only be refused: say why instead of asking (docs/design/dashboard-footage.md).
const NO_KEY = {
  viewer: "This account has no key to open recorded events: ask the owner for a household key.",
  installer: "An installer holds no key to recorded events: live view works inside the install window.",
};

async function load(append = false) {
  const mine = ++generation;
  const who = await session();
  if (who && !who.unlocked && !who.can_unlock) {
    list.replaceChildren();
    say(NO_KEY[who.role] || NO_KEY.viewer);
    form.hidden = true;
    return;
  }
  const params = filters();
  if (params.get("day")) params.set("tz", zone);
  params.set("limit", String(PAGE));
  if (append && nextBefore) params.set("before", String(nextBefore));
  if (!append) {
    list.replaceChildren();
    window.history.replaceState(null, "", `?${filters().toString()}`);
    fresh.hidden = true;
  }
  say("Loading…");
  more.hidden = true;
  let page;
  try {
    page = await api(`/api/v1/events?${params}`);
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) {
      say("Footage is locked. Unlock it to see the events.", true);
      list.replaceChildren(
        el("li", {}, el("button", { type: "button", text: "Unlock", onclick: retry })),
      );
    } else {
      say(error.message, true);
    }
    return;
  }
  if (mine !== generation) return;
  // The list opened; thumbnails are <img> loads, which cannot ask for the passphrase.
  if (page.events.some((e) => e.has_thumbnail) && !(await ensureUnlocked())) {
    say("Footage is locked.", true);
    return;
  }
  if (mine !== generation) return;
  for (const event of page.events) list.append(row(event));
  nextBefore = page.next_before;
  more.hidden = nextBefore === null;
  const shown = list.querySelectorAll("[data-testid=event-row]").length;
  const none = filters().toString() ? "No events match these filters." : "No events yet.";
  say(shown ? `${shown} event${shown === 1 ? "" : "s"}` : none);
}

async function retry() {
  if (await ensureUnlocked(true)) load();
}

async function play(event) {
  const start = new Date(new Date(event.start).getTime() - PRE_ROLL * 1000);
  const last = event.end ? new Date(event.end) : new Date(new Date(event.start).getTime() + INSTANT * 1000);
  let end = new Date(last.getTime() + POST_ROLL * 1000);
  if (end - start > MAX_CLIP * 1000) end = new Date(start.getTime() + MAX_CLIP * 1000);
  if (!(await ensureUnlocked())) {
    playerNote.textContent = "Footage is locked.";
    player.hidden = false;
    return;
  }
  const url = `/api/v1/cameras/${encodeURIComponent(event.camera)}/clip?start=${iso(start)}&end=${iso(end)}`;
  player.hidden = false;
  playerNote.textContent = `${event.camera}, ${when(start.toISOString())} (from ${PRE_ROLL} s before the event)`;
  video.src = url;
  video.focus();
  video.play().catch(() => {});
}

// A <video> cannot read an error body: ask the clip route for one byte to say why.
video.addEventListener("error", async () => {
  if (!video.src) return;
  try {
    await api(video.src, { headers: { Range: "bytes=0-0" }, raw: true });
    playerNote.textContent = "The clip could not be played.";
  } catch (error) {
    playerNote.textContent = error.status === 404 ? "No footage was recorded around this event." : error.message;
  }
});

document.getElementById("player-close").addEventListener("click", () => {
  video.pause();
  video.removeAttribute("src");
  video.load();
  player.hidden = true;
});
video.addEventListener("contextmenu", (event) => event.preventDefault());

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
more.addEventListener("click", () => load(true));
document.addEventListener("porchlight:unlocked", () => {
  if (!list.querySelector("[data-testid=event-row]")) load();
});

// Live: the event stream says when something new happened (a finished motion event or
// an instant one is then kept as a record); the list itself reloads only when asked.
const fresh = document.getElementById("events-new");
document.getElementById("events-refresh").addEventListener("click", () => {
  fresh.hidden = true;
  load();
});
if (window.EventSource) {
  const live = new EventSource("/api/v1/events/stream");
  live.addEventListener("camera-event", (message) => {
    const event = JSON.parse(message.data);
    const camera = form.elements.namedItem("camera").value;
    if (event.phase !== "start" && (!camera || camera === event.camera)) fresh.hidden = false;
  });
}

fromAddress();
load();
