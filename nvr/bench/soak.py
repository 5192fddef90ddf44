"""``nvr bench soak``: the real service under a steady household load for N minutes.

Contract: ``run(directory, minutes=..., cameras=4, viewers=3, export_every=60.0,
sample_every=5.0)`` returns a ``SoakResult``; ``verdicts(result)`` gives one line per
criterion. Nothing is asserted here: the verdicts are information.

The load, all on this machine, everything in a fresh folder inside ``directory`` (removed
at the end):

- **Cameras.** ``nvr demo`` (the real service, HTTPS on a free port of 127.0.0.1, owner
  keys from a passphrase file, 10 s segments, ``metrics: {enabled: true, listen:
  127.0.0.1:0}``) with its built-in demo doorbell, plus ``cameras - 1`` more demo
  doorbells (``python -m nvr.demo``, each its own RTSP server and seed) configured as RTSP
  cameras recording continuously with motion detection on. 960x540 H.264 at 10 fps each.
- **Viewers.** ``viewers`` aiortc WHEP clients (not Chromium: one process, no browser to
  babysit for half an hour; the browser's own cost is ``nvr bench live``), round robin over
  the cameras, decoding every frame. WebRTC ICE happens only inside a loopback-only
  network namespace (``nvr.bench.netns``): when one can be made (root) the whole run,
  service and cameras included, runs inside it; otherwise the viewers are skipped and
  the result says why.
- **Exports.** Every ``export_every`` seconds: a consent (owner passphrase, no
  redaction) for 10 s of the demo doorbell's footage 30-40 s old, then the export job
  through the API (``POST /api/v1/consents``, ``POST /api/v1/consents/{id}/export``, polled
  until done); the duration is from the export request to the job's end.
- **Events.** One SSE client on ``/api/v1/events/stream``: for each motion ``start`` its
  latency is the arrival time minus the event's ``at`` (same machine, same clock).

Every ``sample_every`` seconds ``/metrics`` is scraped: packets received per camera,
packets dropped by the recorder's and the motion worker's queues (the record path's loss
is the recorder's drops: every packet received is queued to the recorder, and only a full
queue drops one), recording gaps, reconnects, the service's RSS. The service exposes no
queue depth, only drops; "no growing queue" is judged from the drop counters' slope.
RSS growth is a least-squares slope (MB/hour) with its r^2, over samples after the first
``warmup`` share of the run (caches filling are not a leak).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from nvr.bench import netns

Progress = Callable[[str], None]

OWNER = "bench"
DEMO_CAMERA = "demo-doorbell"
SEGMENT_SECONDS = 10
WARMUP = 0.2  # share of the run left out of the RSS slope
MB = 1_000_000
RSS_SLOPE_LIMIT_MB_H = 10.0  # the verdict's line: growth below this (or no trend) is flat


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the load started
    rss_bytes: float
    packets: float  # received, all cameras
    recorder_drops: float
    motion_drops: float
    gaps: float
    reconnects: float
    segments: float
    motion_events: float


@dataclass(frozen=True)
class Trend:
    slope_per_hour: float
    r2: float
    n: int


@dataclass(frozen=True)
class Latency:
    count: int
    median_s: float | None
    p95_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class ExportRun:
    t: float
    state: str
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class SoakResult:
    minutes: float
    cameras: int
    viewers: int
    viewers_note: str  # "aiortc in a network namespace" or "skipped: <why>"
    viewer_frames: tuple[int, ...]
    cpu_count: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    samples: tuple[Sample, ...]
    packets_received: int
    recorder_drops: int
    motion_drops: int
    gaps: int
    reconnects: int
    segments: int
    rss_start_mb: float
    rss_end_mb: float
    rss_trend: Trend
    recorder_drop_trend: Trend
    motion_drop_trend: Trend
    latency_all: Latency
    latency_first: Latency
    latency_last: Latency
    exports: tuple[ExportRun, ...]
    export_first: Latency  # durations of the first third's exports
    export_last: Latency
    events_seen: int
    errors: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        out = _plain(self)
        out["verdicts"] = [{"criterion": c, "verdict": v} for c, v in verdicts(self)]
        assert isinstance(out, dict)
        return out


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --- figures ----------------------------------------------------------------------------


def trend(points: Sequence[tuple[float, float]]) -> Trend:
    """Least-squares line through (seconds, value): slope per hour and r^2 (1.0 for a
    perfectly flat series: nothing left unexplained)."""
    n = len(points)
    if n < 2:
        return Trend(0.0, 0.0, n)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    syy = sum((p[1] - my) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    if sxx == 0:
        return Trend(0.0, 0.0, n)
    slope = sxy / sxx
    r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    return Trend(round(slope * 3600, 4), round(r2, 4), n)


def latency(values: Sequence[float]) -> Latency:
    if not values:
        return Latency(0, None, None, None)
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return Latency(
        len(ordered),
        round(statistics.median(ordered), 4),
        round(p95, 4),
        round(ordered[-1], 4),
    )


def verdicts(r: SoakResult) -> list[tuple[str, str]]:
    """One (criterion, verdict) per criterion; information, not an assertion."""
    out: list[tuple[str, str]] = []
    loss = "ok" if r.recorder_drops == 0 else "LOST"
    out.append(
        (
            "record path loss",
            f"{loss}: {r.recorder_drops} of {r.packets_received} packets dropped by the recorder",
        )
    )
    t = r.rss_trend
    flat = abs(t.slope_per_hour) < RSS_SLOPE_LIMIT_MB_H or t.r2 < 0.5
    out.append(
        (
            "memory",
            f"{'flat' if flat else 'GROWING'}: {t.slope_per_hour:+.2f} MB/hour (r^2 {t.r2:.2f},"
            f" {t.n} samples after warm-up; line {RSS_SLOPE_LIMIT_MB_H:g} MB/hour)",
        )
    )
    q = r.motion_drops + r.recorder_drops
    out.append(
        (
            "queues",
            ("no drops" if q == 0 else f"{q} drops")
            + f": motion drops {r.motion_drop_trend.slope_per_hour:+.1f}/hour"
            " (queue depths are not exposed; judged by drops)",
        )
    )
    f, last = r.latency_first, r.latency_last
    if f.median_s is None or last.median_s is None:
        out.append(("event latency", f"not enough events ({r.latency_all.count})"))
    else:
        stable = last.median_s <= 1.5 * f.median_s + 0.2
        out.append(
            (
                "event latency",
                f"{'stable' if stable else 'DRIFTING'}: median {f.median_s:.3f} s first third,"
                f" {last.median_s:.3f} s last third ({r.latency_all.count} motion starts)",
            )
        )
    done = sum(1 for e in r.exports if e.state == "done")
    ef, el = r.export_first, r.export_last
    tail = ""
    if ef.median_s is not None and el.median_s is not None:
        tail = f"; median {ef.median_s:.2f} s first third, {el.median_s:.2f} s last third"
    verdict = "ok" if done == len(r.exports) and r.exports else "FAILED"
    out.append(("exports", f"{verdict}: {done} of {len(r.exports)} done{tail}"))
    if r.viewers:
        ok = all(n > 0 for n in r.viewer_frames)
        out.append(
            (
                "live viewers",
                f"{'ok' if ok else 'STALLED'}: frames decoded {list(r.viewer_frames)}",
            )
        )
    else:
        out.append(("live viewers", r.viewers_note))
    return out


# --- the load ---------------------------------------------------------------------------


def _load() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _first_line(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        raise RuntimeError(f"{what} did not start")
    return line


@contextlib.contextmanager
def _cameras(work: Path, count: int) -> Iterator[list[str]]:
    """``count`` demo doorbells of their own (``python -m nvr.demo``); their RTSP URLs."""
    procs: list[subprocess.Popen[str]] = []
    try:
        urls = []
        for i in range(count):
            argv = [sys.executable, "-m", "nvr.demo", "--port", "0", "--seed", str(i + 1)]
            with (work / f"camera-{i + 1}.log").open("w") as log:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
            procs.append(proc)
            urls.append(_first_line(proc, f"demo camera {i + 1}"))
        yield urls
    finally:
        for proc in procs:
            _stop(proc)


@contextlib.contextmanager
def _service(work: Path, urls: list[str], passphrase: str) -> Iterator[tuple[str, str]]:
    """``nvr demo`` with the extra cameras; yields (dashboard URL, metrics URL)."""
    data = work / "data"
    data.mkdir()
    cams = "".join(
        f"  - name: cam-{i + 1}\n    main_url: {url}\n    record: continuous\n"
        "    motion:\n      enabled: true\n"
        for i, url in enumerate(urls)
    )
    config = work / "nvr.yaml"
    config.write_text(
        f"storage:\n  segment_seconds: {SEGMENT_SECONDS}\n"
        "metrics:\n  enabled: true\n  listen: 127.0.0.1:0\n" + (f"cameras:\n{cams}" if cams else "")
    )
    secret = work / "passphrase"
    secret.write_text(passphrase + "\n")
    secret.chmod(0o600)
    argv = [sys.executable, "-m", "nvr", "demo", "--config", str(config), "--data-dir", str(data)]
    argv += ["--bind", "127.0.0.1", "--port", "0", "--passphrase-file", str(secret)]
    argv += ["--work-factor", "15", "--owner", OWNER]
    with (work / "service.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        base = metrics = None
        for line in proc.stdout:
            if "Dashboard:" in line:
                base = line.split("Dashboard:", 1)[1].strip().rstrip("/")
            if "Metrics:" in line:
                metrics = line.split("Metrics:", 1)[1].split()[0]
            if base and metrics:
                break
        if base is None or metrics is None:
            raise RuntimeError(f"nvr demo did not start; see {work / 'service.log'}")
        yield base, metrics
    finally:
        _stop(proc)


def _client(base: str, tls: Path, passphrase: str) -> tuple[httpx.Client, dict[str, str]]:
    ctx = ssl.create_default_context(cafile=str(tls / "cert.pem"))
    client = httpx.Client(base_url=base, verify=ctx, timeout=120)
    r = client.post("/api/v1/session", json={"name": OWNER, "password": passphrase})
    if r.status_code != 200:
        client.close()
        raise RuntimeError(f"sign-in failed: {r.status_code} {r.text}")
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


def scrape(url: str) -> dict[str, float]:
    """``/metrics`` summed over cameras: {sample name[+consumer]: value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url, timeout=30).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + (f":{s.labels['consumer']}" if "consumer" in s.labels else "")
            out[key] = out.get(key, 0.0) + s.value
    return out


