"""``nvr bench dashboard``: what the owner dashboard costs and how soon footage plays, in
a real browser.

Runs ``nvr demo`` (the real service, HTTPS on a free port of 127.0.0.1, a fresh data
folder with owner keys made from a passphrase file, ``segment_seconds`` segments) and
Debian's Chromium (playwright, ``nvr.bench.chromium`` flags without the WebRTC ones), signed in as
the owner (so footage is unlocked). Nothing here uses WebRTC: the live video's own figures
are ``nvr.bench.live`` (which needs a network namespace, so root); the CLI runs both.

1. **Pages.** Status (``/``), Live, Events and Timeline, each loaded ``repeat`` times in a
   new tab (round robin, after one load not counted): Navigation Timing's
   ``domContentLoadedEventEnd`` (module scripts have run: the page is interactive) and
   ``loadEventEnd``, in ms from the start of navigation; and the page's weight from
   Resource Timing: bytes of HTML, JS and CSS (decoded, and transferred with headers), the
   number of API calls made by the time of ``load``, and requests to any other origin
   (should be none). On the Live page the browser's ``RTCPeerConnection`` is removed (an
   init script), so the page shows its snapshot fallback instead of starting WebRTC
   outside a namespace; its weight is the same.
2. **Footage.** Once ``record_seconds`` of footage are in closed segments, ``repeat``
   trials on the Timeline page, each in a new tab: zoom to the hour, click on the bar (a
   real mouse click through CDP) at a moment not asked for before (**cold**: the clip is
   built), then click the same spot again (**warm**: the service's ``ClipCache`` answers),
   then seek the playing video to the middle of its clip (**seek**). Each is timed in the
   page (``event.timeStamp`` / ``performance.now()``): click -> ``<video>.src`` set (the
   page's own work: unlock check), -> ``loadeddata``, -> the first frame presented
   (``requestVideoFrameCallback``); seek: ``currentTime`` set -> ``seeked`` -> the next
   frame. When the clip is a whole first chunk (``TIMELINE_FIRST_CHUNK_S``) and more
   footage follows, the video is then moved to 2 s before its end: ``ended`` -> the next
   chunk's first frame (the page asks for the next chunk ahead of time). The clip
   request's Resource Timing gives the server's share (request sent -> first byte).
   Median and range.
3. **Server side.** The clip route timed with httpx on its own session (its cache entries
   are its own: cold again): a clip of ``server_clip_seconds`` at the start of the footage
   ``repeat`` times cold (each a different start second) and warm, plus one clip of all the
   footage, giving time to the response headers (the clip is built whole before the first
   byte, docs/design/playback.md), bytes and footage seconds. The demo's footage is about
   100 kbit/s: what a real camera's bit rate and the page's 10-minute chunks cost is in
   docs/performance.md ("Dashboard").

Targets (issue 6): playback time to first frame <= 500 ms. Reported, never asserted. The
data folder is a fresh temporary one inside ``work_dir``, removed at the end; the service
is stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nvr.bench.chromium import AUTOPLAY, CHROMIUM, FLAGS
from nvr.bench.live import CAMERA, OWNER, LiveResult

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import BrowserContext, Page, Request

PAGES = (("Status", "/"), ("Live", "/live"), ("Events", "/events"), ("Timeline", "/timeline"))
PAGE_FLAGS = [*FLAGS, AUTOPLAY]
FIRST_FRAME_TARGET_MS = 500
DEFAULT_REPEAT = 5
DEFAULT_RECORD_SECONDS = 60.0
DEFAULT_SEGMENT_SECONDS = 10
SERVER_CLIP_SECONDS = 20
TRIAL_SPACING_S = 8  # seconds between the cold trials' moments (> a pixel of the hour zoom)
STEP_TIMEOUT_MS = 30_000
TIMELINE_FIRST_CHUNK_S = 20  # the Timeline's first clip after a click (web/static/timeline.js)
DEMO_VIDEO = "960x540 H.264, 10 fps, a keyframe every 2 s (the demo doorbell)"

NO_WEBRTC = """
delete window.RTCPeerConnection;
delete window.webkitRTCPeerConnection;
"""
# Timestamps of one playback action, on performance.now()'s clock. Media events do not
# bubble, so they are caught in the capture phase on the document.
PROBE = """
(() => {
  const b = { reset() { for (const k of Object.keys(b)) if (k !== "reset") delete b[k]; } };
  window.__bench = b;
  const src = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, "src");
  Object.defineProperty(HTMLMediaElement.prototype, "src", {
    configurable: true,
    get() { return src.get.call(this); },
    set(value) {
      if (b.src === undefined) { b.src = performance.now(); b.url = value; }
      src.set.call(this, value);
    },
  });
  const once = (key, value) => { if (b[key] === undefined) b[key] = value; };
  document.addEventListener("pointerup", (e) => once("click", e.timeStamp), true);
  document.addEventListener("loadeddata", (e) => {
    if (b.loadeddata !== undefined) return;
    b.loadeddata = e.timeStamp;
    e.target.requestVideoFrameCallback((now, meta) => {
      once("frame", now);
      once("mediaTime", meta.mediaTime);
    });
  }, true);
  document.addEventListener("seeked", (e) => {
    if (b.seek === undefined || b.seeked !== undefined) return;
    b.seeked = e.timeStamp;
    e.target.requestVideoFrameCallback((now) => once("seekFrame", now));
  }, true);
  document.addEventListener("ended", (e) => once("ended", e.timeStamp), true);
  document.addEventListener("error", (e) => {
    if (e.target instanceof HTMLMediaElement) once("error", String(e.target.error?.message));
  }, true);
})();
"""
PAGE_FIGURES = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const kinds = { js: [0, 0], css: [0, 0], other: [0, 0] };
  let api = 0;
  for (const r of performance.getEntriesByType("resource")) {
    const path = new URL(r.name).pathname;
    if (path.startsWith("/api/")) { api += 1; continue; }
    const kind = path.endsWith(".js") ? "js" : path.endsWith(".css") ? "css" : "other";
    kinds[kind][0] += r.decodedBodySize;
    kinds[kind][1] += r.transferSize;
  }
  return {
    dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    html: nav.decodedBodySize, html_transfer: nav.transferSize,
    js: kinds.js[0], js_transfer: kinds.js[1], css: kinds.css[0], css_transfer: kinds.css[1],
    other: kinds.other[0], other_transfer: kinds.other[1], api,
  };
}
"""
# Resource Timing of the requests for one URL: [request sent, first byte] each, in order.
CLIP_TIMING = """
(url) => performance.getEntriesByType("resource")
  .filter((r) => r.name === url)
  .map((r) => [r.requestStart, r.responseStart])
"""


