// Cameras page (/cameras): list with live status, add / edit / remove forms, live stream
// test, and the motion zone and mask editor (an SVG over the camera snapshot; corners can
// also be typed as "x,y x,y x,y" fractions). Changes go to /api/v1/cameras, which writes
// the config file and applies them to the running service.
import { api, el } from "/static/api.js";

const $ = (id) => document.getElementById(id);
let cameras = [];
let editing = null; // the camera being edited, or null when adding
let shapes = []; // {kind: "zone" | "mask", name, points: [[x, y], ...], sensitivity}
let active = -1; // the shape that clicks on the picture add corners to

function stateCell(status) {
  if (!status) return el("td", { text: "not running" });
  return el("td", {}, el("span", { class: `state state-${status.state}`, text: status.state }),
    status.last_error ? el("div", { class: "note", text: status.last_error }) : null);
}

async function load() {
  try {
    const data = await api("/api/v1/cameras");
    cameras = data.cameras;
    $("config-path").textContent = `Cameras are saved in ${data.config}.`;
    const rows = cameras.map((cam) =>
      el("tr", {},
        el("th", { scope: "row", text: cam.name }),
        el("td", {}, el("code", { text: cam.source })),
        stateCell(cam.status),
        el("td", { text: cam.demo ? "continuous" : cam.record }),
        el("td", { text: cam.demo ? "" : cam.password_set ? "password set" : "none" }),
        el("td", {}, cam.editable
          ? el("span", { class: "row" },
              el("button", { type: "button", class: "secondary", text: "Edit", onclick: () => openEditor(cam) }),
              el("button", { type: "button", class: "danger", text: "Remove", onclick: () => remove(cam) }))
          : el("span", { class: "note", text: "built in" }))));
    $("camera-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", text: "No camera yet." }))]));
  } catch (failure) {
    $("list-error").textContent = failure.message;
  }
}

async function remove(cam) {
  if (!window.confirm(`Remove ${cam.name}? Its recorded footage stays until retention deletes it.`)) return;
  try {
    await api(`/api/v1/cameras/${encodeURIComponent(cam.name)}`, { method: "DELETE" });
    await load();
  } catch (failure) {
    $("list-error").textContent = failure.message;
  }
}

function openEditor(cam) {
  editing = cam;
  $("editor").hidden = false;
  $("editor-title").textContent = cam ? `Edit ${cam.name}` : "Add a camera";
  $("f-name").value = cam ? cam.name : "";
  $("f-name").readOnly = Boolean(cam);
  $("f-url").value = (cam && cam.main_url) || "";
  $("f-sub").value = (cam && cam.sub_url) || "";
  $("f-onvif").value = cam && cam.onvif_host ? `${cam.onvif_host}:${cam.onvif_port}` : "";
  $("f-user").value = (cam && cam.username) || "";
  $("f-password").value = "";
  $("f-clear-password").checked = false;
  $("f-password-state").textContent = cam && cam.password_set ? "(password set: leave empty to keep it)" : "";
  $("f-transport").value = cam ? cam.transport : "tcp";
  $("f-record").value = cam ? cam.record : "continuous";
  $("f-audio").checked = Boolean(cam && cam.audio);
  $("f-motion").checked = cam ? cam.motion.enabled : true;
  $("f-sensitivity").value = cam ? cam.motion.sensitivity : "medium";
  shapes = cam
    ? [...cam.motion.zones.map((z) => ({ kind: "zone", ...z })), ...cam.motion.masks.map((m) => ({ kind: "mask", ...m }))]
    : [];
  active = shapes.length ? 0 : -1;
  const img = $("snapshot");
  img.hidden = !cam;
  if (cam) img.src = `/api/v1/cameras/${encodeURIComponent(cam.name)}/snapshot.jpg`;
  $("f-result").textContent = "";
  $("f-error").textContent = "";
  renderShapes();
  $("f-name").focus();
}

$("snapshot").addEventListener("error", () => { $("snapshot").hidden = true; });

// --- zones and masks -------------------------------------------------------------------
const format = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");
function parse(text) {
  const points = text.trim().split(/\s+/).filter(Boolean).map((pair) => pair.split(",").map(Number));
  if (points.some((p) => p.length !== 2 || p.some((v) => !Number.isFinite(v)))) return null;
  return points;
}