def _sample(t: float, m: dict[str, float]) -> Sample:
    return Sample(
        t=round(t, 2),
        rss_bytes=m.get("process_resident_memory_bytes", 0.0),
        packets=m.get("porchlight_camera_packets_total", 0.0),
        recorder_drops=m.get("porchlight_camera_queue_drops_total:recorder", 0.0),
        motion_drops=m.get("porchlight_camera_queue_drops_total:motion", 0.0),
        gaps=m.get("porchlight_camera_gaps_total", 0.0),
        reconnects=m.get("porchlight_camera_reconnects_total", 0.0),
        segments=m.get("porchlight_camera_segments_total", 0.0),
        motion_events=m.get("porchlight_camera_motion_events_total", 0.0),
    )


class _Events(threading.Thread):
    """The SSE client: (seconds since t0, latency) per motion start."""

    def __init__(self, client: httpx.Client, t0: float) -> None:
        super().__init__(name="soak-sse", daemon=True)
        self.client, self.t0 = client, t0
        self.latencies: list[tuple[float, float]] = []
        self.seen = 0
        self.stop = threading.Event()

    def run(self) -> None:
        # The stream ends when the service stops (or its client closes): not an error.
        with (
            contextlib.suppress(Exception),
            self.client.stream("GET", "/api/v1/events/stream", timeout=None) as r,
        ):
            event = ""
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "camera-event":
                    arrived = datetime.now(UTC)
                    data = json.loads(line[5:])
                    self.seen += 1
                    if data.get("kind") == "motion" and data.get("phase") == "start":
                        at = datetime.fromisoformat(data["at"].replace("Z", "+00:00"))
                        self.latencies.append(
                            (time.monotonic() - self.t0, (arrived - at).total_seconds())
                        )