@dataclass(frozen=True)
class Spread:
    """Median and range of one figure over the runs, in ms (or bytes)."""

    median: float
    low: float
    high: float
    runs: list[float]


def spread(values: list[float]) -> Spread:
    rounded = [round(v, 1) for v in values]
    return Spread(round(statistics.median(values), 1), min(rounded), max(rounded), rounded)


@dataclass(frozen=True)
class PageCost:
    name: str
    path: str
    html_bytes: int
    js_bytes: int
    css_bytes: int
    total_bytes: int  # HTML + JS + CSS, decoded
    transferred_bytes: int  # the same, as sent (headers included; no compression, no cache)
    other_bytes: int  # icons, images
    api_calls: int  # by the time of the load event
    offsite_requests: int
    dom_content_loaded_ms: Spread
    load_ms: Spread


@dataclass(frozen=True)
class PlaybackTrial:
    clip_seconds: float  # the footage in the clip the page asked for
    clip_bytes: int
    cold_click_to_src_ms: float
    cold_click_to_loadeddata_ms: float
    cold_click_to_frame_ms: float
    cold_server_ms: float | None  # request sent -> first byte (Resource Timing)
    warm_click_to_frame_ms: float
    seek_to_seeked_ms: float
    seek_to_frame_ms: float
    chunk_switch_ms: float | None  # end of the chunk -> the next chunk's first frame
    # where in its clip the next chunk's first frame was (> 0: the GOP shown before skipped)
    chunk_switch_media_s: float | None


