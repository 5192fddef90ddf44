"""``nvr bench record``: what recording N cameras at once costs, and how fast playback starts.

One run:

1. Makes (once; cached in the system temp folder) an H.264 MP4 of a synthetic scene, by
   default 1080p, 15 fps, a keyframe every 2 s, encoded by libx264 at a target bitrate of
   4 Mbit/s (the demo scene plus sensor-like noise, so the encoder has something to spend
   the bits on). The file's real bitrate is reported.
2. Serves it, looped and sent as is (no transcoding), from GStreamer's RTSP server: the
   project's test camera script ``tests/support/gst_rtsp_server_main.py``, run with
   Debian's ``/usr/bin/python3`` from a repository checkout. It needs Debian's GStreamer
   packages (``SERVER_PACKAGES``); ``server_unavailable_reason()`` says what is missing.
   One server, one shared mount; every camera is a separate RTSP session (TCP) to it, so
   the server's single pipeline costs the same whatever N (its CPU is reported apart).
3. For each camera count N, in a fresh child process (spawned; it imports the ``nvr`` CLI
   and the service runner, ``SERVICE_MODULES``, so its baseline RSS is the service's):
   N ``StreamReader`` + N ``Recorder`` (continuous, ``segment_seconds``, the service's
   ``RECORDER_QUEUE``) writing through one ``SegmentStore`` over a migrated
   SQLite index in a fresh folder inside ``directory`` (same filesystem as the data dir).
   Once every reader has its first packet, a window of ``seconds`` is measured: process
   CPU (``time.process_time``, all threads) over wall time as % of one core, and per
   stream; RSS at the end and its peak (``VmRSS``/``VmHWM`` of /proc/self/status; the
   peak is reset once the modules are imported, through /proc/self/clear_refs where the
   kernel allows, so the start figure is the imports' baseline);
   packets received per camera against frame rate x window; packets dropped by the
   recorders' subscriptions; reconnects; segments closed; bytes written (ciphertext).
4. Playback: ``nvr.playback.build_clip`` of camera 0 over the first ``clip_seconds`` of
   its footage (60 s, or all of it when less was recorded), timed ``playback_repeat``
   times; the median is the time to first byte (the whole MP4 exists when it returns).

Targets (issue 4) are reported as met or not, never asserted. Everything is written in a
fresh folder inside ``directory``, removed at the end.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from nvr.capture import StreamReader
from nvr.clock import SystemClock
from nvr.crypto import X25519Identity
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.playback.clip import build_clip
from nvr.record.gaps import GapLog
from nvr.record.recorder import Recorder
from nvr.service.cameras import RECORDER_QUEUE
from nvr.service.memory import limit_malloc_arenas
from nvr.storage.segments import SegmentStore

if TYPE_CHECKING:
    # Only the parent process encodes the clip (NumPy, and OpenCV through the demo scene);
    # importing them at module level would put them in every recording child's RSS,
    # which the service itself never loads.
    import numpy as np

GST_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = (
    Path(__file__).resolve().parents[2] / "tests" / "support" / "gst_rtsp_server_main.py"
)
SERVER_PACKAGES = (
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",  # qtdemux, rtph264pay
    "gstreamer1.0-plugins-bad",  # h264parse
)
SERVER_ELEMENTS = ("filesrc", "qtdemux", "h264parse", "rtph264pay")
MOUNT = "/clip"

DEFAULT_CAMERAS = (1, 4, 8, 16)
DEFAULT_SECONDS = 60.0
WIDTH, HEIGHT, FPS = 1920, 1080, 15
BITRATE = 4_000_000
GOP_SECONDS = 2.0
CLIP_FILE_SECONDS = 60
SEGMENT_SECONDS = 20.0
CLIP_SECONDS = 60.0
PLAYBACK_REPEAT = 5
# What ``nvr serve`` has loaded before its first camera starts: the recording child
# imports the same, and caps malloc arenas as the service does (nvr/service/memory.py),
# so its RSS is the service's (CLI and web app included), not just the record path's.
SERVICE_MODULES = ("nvr.cli", "nvr.service.runner")
CONNECT_TIMEOUT = 30.0
# A camera "lost" packets if it got fewer than expected by more than this share of a
# second's frames (the window's two ends are not aligned to frames).
SLACK_SECONDS = 0.5

TARGET_CORE_PERCENT_PER_STREAM = 2.0
TARGET_ZERO_LOSS_CAMERAS = 16
TARGET_RSS_CAMERAS = 4
TARGET_RSS_BYTES = 150_000_000
TARGET_PLAYBACK_SECONDS = 0.3
MB = 1_000_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """The pre-encoded clip the server loops."""

    path: str
    width: int
    height: int
    fps: int
    seconds: float
    gop_seconds: float
    target_bitrate: int
    bitrate: float  # measured: file's video bytes * 8 / duration
    cached: bool


@dataclass(frozen=True)
class CameraFigures:
    name: str
    received: int  # packets in the measured window
    expected: int  # frame rate x window
    dropped: int  # by the recorder's subscription (recorder fell behind)
    reconnects: int
    segments: int  # closed by its recorder
    bytes_written: int  # ciphertext on disk
    timestamp_repairs: int  # by its recorder (non-monotonic timestamps from the stream)


@dataclass(frozen=True)
class RunResult:
    cameras: int
    connect_seconds: float  # start to every reader's first packet
    window_seconds: float
    cpu_seconds: float
    core_percent: float  # process CPU over the window, % of one core
    core_percent_per_stream: float
    server_core_percent: float | None  # the RTSP server process, % of one core
    rss_start_bytes: int | None  # before the readers start
    rss_end_bytes: int | None
    rss_peak_bytes: int | None  # since the reset before this run (or process start)
    peak_reset: bool
    received: int
    expected: int
    dropped: int
    short: int  # packets missing beyond the slack, summed over cameras
    reconnects: int
    segments: int
    bytes_written: int
    timestamp_repairs: int
    zero_loss: bool
    playback_clip_seconds: float | None
    playback_runs: tuple[float, ...]
    playback_seconds: float | None  # median
    per_camera: tuple[CameraFigures, ...]


@dataclass(frozen=True)
class Targets:
    core_percent_per_stream: float
    zero_loss_cameras: int
    rss_cameras: int
    rss_bytes: int
    playback_seconds: float


@dataclass(frozen=True)
class RecordResult:
    source: Source
    segment_seconds: float
    seconds: float  # requested window per run
    runs: tuple[RunResult, ...]
    targets: Targets
    # None: not measured in this run (e.g. no 16-camera run).
    cpu_met: bool | None
    zero_loss_met: bool | None
    rss_met: bool | None
    playback_met: bool | None

    def run_for(self, cameras: int) -> RunResult | None:
        return next((r for r in self.runs if r.cameras == cameras), None)


# --- the RTSP server --------------------------------------------------------------------


def server_unavailable_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or ``None`` if it can."""
    install = f"apt-get install -y {' '.join(SERVER_PACKAGES)}"
    if not SERVER_SCRIPT.exists():
        return f"{SERVER_SCRIPT} not found: run from a repository checkout of Porchlight"
    if not GST_PYTHON.exists():
        return f"needs Debian's {GST_PYTHON} with GStreamer: {install}"
    probe = (
        "import gi\n"
        "gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')\n"
        "from gi.repository import Gst, GstRtspServer\n"
        "Gst.init(None)\n"
        f"print(' '.join(e for e in {SERVER_ELEMENTS!r} if Gst.ElementFactory.find(e) is None))\n"
    )
    try:
        done = subprocess.run(
            [str(GST_PYTHON), "-c", probe], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {GST_PYTHON} ({exc}); needs: {install}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{GST_PYTHON} cannot load GStreamer's RTSP server ({last}); {install}"
    if missing := done.stdout.split():
        return f"GStreamer elements missing ({', '.join(missing)}); {install}"
    return None


@contextlib.contextmanager
def rtsp_server(clip: Path, log_path: Path, timeout: float = 20.0) -> Iterator[tuple[str, int]]:
    """Serve ``clip`` looped at ``rtsp://127.0.0.1:PORT/clip``; yields (url, server pid)."""
    config = {
        "host": "127.0.0.1",
        "port": 0,
        "mounts": [{"path": MOUNT, "source": "file", "file": str(clip.resolve()), "loop": True}],
    }
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(GST_PYTHON), str(SERVER_SCRIPT), json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        line = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise RuntimeError(f"RTSP server not ready in {timeout:g} s; see {log_path}")
                chunk = os.read(proc.stdout.fileno(), 256)
                if not chunk:
                    raise RuntimeError(f"RTSP server exited early; see {log_path}")
                line += chunk
        words = line.decode().split()
        if len(words) != 2 or words[0] != "READY":
            raise RuntimeError(f"RTSP server said {line!r}; see {log_path}")
        yield f"rtsp://127.0.0.1:{int(words[1])}{MOUNT}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# --- the clip -----------------------------------------------------------------------------


def clip_name(width: int, height: int, fps: int, seconds: int, bitrate: int, gop: float) -> str:
    return f"clip-{width}x{height}-{fps}fps-{seconds}s-{bitrate // 1000}k-gop{gop:g}.mp4"


def _noise_tiles(height: int, width: int, count: int = 8) -> list[np.ndarray]:
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.integers(-12, 13, size=(height, width, 1), dtype=np.int16) for _ in range(count)]


