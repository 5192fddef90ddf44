// Live view: one WebRTC (WHEP) session per camera tile, snapshots when that fails.
//
// For each tile: an RTCPeerConnection with no ICE servers (the box is on the LAN; nothing
// is contacted elsewhere), one recvonly video transceiver, the offer POSTed to
// /api/v1/cameras/<camera>/whep as application/sdp, the answer applied. If that fails, or
// no frame arrives within FIRST_FRAME_MS, the tile shows the camera's snapshot refreshed
// every SNAPSHOT_MS, with the reason. Leaving the page ends the sessions (DELETE).
// Camera events (SSE /api/v1/events/stream, "camera-event") show a badge on the tile.
import { api } from "/static/api.js";

const FIRST_FRAME_MS = 5000;
const SNAPSHOT_MS = 2000;
const BADGE_MS = 30000;
const STALL_MS = 8000; // a playing video with no new frame this long: fall back
const BADGE_TEXT = { doorbell: "Doorbell", motion: "Motion", camera_motion: "Motion" };

const tiles = new Map(); // camera -> tile state

function setState(tile, text) {
  tile.state.textContent = text;
}

function showSnapshots(tile, reason) {
  if (tile.fallback) return;
  tile.fallback = true;
  stopLive(tile);
  tile.video.hidden = true;
  tile.note.hidden = false;
  tile.note.textContent = `live video unavailable: ${reason}; showing snapshots`;
  setState(tile, "snapshots");
  // A camera with no picture either answers an error: no broken-image icon then.
  tile.img.addEventListener("load", () => (tile.img.hidden = false));
  tile.img.addEventListener("error", () => (tile.img.hidden = true));
  const refresh = () => {
    tile.img.src = `/api/v1/cameras/${encodeURIComponent(tile.camera)}/snapshot.jpg?t=${Date.now()}`;
  };
  refresh();
  tile.timer = setInterval(refresh, SNAPSHOT_MS);
}

function stopLive(tile) {
  if (tile.pc) {
    tile.pc.close();
    tile.pc = null;
  }
  if (tile.resource) {
    // Best effort when the page closes; the box also ends a session whose connection
    // fails (ICE consent stops within ~30 s).
    const who = tile.resource;
    tile.resource = null;
    api(who, { method: "DELETE", raw: true }).catch(() => {});
  }
}

async function startLive(tile) {
  if (!("RTCPeerConnection" in window)) {
    showSnapshots(tile, "this browser has no WebRTC");
    return;
  }
  const pc = new RTCPeerConnection({ iceServers: [] });
  tile.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (event) => {
    tile.video.srcObject = event.streams[0] || new MediaStream([event.track]);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed") showSnapshots(tile, "the connection failed");
    else if (pc.connectionState === "connected") setState(tile, "connected");
  });
  const firstFrame = setTimeout(() => {
    if (!tile.playing) showSnapshots(tile, "no video arrived");
  }, FIRST_FRAME_MS);
  const playing = () => {
    tile.playing = true;
    clearTimeout(firstFrame);
    tile.root.dataset.playing = "true";
    // ms from the start of the page load to the first frame shown (nvr bench live reads it)
    tile.root.dataset.firstFrameMs = String(Math.round(performance.now()));
    setState(tile, "live");
    watchForStall(tile);
  };
  if ("requestVideoFrameCallback" in tile.video) tile.video.requestVideoFrameCallback(playing);
  else tile.video.addEventListener("playing", playing, { once: true });
  try {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await gathered(pc);
    const path = `/api/v1/cameras/${encodeURIComponent(tile.camera)}/whep`;
    const response = await api(path, {
      method: "POST",
      body: pc.localDescription.sdp,
      headers: { "Content-Type": "application/sdp" },
      raw: true,
    });
    tile.resource = response.headers.get("Location");
    const answer = await response.text();
    if (!tile.pc) return; // gave up meanwhile
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    setState(tile, "connecting video…");
  } catch (error) {
    clearTimeout(firstFrame);
    showSnapshots(tile, error.message || String(error));
  }
}

// A camera that goes away mid-view leaves a frozen picture: say so and show snapshots.
// Frames are counted with requestVideoFrameCallback (currentTime of a MediaStream keeps
// running without frames); hidden tabs are skipped: browsers stop painting their video.
function watchForStall(tile) {
  if (!("requestVideoFrameCallback" in tile.video)) return;
  let lastFrame = performance.now();
  const onFrame = () => {
    lastFrame = performance.now();
    if (!tile.fallback) tile.video.requestVideoFrameCallback(onFrame);
  };
  tile.video.requestVideoFrameCallback(onFrame);
  tile.stallTimer = setInterval(() => {
    const now = performance.now();
    if (tile.fallback) clearInterval(tile.stallTimer);
    else if (document.hidden) lastFrame = now;
    else if (now - lastFrame > STALL_MS) {
      clearInterval(tile.stallTimer);
      showSnapshots(tile, "the video stopped");
    }
  }, 1000);
}

// Non-trickle: send the offer once the browser has its (host) candidates, at most 2 s.
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000);
  });
}

function badge(camera, kind, phase) {
  const tile = tiles.get(camera);
  if (!tile || phase === "end") return;
  tile.badge.textContent = BADGE_TEXT[kind] || kind;
  tile.badge.className = `live-badge ${kind}`;
  tile.badge.hidden = false;
  clearTimeout(tile.badgeTimer);
  tile.badgeTimer = setTimeout(() => {
    tile.badge.hidden = true;
  }, BADGE_MS);
}

function listen() {
  if (!("EventSource" in window)) return;
  const source = new EventSource("/api/v1/events/stream");
  source.addEventListener("camera-event", (event) => {
    try {
      const data = JSON.parse(event.data);
      badge(data.camera, data.kind, data.phase);
    } catch {
      // a malformed message: ignore it
    }
  });
  // The stream may not exist on this box (404) or may drop: no badges then, no noise.
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) source.close();
  });
}

for (const root of document.querySelectorAll(".live-tile")) {
  const tile = {
    root,
    camera: root.dataset.camera,
    video: root.querySelector(".live-video"),
    img: root.querySelector(".live-snapshot"),
    note: root.querySelector(".live-fallback"),
    badge: root.querySelector(".live-badge"),
    state: root.querySelector(".live-state"),
    pc: null,
    resource: null,
    playing: false,
    fallback: false,
  };
  tiles.set(tile.camera, tile);
  startLive(tile);
}
if (tiles.size) listen();
window.addEventListener("pagehide", () => {
  for (const tile of tiles.values()) stopLive(tile);
});