@dataclass(frozen=True)
class ServerClip:
    seconds: float  # footage in the clip (Porchlight-Clip-Start/-End)
    bytes: int
    cold_ms: Spread  # request -> response headers (the whole clip is built by then)
    warm_ms: Spread
    download_ms: float  # headers -> last byte, warm, median


@dataclass(frozen=True)
class DashboardResult:
    camera: str
    repeat: int
    segment_seconds: int
    footage_seconds: float  # recorded before the playback trials began
    video: str  # what the demo doorbell records
    pages: list[PageCost]
    trials: list[PlaybackTrial]
    cold_first_frame_ms: Spread
    warm_first_frame_ms: Spread
    seek_first_frame_ms: Spread
    chunk_switch_ms: Spread | None  # None: no trial's clip had a next chunk
    cold_server_ms: Spread | None
    server_clip: ServerClip
    full_clip: ServerClip  # all the footage in one clip, once cold and once warm
    footage_kbit_s: float  # the demo's bit rate: small, so a clip's size hardly matters
    first_frame_target_ms: int
    cold_met: bool
    warm_met: bool
    seek_met: bool
    live: LiveResult | None = None  # nvr.bench.live's figures, when the CLI ran it too


def unavailable() -> str | None:
    """Why this machine cannot run the benchmark, or None."""
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package (pip install playwright; never `playwright install`)"
    return None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@contextlib.contextmanager