def encode_source(
    path: Path, *, width: int, height: int, fps: int, seconds: int, bitrate: int, gop: float
) -> None:
    """Encode the demo scene plus noise at ``bitrate`` (libx264 ABR, fixed GOP, no
    B-frames, as cameras send) into ``path`` (written aside, then renamed)."""
    import numpy as np

    from nvr.demo.scene import make_scene

    scene = make_scene("demo", width=width, height=height, fps=fps, seed=0)
    g = max(1, round(fps * gop))
    tiles = _noise_tiles(height, width)
    time_base = Fraction(1, fps)
    part = path.with_name(path.name + f".{os.getpid()}.part")
    kbps = bitrate // 1000
    with av.open(str(part), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.bit_rate = bitrate
        stream.codec_context.gop_size = g
        stream.options = {
            "preset": "veryfast",
            "x264-params": f"keyint={g}:min-keyint={g}:scenecut=0:bframes=0"
            f":vbv-maxrate={kbps}:vbv-bufsize={kbps * 2}",
        }
        for index in range(seconds * fps):
            image, _ = scene.render(index)
            noisy = np.clip(image + tiles[index % len(tiles)], 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(noisy, format="bgr24").reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    part.rename(path)


def source_clip(
    cache: Path,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    seconds: int = CLIP_FILE_SECONDS,
    bitrate: int = BITRATE,
    gop: float = GOP_SECONDS,
    progress: Progress | None = None,
) -> Source:
    """The cached clip for these settings, encoded first if missing."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / clip_name(width, height, fps, seconds, bitrate, gop)
    cached = path.exists()
    if not cached:
        if progress:
            progress(f"encoding {seconds} s of {width}x{height} at {bitrate / MB:g} Mbit/s: {path}")
        encode_source(
            path, width=width, height=height, fps=fps, seconds=seconds, bitrate=bitrate, gop=gop
        )
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        size = sum(p.size for p in container.demux(video) if p.size)
    return Source(
        str(path), width, height, fps, float(seconds), gop, bitrate, size * 8 / seconds, cached
    )


# --- measuring --------------------------------------------------------------------------


def _status_kb(field: str, status: str) -> int | None:
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def _memory() -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of this process in bytes; None where unknown."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None, None
    return _status_kb("VmRSS", status), _status_kb("VmHWM", status)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def camera_lost(received: int, expected: int, fps: float) -> int:
    """Packets missing beyond ``SLACK_SECONDS`` of frames."""
    return max(0, expected - received - round(fps * SLACK_SECONDS))


@contextlib.contextmanager
def _store(folder: Path, identity: X25519Identity) -> Iterator[tuple[SegmentStore, GapLog]]:
    folder.mkdir(mode=0o700)
    url = default_sqlite_url(folder)
    upgrade(url)
    engine = make_engine(url)
    clock = SystemClock()
    try:
        sessions = session_factory(engine)
        yield (
            SegmentStore(folder, sessions, lambda: [identity.recipient()], clock),
            GapLog(sessions, clock),
        )
    finally:
        engine.dispose()


def _time_playback(
    store: SegmentStore, identity: X25519Identity, camera: str, seconds: float, repeat: int
) -> tuple[float | None, tuple[float, ...]]:
    far = datetime.now(UTC) + timedelta(days=1)
    records = [r for r in store.find(camera, datetime(2000, 1, 1, tzinfo=UTC), far) if r.end]
    if not records:
        return None, ()
    start = records[0].start
    last_end = max(r.end for r in records if r.end is not None)
    length = min(seconds, (last_end - start).total_seconds())
    end = start + timedelta(seconds=length)
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        build_clip(store, [identity], camera, start, end)
        runs.append(time.perf_counter() - began)
    return length, tuple(runs)


def run_cameras(
    cameras: int,
    url: str,
    folder: Path,
    *,
    seconds: float,
    fps: int,
    segment_seconds: float = SEGMENT_SECONDS,
    clip_seconds: float = CLIP_SECONDS,
    playback_repeat: int = PLAYBACK_REPEAT,
    server_pid: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Record ``cameras`` sessions of ``url`` for ``seconds``; see the module docstring."""
    say = progress or (lambda _: None)
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    limit_malloc_arenas()  # as `nvr serve` does before its first camera thread
    identity = X25519Identity.generate()
    with _store(folder, identity) as (store, gap_log):
        clock = store.clock
        names = [f"cam{i:02d}" for i in range(cameras)]
        readers = [StreamReader(f"{name}/main", url, clock=clock) for name in names]
        subs = [reader.subscribe(RECORDER_QUEUE) for reader in readers]
        recorders = [
            Recorder(name, sub, store, clock, segment_seconds=segment_seconds, on_gap=gap_log)
            for name, sub in zip(names, subs, strict=True)
        ]
        peak_reset = _reset_peak()
        rss_start, _ = _memory()
        began = time.perf_counter()
        try:
            for recorder in recorders:
                recorder.start()
            for reader in readers:
                reader.start()
            deadline = began + CONNECT_TIMEOUT
            while not all(r.health().packets for r in readers):
                if time.perf_counter() > deadline:
                    raise RuntimeError(
                        f"{cameras} cameras: not every stream delivered a packet within "
                        f"{CONNECT_TIMEOUT:g} s"
                    )
                time.sleep(0.05)
            say(f"{cameras} camera(s) connected; measuring {seconds:g} s")
            p0 = [r.health().packets for r in readers]
            s0 = _proc_cpu_seconds(server_pid) if server_pid else None
            t0, c0 = time.perf_counter(), time.process_time()
            connect = t0 - began
            time.sleep(seconds)
            t1, c1 = time.perf_counter(), time.process_time()
            s1 = _proc_cpu_seconds(server_pid) if server_pid else None
            healths = [r.health() for r in readers]
            rss_end, rss_peak = _memory()
        finally:
            for reader in readers:
                reader.stop()
            for recorder in recorders:
                recorder.stop()
        window = t1 - t0
        expected = round(fps * window)
        per_camera = []
        far = datetime.now(UTC) + timedelta(days=1)
        for name, health, before, recorder in zip(names, healths, p0, recorders, strict=True):
            status = recorder.status()
            records = store.find(name, datetime(2000, 1, 1, tzinfo=UTC), far)
            per_camera.append(
                CameraFigures(
                    name=name,
                    received=health.packets - before,
                    expected=expected,
                    dropped=status.dropped,
                    reconnects=health.reconnects,
                    segments=status.segments,
                    bytes_written=sum(r.size or 0 for r in records),
                    timestamp_repairs=status.timestamp_repairs,
                )
            )
        say(f"{cameras} camera(s): timing playback")
        clip_length, runs = _time_playback(store, identity, names[0], clip_seconds, playback_repeat)
    shutil.rmtree(folder, ignore_errors=True)
    cpu = c1 - c0
    dropped = sum(c.dropped for c in per_camera)
    short = sum(camera_lost(c.received, c.expected, fps) for c in per_camera)
    reconnects = sum(c.reconnects for c in per_camera)
    server = None if s0 is None or s1 is None else (s1 - s0) / window * 100
    return RunResult(
        cameras=cameras,
        connect_seconds=connect,
        window_seconds=window,
        cpu_seconds=cpu,
        core_percent=cpu / window * 100,
        core_percent_per_stream=cpu / window * 100 / cameras,
        server_core_percent=server,
        rss_start_bytes=rss_start,
        rss_end_bytes=rss_end,
        rss_peak_bytes=rss_peak,
        peak_reset=peak_reset,
        received=sum(c.received for c in per_camera),
        expected=expected * cameras,
        dropped=dropped,
        short=short,
        reconnects=reconnects,
        segments=sum(c.segments for c in per_camera),
        bytes_written=sum(c.bytes_written for c in per_camera),
        timestamp_repairs=sum(c.timestamp_repairs for c in per_camera),
        zero_loss=dropped == 0 and short == 0 and reconnects == 0,
        playback_clip_seconds=clip_length,
        playback_runs=runs,
        playback_seconds=statistics.median(runs) if runs else None,
        per_camera=tuple(per_camera),
    )


def verdicts(
    runs: Sequence[RunResult],
) -> tuple[bool | None, bool | None, bool | None, bool | None]:
    """(cpu, zero loss at 16, RSS at 4, playback) against the targets; None if not measured."""
    cpu = all(r.core_percent_per_stream <= TARGET_CORE_PERCENT_PER_STREAM for r in runs)
    by_n = {r.cameras: r for r in runs}
    sixteen = by_n.get(TARGET_ZERO_LOSS_CAMERAS)
    four = by_n.get(TARGET_RSS_CAMERAS)
    rss = None
    if four is not None and four.rss_peak_bytes is not None:
        rss = four.rss_peak_bytes <= TARGET_RSS_BYTES
    timed = [r.playback_seconds for r in runs if r.playback_seconds is not None]
    playback = max(timed) <= TARGET_PLAYBACK_SECONDS if timed else None
    return (
        cpu if runs else None,
        None if sixteen is None else sixteen.zero_loss,
        rss,
        playback,
    )


def run(
    directory: Path,
    *,
    cameras: Sequence[int] = DEFAULT_CAMERAS,
    seconds: float = DEFAULT_SECONDS,
    segment_seconds: float = SEGMENT_SECONDS,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    bitrate: int = BITRATE,
    clip_file_seconds: int = CLIP_FILE_SECONDS,
    clip_seconds: float = CLIP_SECONDS,
    playback_repeat: int = PLAYBACK_REPEAT,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> RecordResult:
    """The whole benchmark; raises ``RuntimeError`` if the RTSP server cannot run."""
    if not cameras or min(cameras) < 1 or seconds <= 0:
        raise ValueError("camera counts and seconds must be positive")
    if reason := server_unavailable_reason():
        raise RuntimeError(reason)
    say = progress or (lambda _: None)
    source = source_clip(
        cache or Path(tempfile.gettempdir()) / "nvr-bench-record",
        width=width,
        height=height,
        fps=fps,
        seconds=clip_file_seconds,
        bitrate=bitrate,
        progress=say,
    )
    say(f"source {source.width}x{source.height} {source.bitrate / MB:.2f} Mbit/s: {source.path}")
    work = Path(tempfile.mkdtemp(prefix="nvr-bench-record-", dir=directory))
    runs = []
    try:
        with rtsp_server(Path(source.path), work / "rtsp-server.log") as (url, pid):
            for n in cameras:
                say(f"recording {n} camera(s) for {seconds:g} s (fresh process)")
                # A fresh process per N: its RSS is that N's alone (freed memory is not
                # always given back to the OS, so a previous run would inflate it).
                # Imported here, not at the top: every ``nvr`` command loads this module
                # (for the CLI's defaults), and only a run needs a process pool.
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                spawn = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                    future = pool.submit(
                        run_cameras,
                        n,
                        url,
                        work / f"data-{n}",
                        seconds=seconds,
                        fps=fps,
                        segment_seconds=segment_seconds,
                        clip_seconds=clip_seconds,
                        playback_repeat=playback_repeat,
                        server_pid=pid,
                    )
                    result = future.result()
                say(
                    f"{n} camera(s): {result.core_percent_per_stream:.2f}% of a core per "
                    f"stream, {result.received}/{result.expected} packets, "
                    f"{result.dropped} dropped"
                )
                runs.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpu, loss, rss, playback = verdicts(runs)
    return RecordResult(
        source=source,
        segment_seconds=segment_seconds,
        seconds=seconds,
        runs=tuple(runs),
        targets=Targets(
            TARGET_CORE_PERCENT_PER_STREAM,
            TARGET_ZERO_LOSS_CAMERAS,
            TARGET_RSS_CAMERAS,
            TARGET_RSS_BYTES,
            TARGET_PLAYBACK_SECONDS,
        ),
        cpu_met=cpu,
        zero_loss_met=loss,
        rss_met=rss,
        playback_met=playback,
    )