function renderShapes() {
  const svg = $("zone-svg");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  shapes.forEach((shape, index) => {
    const poly = document.createElementNS(ns, shape.points.length >= 3 ? "polygon" : "polyline");
    poly.setAttribute("points", shape.points.map(([x, y]) => `${x * 1000},${y * 1000}`).join(" "));
    poly.setAttribute("class", `shape shape-${shape.kind}${index === active ? " shape-active" : ""}`);
    svg.append(poly);
  });
  $("shapes").replaceChildren(...shapes.map((shape, index) => {
    const id = `shape-${index}`;
    const points = el("input", { id: `${id}-points`, value: format(shape.points), spellcheck: "false" });
    points.addEventListener("change", () => {
      const parsed = parse(points.value);
      if (parsed === null) {
        $("f-error").textContent = `${shape.kind} ${index + 1}: write corners as x,y pairs separated by spaces`;
        return;
      }
      shape.points = parsed;
      renderShapes();
    });
    const name = el("input", { id: `${id}-name`, value: shape.name || "", maxlength: "64" });
    name.addEventListener("change", () => { shape.name = name.value || null; });
    return el("li", { class: "stack shape-item" },
      el("strong", { text: `${shape.kind === "zone" ? "Zone" : "Mask"} ${index + 1}${index === active ? " (drawing)" : ""}` }),
      el("label", { for: `${id}-name`, text: shape.kind === "zone" ? "Name (required)" : "Name (optional)" }), name,
      el("label", { for: `${id}-points`, text: "Corners (x,y x,y ...; 0 to 1)" }), points,
      el("span", { class: "row" },
        el("button", { type: "button", class: "secondary", text: "Draw on the picture", onclick: () => { active = index; renderShapes(); } }),
        el("button", { type: "button", class: "secondary", text: "Undo corner", onclick: () => { shape.points.pop(); renderShapes(); } }),
        el("button", { type: "button", class: "danger", text: "Delete", onclick: () => { shapes.splice(index, 1); active = Math.min(active, shapes.length - 1); renderShapes(); } })));
  }));
}

$("zone-svg").addEventListener("click", (event) => {
  if (active < 0) return;
  const box = event.currentTarget.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
  shapes[active].points.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
  renderShapes();
});
for (const kind of ["zone", "mask"]) {
  $(`add-${kind}`).addEventListener("click", () => {
    shapes.push({ kind, name: kind === "zone" ? `zone-${shapes.length + 1}` : null, points: [] });
    active = shapes.length - 1;
    renderShapes();
    document.getElementById(`shape-${active}-points`).focus();
  });
}

// --- saving ----------------------------------------------------------------------------
function body() {
  const onvif = $("f-onvif").value.trim();
  const url = $("f-url").value.trim();
  const [host, port] = onvif.includes(":") && !onvif.startsWith("[") ? onvif.split(":") : [onvif, "80"];
  return {
    name: $("f-name").value.trim(),
    main_url: url || null,
    sub_url: url ? $("f-sub").value.trim() || null : null,
    onvif_host: url ? null : host || null,
    onvif_port: Number(port) || 80,
    username: $("f-user").value || null,
    password: $("f-password").value || null,
    clear_password: $("f-clear-password").checked,
    transport: $("f-transport").value,
    record: $("f-record").value,
    audio: $("f-audio").checked,
    motion: {
      enabled: $("f-motion").checked,
      sensitivity: $("f-sensitivity").value,
      zones: shapes.filter((s) => s.kind === "zone").map((s) => ({ name: s.name || "zone", points: s.points, ...(s.sensitivity ? { sensitivity: s.sensitivity } : {}) })),
      masks: shapes.filter((s) => s.kind === "mask").map((s) => ({ name: s.name || null, points: s.points })),
    },
  };
}

$("camera-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("f-error").textContent = "";
  try {
    const path = editing ? `/api/v1/cameras/${encodeURIComponent(editing.name)}` : "/api/v1/cameras";
    await api(path, { method: editing ? "PUT" : "POST", body: body() });
    $("f-password").value = "";
    $("editor").hidden = true;
    await load();
  } catch (failure) {
    const field = failure.body && failure.body.field ? `${failure.body.field}: ` : "";
    $("f-error").textContent = field + failure.message;
  }
});

$("f-test").addEventListener("click", async () => {
  const b = body();
  $("f-error").textContent = "";
  $("f-result").textContent = "Connecting (up to ~8 s)…";
  try {
    const request = b.main_url
      ? { url: b.main_url, username: b.username, password: b.password, transport: b.transport }
      : { camera: editing ? editing.name : null };
    const result = await api("/api/v1/cameras/test", { method: "POST", body: request });
    $("f-result").textContent = `The camera sends ${result.summary}.`;
  } catch (failure) {
    $("f-result").textContent = "";
    $("f-error").textContent = failure.message;
  }
});

$("add-camera").addEventListener("click", () => openEditor(null));
$("f-cancel").addEventListener("click", () => { $("editor").hidden = true; });

load();
setInterval(load, 10000);