def _service(folder: Path, passphrase: str, segment_seconds: int) -> Iterator[str]:
    """``nvr demo`` on 127.0.0.1 in ``folder``; yields its URL (no trailing slash)."""
    data = folder / "data"
    data.mkdir()
    (data / "nvr.yaml").write_text(f"storage:\n  segment_seconds: {segment_seconds}\n")
    secret = folder / "passphrase"
    secret.write_text(passphrase + "\n")
    secret.chmod(0o600)
    argv = [sys.executable, "-m", "nvr", "demo", "--data-dir", str(data), "--bind", "127.0.0.1"]
    argv += ["--port", "0", "--passphrase-file", str(secret), "--work-factor", "15"]
    argv += ["--owner", OWNER]
    with (folder / "service.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        base = None
        deadline = time.monotonic() + 90
        for line in proc.stdout:
            if "Dashboard:" in line:
                base = line.split("Dashboard:", 1)[1].strip().rstrip("/")
                break
            if time.monotonic() > deadline:
                break
        if base is None:
            raise RuntimeError(f"nvr demo did not start; see {folder / 'service.log'}")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _client(base: str, tls: Path, passphrase: str) -> httpx.Client:
    """A signed-in (so unlocked) owner session of its own, trusting the box's certificate."""
    import httpx

    ctx = ssl.create_default_context(cafile=str(tls / "cert.pem"))
    client = httpx.Client(base_url=base, verify=ctx, timeout=60)
    r = client.post("/api/v1/session", json={"name": OWNER, "password": passphrase})
    if r.status_code != 200:
        client.close()
        raise RuntimeError(f"sign-in failed: {r.status_code} {r.text}")
    return client


def _timeline(client: httpx.Client, day: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/cameras/{CAMERA}/timeline", params={"day": day, "tz": "UTC"})
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def _wait_for_footage(
    client: httpx.Client, seconds: float, progress: Callable[[str], None]
) -> tuple[datetime, datetime]:
    """The first recorded span once it holds ``seconds`` of closed segments."""
    deadline = time.monotonic() + seconds + 120
    told = 0.0
    while True:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        spans = _timeline(client, day)["spans"]
        if spans:
            start, end = _parse(spans[0]["start"]), _parse(spans[0]["end"])
            have = (end - start).total_seconds()
            if have >= seconds:
                return start, end
            if have - told >= 10:
                progress(f"recorded {have:.0f} of {seconds:.0f} s")
                told = have
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo doorbell did not record {seconds:g} s: {spans}")
        time.sleep(1.0)


def _clip(client: httpx.Client, start: datetime, end: datetime) -> tuple[float, float, int, float]:
    """(ms to the response headers, ms to the last byte, bytes, footage seconds)."""
    params = {"start": _iso(start), "end": _iso(end)}
    began = time.perf_counter()
    with client.stream("GET", f"/api/v1/cameras/{CAMERA}/clip", params=params) as r:
        headers = time.perf_counter()
        body = r.read()
        done = time.perf_counter()
        if r.status_code != 200:
            raise RuntimeError(f"clip {params}: {r.status_code} {body[:200]!r}")
        footage = (
            _parse(r.headers["porchlight-clip-end"]) - _parse(r.headers["porchlight-clip-start"])
        ).total_seconds()
    return (headers - began) * 1000, (done - headers) * 1000, len(body), footage


def _server_clip(client: httpx.Client, starts: list[datetime], seconds: float) -> ServerClip:
    cold, warm, download = [], [], []
    size, footage = 0, 0.0
    for start in starts:
        end = start + timedelta(seconds=seconds)
        ms, _, size, footage = _clip(client, start, end)
        cold.append(ms)
        ms, dl, _, _ = _clip(client, start, end)
        warm.append(ms)
        download.append(dl)
    return ServerClip(
        seconds=round(footage, 2),
        bytes=size,
        cold_ms=spread(cold),
        warm_ms=spread(warm),
        download_ms=round(statistics.median(download), 1),
    )


def _load(context: BrowserContext, url: str, origin: str) -> tuple[dict[str, Any], int]:
    """Load ``url`` in a new tab: (PAGE_FIGURES, requests to another origin)."""
    offsite = 0

    def watch(request: Request) -> None:
        nonlocal offsite
        if urlsplit(request.url).scheme not in ("data", "blob", "about"):
            offsite += not request.url.startswith(origin)

    page = context.new_page()
    try:
        page.on("request", watch)
        page.goto(url, wait_until="load")
        page.wait_for_timeout(200)  # loadEventEnd is set just after the load event
        figures: dict[str, Any] = page.evaluate(PAGE_FIGURES)
    finally:
        page.close()
    return figures, offsite


def _page_costs(context: BrowserContext, base: str, repeat: int) -> list[PageCost]:
    """Each page ``repeat`` times, round robin (so a busy moment spreads over all), after
    one load not counted (Chromium's first tab starts its renderer and network service)."""
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base))
    _load(context, base + "/", origin)
    runs: dict[str, list[dict[str, Any]]] = {path: [] for _, path in PAGES}
    offsite = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for _, path in PAGES:
            figures, away = _load(context, base + path, origin)
            runs[path].append(figures)
            offsite[path] += away
    costs = []
    for name, path in PAGES:
        last = runs[path][-1]
        costs.append(
            PageCost(
                name=name,
                path=path,
                html_bytes=last["html"],
                js_bytes=last["js"],
                css_bytes=last["css"],
                total_bytes=last["html"] + last["js"] + last["css"],
                transferred_bytes=last["html_transfer"]
                + last["js_transfer"]
                + last["css_transfer"],
                other_bytes=last["other"],
                api_calls=max(r["api"] for r in runs[path]),
                offsite_requests=offsite[path],
                dom_content_loaded_ms=spread([r["dcl"] for r in runs[path]]),
                load_ms=spread([r["load"] for r in runs[path]]),
            )
        )
    return costs


def _await(page: Page, key: str) -> None:
    page.wait_for_function(
        f"() => window.__bench.{key} !== undefined || window.__bench.error !== undefined",
        timeout=STEP_TIMEOUT_MS,
    )
    error = page.evaluate("() => window.__bench.error")
    if error is not None:
        raise RuntimeError(f"the timeline's video failed: {error}")


