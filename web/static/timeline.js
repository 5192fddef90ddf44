// The timeline page: one camera's day as a bar (recorded spans, offline gaps, event
// marks); click, drag or use the arrow keys to pick a moment, and the footage plays from
// there in a <video> fed by the clip route, chunk after chunk (docs/design/dashboard-footage.md).
//
// Data: GET /api/v1/cameras/{camera}/timeline?day=&tz= (no unlock needed; event details
// only when unlocked). Clips need the unlock: ensureUnlocked() runs before a <video> src.
//
// Selecting a clip to share (the owner; docs/design/share-flow.md): ?request=<id> (from
// the request page; GET /api/v1/requests/{id} gives the requested window, drawn as a
// band) or "Share a clip…" (a personal share, ?share=1). A drag across the bar selects
// (a click still plays), the start and end inputs do the same from the keyboard; one
// camera, nothing selected for you, a warning when the selection leaves the requested
// window. "Continue" opens /share?camera=&start=&end=&request=.
import { api, el, ensureUnlocked, session } from "/static/api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000; // viewBox units across the visible window
// Seconds per clip. The box builds a clip whole before its first byte (2 to 7 ms per
// second of 4 Mbit/s footage on a small x86 box, more on a Pi), so the first clip after a
// click is short (it starts fast), the following ones a minute (they fit the box's clip
// cache); each next one is asked for AHEAD seconds before the end of the one playing, so
// it is built by the time it is needed (docs/design/bench-dashboard.md).
const FIRST_CHUNK = 20;
const CHUNK = 60;
const AHEAD = 15;
const PRE_ROLL = 5;

const form = document.getElementById("timeline-form");
const cameraField = document.getElementById("timeline-camera");
const dayField = document.getElementById("timeline-day");
const zoomField = document.getElementById("timeline-zoom");
const bar = document.getElementById("timeline");
const track = document.getElementById("timeline-track");
const scale = document.getElementById("timeline-scale");
const statusLine = document.getElementById("timeline-status");
const player = document.getElementById("player");
const video = document.getElementById("timeline-video");
const playerNote = document.getElementById("player-note");
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const selectPanel = document.getElementById("select"); // null: this account cannot share
const selectOpen = document.getElementById("select-open");
const selectStart = document.getElementById("select-start");
const selectEnd = document.getElementById("select-end");
const selectSummary = document.getElementById("select-summary");
const selectWarning = document.getElementById("select-warning");
const selectContinue = document.getElementById("select-continue");
const DRAG_MIN = 0.01; // a drag shorter than this share of the bar is a click (it plays)
const MAX_CLIP = 6 * 3600e3; // what one consent may cover

let selecting = false; // the selection panel is open
let forRequest = null; // the request being answered (GET /api/v1/requests/{id}), or null
let selection = null; // {camera, start, end} in ms, whole seconds

let day = null; // the last timeline answer
let cursor = null; // the picked moment (ms since epoch)
// The chunk playing, to continue after it: {camera, start (the time at the video's 0),
// end (asked for), ahead (next one asked for), nextStart (where that one's video begins)}.
let playing = null;
let generation = 0; // a newer load makes an older one drop its answer