def _export(client: httpx.Client, csrf: dict[str, str], passphrase: str) -> tuple[str, str | None]:
    """One consent and its export job; (final state, error)."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    start = end - timedelta(seconds=10)
    body = {
        "camera": DEMO_CAMERA,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "passphrase": passphrase,
        "redactions": {"faces": False},
        "recipient": {"name": "Soak test"},
    }
    r = client.post("/api/v1/consents", json=body, headers=csrf)
    if r.status_code != 201:
        return "failed", f"consent {r.status_code}: {r.text[:200]}"
    consent = r.json()["id"]
    r = client.post(
        f"/api/v1/consents/{consent}/export", json={"passphrase": passphrase}, headers=csrf
    )
    if r.status_code != 202:
        return "failed", f"export {r.status_code}: {r.text[:200]}"
    job = r.json()["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/exports/{job}").json()
        if status["state"] != "running":
            return str(status["state"]), status.get("error")
        time.sleep(0.25)
    return "timeout", "the export job ran past 300 s"


class _Exports(threading.Thread):
    def __init__(
        self, client: httpx.Client, csrf: dict[str, str], passphrase: str, every: float, t0: float
    ) -> None:
        super().__init__(name="soak-exports", daemon=True)
        self.client, self.csrf, self.passphrase = client, csrf, passphrase
        self.every, self.t0 = every, t0
        self.runs: list[ExportRun] = []
        self.stop = threading.Event()

    def run(self) -> None:
        # The first after 45 s: footage 30-40 s old must exist in closed segments.
        if self.stop.wait(45):
            return
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                state, error = _export(self.client, self.csrf, self.passphrase)
            except Exception as exc:  # reported in the result, the run goes on
                state, error = "failed", f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - began
            self.runs.append(ExportRun(round(began - self.t0, 2), state, round(took, 3), error))
            if self.stop.wait(max(0.0, self.every - took)):
                return


class _Viewers(threading.Thread):
    """aiortc WHEP viewers on their own event loop; frames decoded per viewer."""

    def __init__(self, base: str, tls: Path, cookies: httpx.Cookies, csrf: dict[str, str],
                 cameras: list[str], count: int) -> None:  # fmt: skip
        super().__init__(name="soak-viewers", daemon=True)
        self.base, self.tls, self.cookies, self.csrf = base, tls, cookies, csrf
        self.cameras, self.count = cameras, count
        self.frames = [0] * count
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported in the result
            self.errors.append(f"viewers: {type(exc).__name__}: {exc}")

    async def _main(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        ctx = ssl.create_default_context(cafile=str(self.tls / "cert.pem"))
        pcs: list[Any] = []
        pulls: list[asyncio.Task[None]] = []
        async with httpx.AsyncClient(
            base_url=self.base, verify=ctx, cookies=self.cookies, timeout=60
        ) as http:
            for i in range(self.count):
                camera = self.cameras[i % len(self.cameras)]
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                pcs.append(pc)
                pc.addTransceiver("video", direction="recvonly")

                def on_track(track: Any, i: int = i) -> None:
                    async def pull() -> None:
                        while True:
                            await track.recv()
                            self.frames[i] += 1

                    pulls.append(asyncio.create_task(pull()))

                pc.on("track", on_track)
                await pc.setLocalDescription(await pc.createOffer())
                r = await http.post(
                    f"/api/v1/cameras/{camera}/whep",
                    content=pc.localDescription.sdp,
                    headers={**self.csrf, "content-type": "application/sdp"},
                )
                if r.status_code != 201:
                    self.errors.append(f"viewer {i}: whep {r.status_code} {r.text[:200]}")
                    continue
                await pc.setRemoteDescription(RTCSessionDescription(r.text, "answer"))
            while not self.stop.is_set():
                await asyncio.sleep(0.5)
            for task in pulls:
                task.cancel()
            for pc in pcs:
                await pc.close()


def run(
    directory: Path,
    *,
    minutes: float,
    cameras: int = 4,
    viewers: int = 3,
    export_every: float = 60.0,
    sample_every: float = 5.0,
    progress: Progress | None = None,
) -> SoakResult:
    say = progress or (lambda line: None)
    reason = netns.unavailable_reason() if viewers else "no viewers asked for"
    if reason is None:
        ns = netns.Namespace.create()
        say(f"running inside network namespace {ns.name} (WebRTC viewers)")
        try:
            return netns.call_inside(
                ns.name,
                lambda: _run(
                    directory, minutes, cameras, viewers, export_every, sample_every, "", say
                ),
                timeout=minutes * 60 + 600,
            )
        finally:
            ns.delete()
    return _run(
        directory, minutes, cameras, 0, export_every, sample_every, f"skipped: {reason}", say
    )


def _run(
    directory: Path,
    minutes: float,
    cameras: int,
    viewers: int,
    export_every: float,
    sample_every: float,
    viewers_note: str,
    say: Progress,
) -> SoakResult:
    passphrase = "soak-" + secrets.token_urlsafe(18)
    work = Path(tempfile.mkdtemp(prefix="nvr-bench-soak-", dir=directory))
    load_before = _load()
    errors: list[str] = []
    samples: list[Sample] = []
    try:
        say(f"starting {cameras - 1} extra demo cameras and nvr demo")
        with (
            _cameras(work, cameras - 1) as urls,
            _service(work, urls, passphrase) as (
                base,
                metrics,
            ),
        ):
            client, csrf = _client(base, work / "data" / "tls", passphrase)
            names = [DEMO_CAMERA] + [f"cam-{i + 1}" for i in range(len(urls))]
            with contextlib.closing(client):
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    ups = scrape(metrics).get("porchlight_camera_up", 0.0)
                    if ups >= cameras:
                        break
                    time.sleep(1)
                else:
                    errors.append(f"only {ups:g} of {cameras} cameras came online in 60 s")
                t0 = time.monotonic()
                events = _Events(client, t0)
                exports = _Exports(client, csrf, passphrase, export_every, t0)
                watchers = _Viewers(base, work / "data" / "tls", client.cookies, csrf, names,
                                    viewers)  # fmt: skip
                threads: list[Any] = [events, exports] + ([watchers] if viewers else [])
                for thread in threads:
                    thread.start()
                say(f"load on: {cameras} cameras, {viewers} viewers, an export every "
                    f"{export_every:g} s, for {minutes:g} min")  # fmt: skip
                end = t0 + minutes * 60
                next_say = t0
                while (now := time.monotonic()) < end:
                    try:
                        samples.append(_sample(now - t0, scrape(metrics)))
                    except httpx.HTTPError as exc:
                        errors.append(f"scrape at {now - t0:.0f} s: {exc}")
                    if now >= next_say and samples:
                        s = samples[-1]
                        say(f"{now - t0:6.0f} s  rss {s.rss_bytes / MB:.1f} MB  packets "
                            f"{s.packets:.0f}  drops {s.recorder_drops:.0f}/{s.motion_drops:.0f}"
                            f"  exports {len(exports.runs)}  events {events.seen}")  # fmt: skip
                        next_say = now + 60
                    time.sleep(max(0.0, min(sample_every, end - time.monotonic())))
                samples.append(_sample(time.monotonic() - t0, scrape(metrics)))
                exports.stop.set()
                watchers.stop.set()
                events.stop.set()
                exports.join(330)
                if viewers:
                    watchers.join(60)
                errors.extend(watchers.errors)
                viewer_frames = tuple(watchers.frames) if viewers else ()
                note = viewers_note or f"{viewers} aiortc WHEP viewers in a network namespace"
                return _result(
                    minutes, cameras, viewers, note, viewer_frames, load_before, samples,
                    events, exports.runs, errors,
                )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _thirds(points: Sequence[tuple[float, float]], total: float) -> tuple[Latency, Latency]:
    first = [v for t, v in points if t < total / 3]
    last = [v for t, v in points if t >= 2 * total / 3]
    return latency(first), latency(last)


def _result(
    minutes: float,
    cameras: int,
    viewers: int,
    note: str,
    viewer_frames: tuple[int, ...],
    load_before: tuple[float, float, float],
    samples: list[Sample],
    events: _Events,
    exports: list[ExportRun],
    errors: list[str],
) -> SoakResult:
    total = minutes * 60
    last = samples[-1]
    steady = [s for s in samples if s.t >= WARMUP * total] or samples
    lat_first, lat_last = _thirds(events.latencies, total)
    exp_first, exp_last = _thirds([(e.t, e.seconds) for e in exports if e.state == "done"], total)
    errors.extend(f"export at {e.t:.0f} s: {e.error}" for e in exports if e.error)
    return SoakResult(
        minutes=minutes,
        cameras=cameras,
        viewers=viewers,
        viewers_note=note,
        viewer_frames=viewer_frames,
        cpu_count=os.cpu_count() or 0,
        load_before=load_before,
        load_after=_load(),
        samples=tuple(samples),
        packets_received=int(last.packets),
        recorder_drops=int(last.recorder_drops),
        motion_drops=int(last.motion_drops),
        gaps=int(last.gaps),
        reconnects=int(last.reconnects),
        segments=int(last.segments),
        rss_start_mb=round(samples[0].rss_bytes / MB, 1),
        rss_end_mb=round(last.rss_bytes / MB, 1),
        rss_trend=trend([(s.t, s.rss_bytes / MB) for s in steady]),
        recorder_drop_trend=trend([(s.t, s.recorder_drops) for s in samples]),
        motion_drop_trend=trend([(s.t, s.motion_drops) for s in samples]),
        latency_all=latency([v for _, v in events.latencies]),
        latency_first=lat_first,
        latency_last=lat_last,
        exports=tuple(exports),
        export_first=exp_first,
        export_last=exp_last,
        events_seen=events.seen,
        errors=tuple(errors),
    )