def _click_at(page: Page, day_start: datetime, moment: datetime) -> None:
    """Zoom the timeline to the hour of ``moment`` and click the bar there."""
    hour = int((moment - day_start).total_seconds() // 3600)
    page.select_option("#timeline-zoom", str(hour))
    box = page.locator("#timeline").bounding_box()
    assert box is not None
    offset = (moment - (day_start + timedelta(hours=hour))).total_seconds() / 3600
    page.mouse.click(box["x"] + offset * box["width"], box["y"] + box["height"] / 2)


def _absolute(base: str, url: str) -> str:
    return base + url if url.startswith("/") else url


def _trial(
    context: BrowserContext,
    base: str,
    day: str,
    day_start: datetime,
    moment: datetime,
    footage_end: datetime,
) -> PlaybackTrial:
    page = context.new_page()
    try:
        page.goto(f"{base}/timeline?camera={CAMERA}&day={day}")
        page.locator('[data-testid="timeline-span"]').first.wait_for(state="attached")
        page.evaluate("() => window.__bench.reset()")
        _click_at(page, day_start, moment)
        _await(page, "frame")
        cold = page.evaluate("() => ({...window.__bench})")
        cold_server = page.evaluate(CLIP_TIMING, _absolute(base, cold["url"]))
        page.evaluate("() => window.__bench.reset()")
        _click_at(page, day_start, moment)  # the same second: the same clip, cached
        _await(page, "frame")
        warm = page.evaluate("() => ({...window.__bench})")
        if warm["url"] != cold["url"]:
            raise RuntimeError(f"the second click asked for another clip: {warm['url']}")
        clip = page.evaluate(
            "() => { const v = document.getElementById('timeline-video'); return v.duration; }"
        )
        page.evaluate(
            """() => { const v = document.getElementById('timeline-video');
                       window.__bench.reset(); window.__bench.seek = performance.now();
                       v.currentTime = v.duration / 2; }"""
        )
        _await(page, "seekFrame")
        seek = page.evaluate("() => ({...window.__bench})")
        size = page.evaluate(
            """async (url) => {
                 const r = await fetch(url, { headers: { Range: "bytes=0-0" } });
                 return Number((r.headers.get("content-range") || "/0").split("/")[1]);
               }""",
            cold["url"],
        )
        switch = switch_at = None
        if clip >= TIMELINE_FIRST_CHUNK_S - 1 and (footage_end - moment).total_seconds() > clip + 3:
            # Near the end of the chunk (the page asks for the next one ahead), play on.
            page.evaluate(
                """() => { const v = document.getElementById('timeline-video');
                           window.__bench.reset(); v.currentTime = v.duration - 2; v.play(); }"""
            )
            _await(page, "frame")
            nxt = page.evaluate("() => ({...window.__bench})")
            if nxt["url"] == cold["url"] or "ended" not in nxt:
                raise RuntimeError(f"the page did not go on with the next chunk: {nxt}")
            switch = round(nxt["frame"] - nxt["ended"], 1)
            switch_at = round(float(nxt["mediaTime"]), 3)
    finally:
        page.close()

    def server(requests: list[list[float]]) -> float | None:
        """The first request's time to first byte. (Chromium reports a media URL to
        Resource Timing once per document: the warm request is not there.)"""
        if not requests or not requests[0][1]:
            return None
        return round(requests[0][1] - requests[0][0], 1)

    return PlaybackTrial(
        clip_seconds=round(float(clip), 2),
        clip_bytes=int(size),
        cold_click_to_src_ms=round(cold["src"] - cold["click"], 1),
        cold_click_to_loadeddata_ms=round(cold["loadeddata"] - cold["click"], 1),
        cold_click_to_frame_ms=round(cold["frame"] - cold["click"], 1),
        cold_server_ms=server(cold_server),
        warm_click_to_frame_ms=round(warm["frame"] - warm["click"], 1),
        seek_to_seeked_ms=round(seek["seeked"] - seek["seek"], 1),
        seek_to_frame_ms=round(seek["seekFrame"] - seek["seek"], 1),
        chunk_switch_ms=switch,
        chunk_switch_media_s=switch_at,
    )


def _measure(
    base: str,
    tls: Path,
    passphrase: str,
    *,
    repeat: int,
    record_seconds: float,
    server_clip_seconds: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with contextlib.closing(_client(base, tls, passphrase)) as client, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=PAGE_FLAGS)
        try:
            context = browser.new_context(
                ignore_https_errors=True,  # the demo's self-signed certificate
                timezone_id="UTC",
                viewport={"width": 1280, "height": 800},
            )
            context.set_default_timeout(STEP_TIMEOUT_MS)
            context.add_init_script(NO_WEBRTC)
            context.add_init_script(PROBE)
            r = context.request.post(
                f"{base}/api/v1/session", data={"name": OWNER, "password": passphrase}
            )
            if not r.ok:
                raise RuntimeError(f"sign-in failed: {r.status} {r.text()}")
            progress(f"page costs, {len(PAGES)} pages x {repeat}")
            pages = _page_costs(context, base, repeat)

            progress(f"waiting for {record_seconds:.0f} s of recorded footage")
            span_start, span_end = _wait_for_footage(client, record_seconds, progress)
            footage = (span_end - span_start).total_seconds()
            day = span_start.strftime("%Y-%m-%d")
            day_start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
            trials = []
            for i in range(repeat):
                moment = span_start + timedelta(seconds=3 + i * TRIAL_SPACING_S)
                if moment >= span_end - timedelta(seconds=4):
                    moment = span_start + timedelta(seconds=3 + (i % 2))
                trials.append(_trial(context, base, day, day_start, moment, span_end))
                t = trials[-1]
                progress(
                    f"playback trial {i + 1}/{repeat}: cold {t.cold_click_to_frame_ms:.0f} ms, "
                    f"warm {t.warm_click_to_frame_ms:.0f} ms, seek {t.seek_to_frame_ms:.0f} ms "
                    f"({t.clip_seconds:.0f} s clip)"
                )
        finally:
            browser.close()

        progress("clip route timed with httpx")
        starts = [span_start + timedelta(seconds=1 + i) for i in range(repeat)]
        short = _server_clip(client, starts, server_clip_seconds)
        whole = _server_clip(client, [span_start - timedelta(seconds=1)], footage + 2)
    return {"pages": pages, "trials": trials, "footage": footage, "short": short, "whole": whole}


def run(
    work_dir: Path,
    *,
    repeat: int = DEFAULT_REPEAT,
    record_seconds: float = DEFAULT_RECORD_SECONDS,
    segment_seconds: int = DEFAULT_SEGMENT_SECONDS,
    server_clip_seconds: float = SERVER_CLIP_SECONDS,
    progress: Callable[[str], None] = lambda line: None,
) -> DashboardResult:
    folder = Path(tempfile.mkdtemp(prefix="porchlight-bench-dashboard-", dir=work_dir))
    passphrase = f"Bench-{secrets.token_hex(6)}-porch-{secrets.token_hex(6)}"
    try:
        progress("starting nvr demo on 127.0.0.1")
        with _service(folder, passphrase, segment_seconds) as base:
            figures = _measure(
                base,
                folder / "data" / "tls",
                passphrase,
                repeat=repeat,
                record_seconds=record_seconds,
                server_clip_seconds=server_clip_seconds,
                progress=progress,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    trials: list[PlaybackTrial] = figures["trials"]
    short: ServerClip = figures["short"]
    whole: ServerClip = figures["whole"]
    cold = spread([t.cold_click_to_frame_ms for t in trials])
    warm = spread([t.warm_click_to_frame_ms for t in trials])
    seek = spread([t.seek_to_frame_ms for t in trials])
    switches = [t.chunk_switch_ms for t in trials if t.chunk_switch_ms is not None]
    servers = [t.cold_server_ms for t in trials if t.cold_server_ms is not None]
    return DashboardResult(
        camera=CAMERA,
        repeat=repeat,
        segment_seconds=segment_seconds,
        footage_seconds=round(figures["footage"], 1),
        video=DEMO_VIDEO,
        pages=figures["pages"],
        trials=trials,
        cold_first_frame_ms=cold,
        warm_first_frame_ms=warm,
        seek_first_frame_ms=seek,
        cold_server_ms=spread(servers) if servers else None,
        server_clip=short,
        full_clip=whole,
        footage_kbit_s=round(whole.bytes * 8 / max(whole.seconds, 1) / 1000, 1),
        first_frame_target_ms=FIRST_FRAME_TARGET_MS,
        cold_met=cold.median <= FIRST_FRAME_TARGET_MS,
        warm_met=warm.median <= FIRST_FRAME_TARGET_MS,
        seek_met=seek.median <= FIRST_FRAME_TARGET_MS,
        chunk_switch_ms=spread(switches) if switches else None,
    )