function iso(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function clock(ms, seconds = false) {
  const options = { hour: "2-digit", minute: "2-digit" };
  if (seconds) options.second = "2-digit";
  return new Date(ms).toLocaleTimeString([], options);
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function say(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", error);
}

// The visible window: the whole day, or one hour of it.
function view() {
  const start = Date.parse(day.start);
  const end = Date.parse(day.end);
  if (zoomField.value === "") return [start, end];
  const from = start + Number(zoomField.value) * 3600e3;
  return [from, Math.min(from + 3600e3, end)];
}

function x(ms) {
  const [from, to] = view();
  return ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * WIDTH;
}

function rect(cls, from, to, testid, title) {
  const node = document.createElementNS(SVG, "rect");
  node.setAttribute("class", cls);
  node.setAttribute("x", String(x(from)));
  node.setAttribute("width", String(Math.max(x(to) - x(from), 1)));
  node.setAttribute("y", cls === "tl-event" ? "0" : "8");
  node.setAttribute("height", cls === "tl-event" ? "40" : "24");
  if (testid) node.setAttribute("data-testid", testid);
  const label = document.createElementNS(SVG, "title");
  label.textContent = title;
  node.append(label);
  return node;
}

function draw() {
  if (!day) return;
  const [from, to] = view();
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} 40`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "tl-svg");
  svg.setAttribute("aria-hidden", "true");
  for (const span of day.spans) {
    const a = Date.parse(span.start);
    const b = Date.parse(span.end);
    if (b <= from || a >= to) continue;
    svg.append(rect("tl-span", a, b, "timeline-span", `recorded ${clock(a)}–${clock(b)}`));
  }
  for (const gap of day.gaps) {
    const a = Date.parse(gap.start);
    const b = gap.end ? Date.parse(gap.end) : Math.min(Date.now(), to);
    if (b <= from || a >= to) continue;
    svg.append(rect("tl-gap", a, b, "timeline-gap", `camera offline (${gap.reason}) ${clock(a)}–${clock(b)}`));
  }
  for (const event of day.events) {
    const a = event.at ? Date.parse(event.at) : Date.parse(event.hour);
    if (a < from || a >= to) continue;
    const b = event.at ? a : a + 3600e3; // sealed: only the hour is known
    const title = event.kind ? `${event.kind} at ${clock(a, true)}` : `an event in the hour from ${clock(a)}`;
    const mark = rect(event.at ? "tl-event" : "tl-event sealed", a, b, "timeline-event-mark", title);
    svg.append(mark);
  }
  if (selecting && forRequest && forRequest.window_start && forRequest.window_end) {
    const a = Date.parse(forRequest.window_start);
    const b = Date.parse(forRequest.window_end);
    if (b > from && a < to) {
      const band = rect("tl-window", a, b, "timeline-window", `requested ${clock(a)}–${clock(b)}`);
      band.setAttribute("y", "0");
      band.setAttribute("height", "40");
      svg.prepend(band);
    }
  }
  if (selecting && selection && selection.camera === day.camera) {
    const { start: a, end: b } = selection;
    if (b > from && a < to) {
      const marked = rect("tl-selection", a, b, "timeline-selection", `selected ${clock(a, true)}–${clock(b, true)}`);
      marked.setAttribute("y", "2");
      marked.setAttribute("height", "36");
      svg.append(marked);
    }
  }
  if (cursor !== null && cursor >= from && cursor < to) {
    const line = rect("tl-cursor", cursor, cursor, null, clock(cursor, true));
    line.setAttribute("y", "0");
    line.setAttribute("height", "40");
    svg.append(line);
  }
  track.replaceChildren(svg);
  // Scale: every 3 hours for a day, every 10 minutes for an hour.
  const step = zoomField.value === "" ? 3 * 3600e3 : 600e3;
  scale.replaceChildren();
  for (let t = from; t <= to; t += step) {
    scale.append(el("span", { text: clock(t) }));
  }
  const minutes = cursor === null ? 0 : Math.round((cursor - from) / 60e3);
  bar.setAttribute("aria-valuemax", String(Math.round((to - from) / 60e3)));
  bar.setAttribute("aria-valuenow", String(Math.max(0, minutes)));
  bar.setAttribute("aria-valuetext", cursor === null ? "no moment picked" : clock(cursor, true));
}

function eventList() {
  const old = document.getElementById("timeline-events");
  const box = el("ul", { id: "timeline-events", class: "tl-events", "data-testid": "timeline-events" });
  for (const event of day.events) {
    if (!event.at) continue;
    const at = Date.parse(event.at);
    box.append(
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "secondary",
          "data-testid": "timeline-event",
          text: `${clock(at, true)} ${event.kind.replace("_", " ")}`,
          onclick: () => pick(at - PRE_ROLL * 1000, true),
        }),
      ),
    );
  }
  if (old) old.replaceWith(box);
  else bar.parentNode.insertBefore(box, scale.nextSibling);
}

async function load() {
  const camera = cameraField.value;
  if (!camera) return;
  if (!dayField.value) dayField.value = today();
  const params = new URLSearchParams({ day: dayField.value, tz: zone });
  const query = new URLSearchParams({ camera, day: dayField.value });
  if (selecting && forRequest) query.set("request", forRequest.id);
  else if (selecting) query.set("share", "1");
  window.history.replaceState(null, "", `?${query}`);
  if (selection && selection.camera !== camera) setSelection(null); // one camera per clip
  say("Loading…");
  const mine = ++generation;
  let answer;
  try {
    answer = await api(`/api/v1/cameras/${encodeURIComponent(camera)}/timeline?${params}`);
  } catch (error) {
    if (mine === generation) say(error.message, true);
    return;
  }
  if (mine !== generation) return;
  day = answer;
  cursor = null;
  draw();
  eventList();
  const recorded = day.spans.reduce((sum, s) => sum + (Date.parse(s.end) - Date.parse(s.start)), 0);
  let text = day.spans.length
    ? `${recorded < 60e3 ? `${Math.round(recorded / 1e3)} s` : `${Math.round(recorded / 60e3)} min`} recorded in ${day.spans.length} span${day.spans.length === 1 ? "" : "s"}`
    : "Nothing recorded this day.";
  if (day.gaps.length) text += `, offline ${day.gaps.length} time${day.gaps.length === 1 ? "" : "s"}`;
  if (day.events.length) text += `, ${day.events.length} event${day.events.length === 1 ? "" : "s"}`;
  const who = await session();
  const owner = who && who.role === "owner";
  if (day.events_sealed && day.events.length) {
    text += owner ? " (unlock to see event times)" : " (event times are sealed)";
  }
  say(text + ".");
  if (day.events_sealed && day.events.length && owner) {
    statusLine.append(
      " ",
      el("button", {
        type: "button",
        class: "link",
        text: "Unlock",
        onclick: () => ensureUnlocked(true),
      }),
    );
  }
}

// The moment under a pointer position.
function at(clientX) {
  const box = bar.getBoundingClientRect();
  const [from, to] = view();
  const f = Math.min(Math.max((clientX - box.left) / box.width, 0), 1);
  return from + f * (to - from);
}

// The footage from ``ms`` on: the span holding it, or the next one.
function footageFrom(ms) {
  for (const span of day.spans) {
    const a = Date.parse(span.start);
    const b = Date.parse(span.end);
    if (ms < b) return [Math.max(ms, a), b];
  }
  return null;
}

async function pick(ms, andPlay) {
  cursor = ms;
  draw();
  if (andPlay) await play(ms);
}

// The chunk of ``seconds`` to play from ``ms``: [start, end] within one span, or null.
function chunkFrom(ms, seconds) {
  const found = footageFrom(ms);
  if (!found) return null;
  return [found[0], Math.min(found[0] + seconds * 1000, found[1])];
}

function clipUrl(camera, [start, end]) {
  return `/api/v1/cameras/${encodeURIComponent(camera)}/clip?start=${iso(start)}&end=${iso(end)}`;
}

// Build the next chunk now (one byte asked for): the box keeps it for a minute. Its
// answer says where its video begins: at the keyframe before the chunk's start, up to a
// GOP that this chunk already showed, which the switch then skips.
function ahead() {
  const now = playing;
  const next = chunkFrom(now.end, CHUNK);
  if (!next) return;
  fetch(clipUrl(now.camera, next), { headers: { Range: "bytes=0-0" } })
    .then((r) => {
      const begins = Date.parse(r.headers.get("Porchlight-Clip-Start") || "");
      if (r.ok && !Number.isNaN(begins)) now.nextStart = begins;
    })
    .catch(() => {});
}

// Play from ``ms``: a picked moment (``first``: a short first chunk) or the end of the
// chunk that just ended.
async function play(ms, first = true) {
  const found = chunkFrom(ms, first ? FIRST_CHUNK : CHUNK);
  player.hidden = false;
  if (!found) {
    playerNote.textContent = `Nothing recorded after ${clock(ms, true)} this day.`;
    return;
  }
  const [start, end] = found;
  if (!(await ensureUnlocked())) {
    playerNote.textContent = "Footage is locked.";
    return;
  }
  const camera = day.camera;
  const begins = !first && playing && playing.nextStart <= start ? playing.nextStart : null;
  playing = { camera, start: begins ?? start, end, ahead: false };
  if (begins !== null && start > begins) {
    const mine = playing;
    const skip = (start - begins) / 1000;
    video.addEventListener(
      "loadedmetadata",
      () => {
        if (playing === mine) video.currentTime = skip;
      },
      { once: true },
    );
  }
  const skipped = start > ms + 1000 ? ` (nothing recorded at ${clock(ms, true)})` : "";
  playerNote.textContent = `${camera} from ${clock(start, true)}${skipped}`;
  video.src = clipUrl(camera, found);
  video.play().catch(() => {});
}

// Follow the cursor while playing, and go on with the next chunk at the end of one.
video.addEventListener("timeupdate", () => {
  if (!playing) return;
  cursor = playing.start + video.currentTime * 1000;
  draw();
  if (!playing.ahead && video.duration - video.currentTime < AHEAD) {
    playing.ahead = true;
    ahead();
  }
});
video.addEventListener("ended", () => {
  if (playing && day && day.camera === playing.camera) play(playing.end, false);
});
video.addEventListener("error", async () => {
  if (!video.src) return;
  try {
    await api(video.src, { headers: { Range: "bytes=0-0" }, raw: true });
    playerNote.textContent = "The clip could not be played.";
  } catch (error) {
    playerNote.textContent = error.message;
  }
});
video.addEventListener("contextmenu", (event) => event.preventDefault());

// Click or drag on the bar: the cursor follows; releasing plays from there. While a clip
// is being selected, a drag selects instead (a click still plays).
let dragging = false;
let anchor = null; // [clientX, moment] where a drag began
function dragged(event) {
  const box = bar.getBoundingClientRect();
  return selecting && anchor !== null && Math.abs(event.clientX - anchor[0]) > DRAG_MIN * box.width;
}
bar.addEventListener("pointerdown", (event) => {
  if (!day) return;
  dragging = true;
  bar.setPointerCapture(event.pointerId);
  anchor = [event.clientX, at(event.clientX)];
  pick(at(event.clientX), false);
});
bar.addEventListener("pointermove", (event) => {
  if (!dragging) return;
  if (dragged(event)) {
    const here = at(event.clientX);
    setSelection({ camera: day.camera, start: Math.min(anchor[1], here), end: Math.max(anchor[1], here) });
  } else pick(at(event.clientX), false);
});
bar.addEventListener("pointerup", (event) => {
  if (!dragging) return;
  dragging = false;
  const selected = dragged(event);
  anchor = null;
  if (!selected) pick(at(event.clientX), true);
});
bar.addEventListener("keydown", (event) => {
  if (!day) return;
  const [from, to] = view();
  const step = zoomField.value === "" ? 5 * 60e3 : 30e3;
  let next = cursor === null ? from : cursor;
  if (event.key === "ArrowRight") next = Math.min(next + step, to - 1);
  else if (event.key === "ArrowLeft") next = Math.max(next - step, from);
  else if (event.key === "Home") next = from;
  else if (event.key === "End") next = to - step;
  else if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    pick(next, true);
    return;
  } else return;
  event.preventDefault();
  pick(next, false);
});

// -- selecting a clip to share ---------------------------------------------------------
const second = (ms) => Math.round(ms / 1000) * 1000;

function inputValue(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function dateTime(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

// The selection changed (a drag, the inputs, a clear): inputs, summary, warning, drawing.
function setSelection(next, fromInputs = false) {
  selection = next && { camera: next.camera, start: second(next.start), end: second(next.end) };
  if (!selectPanel) return;
  if (!fromInputs) {
    selectStart.value = selection ? inputValue(selection.start) : "";
    selectEnd.value = selection ? inputValue(selection.end) : "";
  }
  const problems = [];
  let ok = false;
  if (!selection) {
    selectSummary.textContent = "Nothing selected yet.";
  } else if (selection.end <= selection.start) {
    selectSummary.textContent = "The clip must end after it starts.";
  } else if (selection.end - selection.start > MAX_CLIP) {
    selectSummary.textContent = "A clip is at most 6 hours long.";
  } else {
    const secs = Math.round((selection.end - selection.start) / 1000);
    const length = secs < 60 ? `${secs} s` : `${Math.floor(secs / 60)} min ${secs % 60} s`;
    selectSummary.textContent = `Selected: ${selection.camera}, ${dateTime(selection.start)} to ${clock(selection.end, true)} (${length}).`;
    ok = true;
    if (forRequest && forRequest.window_start && forRequest.window_end) {
      const a = Date.parse(forRequest.window_start);
      const b = Date.parse(forRequest.window_end);
      if (selection.start < a || selection.end > b) {
        problems.push(`The selection goes outside the requested window (${dateTime(a)} to ${dateTime(b)}). You may still share it, but the request did not ask for that part.`);
      }
    }
    if (forRequest && forRequest.cameras.length && !forRequest.cameras.includes(selection.camera)) {
      problems.push(`The request asked for ${forRequest.cameras.join(", ")}, not ${selection.camera}.`);
    }
  }
  selectWarning.textContent = problems.join(" ");
  selectWarning.hidden = problems.length === 0;
  selectContinue.disabled = !ok;
  draw();
}

function fromInputs() {
  const a = Date.parse(selectStart.value); // "YYYY-MM-DDTHH:MM:SS": local time
  const b = Date.parse(selectEnd.value);
  if (Number.isNaN(a) || Number.isNaN(b)) {
    setSelection(null, true);
    return;
  }
  // The camera shown (or being loaded: the inputs may be typed in before it answers).
  setSelection({ camera: day ? day.camera : cameraField.value, start: a, end: b }, true);
}

async function openSelection(requestId) {
  if (!selectPanel) return;
  selecting = true;
  selectPanel.hidden = false;
  if (selectOpen) selectOpen.hidden = true;
  for (const node of document.querySelectorAll(".select-only")) node.hidden = false;
  bar.setAttribute("aria-label", "Time of day: drag to select a clip, click or use the arrow keys to play from a moment");
  const forLine = document.getElementById("select-for");
  forLine.textContent = "A personal share (no request): to a neighbour, an insurer…";
  if (requestId) {
    try {
      forRequest = (await api(`/api/v1/requests/${encodeURIComponent(requestId)}`)).request;
    } catch (error) {
      forLine.textContent = error.message;
      forLine.classList.add("error");
    }
  }
  if (forRequest) {
    const r = forRequest;
    const asked = r.window_start && r.window_end
      ? `footage asked for: ${dateTime(Date.parse(r.window_start))} to ${dateTime(Date.parse(r.window_end))}`
      : "no time window stated";
    const cams = r.cameras.length ? `, camera${r.cameras.length === 1 ? "" : "s"} ${r.cameras.join(", ")}` : "";
    forLine.textContent = `For request ${r.id}: ${r.organisation}${r.reference ? ` (${r.reference})` : ""}; ${asked}${cams}.`;
  }
  setSelection(selection);
  load();
}

function closeSelection() {
  selecting = false;
  forRequest = null;
  selectPanel.hidden = true;
  if (selectOpen) selectOpen.hidden = false;
  for (const node of document.querySelectorAll(".select-only")) node.hidden = true;
  setSelection(null);
  load();
}

if (selectPanel) {
  selectOpen.addEventListener("click", () => openSelection(null));
  selectStart.addEventListener("change", fromInputs);
  selectEnd.addEventListener("change", fromInputs);
  document.getElementById("select-clear").addEventListener("click", () => setSelection(null));
  document.getElementById("select-close").addEventListener("click", closeSelection);
  selectContinue.addEventListener("click", () => {
    if (!selection) return;
    const query = new URLSearchParams({
      camera: selection.camera,
      start: iso(selection.start),
      end: iso(selection.end),
    });
    if (forRequest) query.set("request", forRequest.id);
    window.location.assign(`/share?${query}`);
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
zoomField.addEventListener("change", draw);
cameraField.addEventListener("change", load);
dayField.addEventListener("change", load);
document.addEventListener("porchlight:unlocked", load);

const params = new URLSearchParams(window.location.search);
if (params.get("camera")) cameraField.value = params.get("camera");
dayField.value = params.get("day") || today();
if (selectPanel && (params.get("request") || params.get("share"))) {
  openSelection(params.get("request"));
} else {
  load();
}
