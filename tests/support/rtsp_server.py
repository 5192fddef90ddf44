"""Test cameras: GStreamer's RTSP server in a child process, and the fixtures that start it.

Contract:

- ``RtspCamera(mounts, ...)`` runs ``gst_rtsp_server_main.py`` with Debian's
  ``/usr/bin/python3`` (GStreamer's Python bindings are Debian packages, not wheels) on
  127.0.0.1, optionally inside a ``Netns`` (there ``host`` may be another address of
  the namespace, such as a veth link's). ``start()`` returns once the server printed
  ``READY <port>`` (deadline ``ready_timeout``), ``url(mount, user, password)`` builds
  ``rtsp://`` URLs, ``kill()`` SIGKILLs it (a camera dying mid-stream), ``freeze()`` and
  ``thaw()`` SIGSTOP/SIGCONT it (a hung camera), ``restart()`` starts it again on the
  same port, ``stop()`` ends it (SIGTERM, then SIGKILL).
- ``Mount`` describes one path: a live moving test pattern or an MP4 sent as is
  (optionally looped), guarded by no auth, Basic or Digest.
- Fixtures: ``rtsp_camera_factory(mounts=..., netns=None) -> RtspCamera`` (each camera
  stopped after the test) and ``rtsp_camera``: a started camera with ``DEFAULT_MOUNTS``
  (``/live`` open, ``/basic`` and ``/digest`` guarded by the credentials on the mounts).
  Both skip, naming the Debian packages, when ``/usr/bin/python3`` cannot load
  GStreamer's RTSP server and the elements the mounts use (in CI they fail instead).
"""

from __future__ import annotations

import functools
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

import pytest

from tests.support.netns import Netns
from tests.support.procs import ManagedProcess, ProcessRegistry, ProcessStartError, require

GST_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("gst_rtsp_server_main.py")
DEBIAN_PACKAGES = (
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",  # videotestsrc
    "gstreamer1.0-plugins-good",  # qtdemux, rtph264pay
    "gstreamer1.0-plugins-bad",  # h264parse
    "gstreamer1.0-plugins-ugly",  # x264enc
)
_REQUIRED_ELEMENTS = ("videotestsrc", "x264enc", "rtph264pay", "qtdemux", "h264parse", "filesrc")
# Exit status of the server script when it cannot bind its port.
_EXIT_CANNOT_LISTEN = 3

AuthKind = Literal["none", "basic", "digest"]


@dataclass(frozen=True)
class Mount:
    """One RTSP path of a test camera; see ``gst_rtsp_server_main.py`` for the meaning."""

    path: str
    source: Literal["live", "file"] = "live"
    file: Path | None = None
    loop: bool = False
    auth: AuthKind = "none"
    user: str | None = None
    password: str | None = None
    shared: bool = True
    audio: bool = False  # live mounts only: an audio track alongside the video
    audio_codec: Literal["aac", "pcmu"] = "aac"
    # live mounts only: the picture and its codec (h265 needs x265enc, gstreamer1.0-plugins-bad)
    width: int = 640
    height: int = 360
    codec: Literal["h264", "h265"] = "h264"

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"mount path {self.path!r} must start with '/'")
        if (self.source == "file") != (self.file is not None):
            raise ValueError(f"mount {self.path}: 'file' is for (and required by) file mounts")
        if (self.auth != "none") != (self.user is not None and self.password is not None):
            raise ValueError(f"mount {self.path}: user and password go with basic/digest auth")

    def config(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "source": self.source,
            "auth": self.auth,
            "shared": self.shared,
        }
        if self.file is not None:
            out["file"] = str(self.file.resolve())
            out["loop"] = self.loop
        if self.audio:
            out["audio"], out["audio_codec"] = True, self.audio_codec
        if self.source == "live":
            out["width"], out["height"], out["codec"] = self.width, self.height, self.codec
        if self.auth != "none":
            out["user"], out["password"] = self.user, self.password
        return out


DEFAULT_MOUNTS = (
    Mount("/live"),
    Mount("/basic", auth="basic", user="viewer", password="basic-pass"),
    Mount("/digest", auth="digest", user="viewer", password="digest-pass"),
)


@functools.cache
def gst_rtsp_unavailable_reason() -> str | None:
    """Why the GStreamer test camera cannot run here, or ``None`` if it can."""
    install = f"apt-get install -y {' '.join(DEBIAN_PACKAGES)}"
    if not GST_PYTHON.exists():
        return f"RTSP camera tests need Debian's {GST_PYTHON} with GStreamer: {install}"
    probe = (
        "import gi\n"
        "gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')\n"
        "from gi.repository import Gst, GstRtspServer\n"
        "Gst.init(None)\n"
        f"missing = [e for e in {_REQUIRED_ELEMENTS!r} if Gst.ElementFactory.find(e) is None]\n"
        "print(' '.join(missing))\n"
    )
    try:
        result = subprocess.run(
            [str(GST_PYTHON), "-c", probe], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {GST_PYTHON} ({exc}); RTSP camera tests need: {install}"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return f"{GST_PYTHON} cannot load GStreamer's RTSP server ({last}); {install}"
    if missing := result.stdout.split():
        return f"GStreamer elements missing ({', '.join(missing)}); {install}"
    return None


class RtspCamera:
    """A GStreamer RTSP server process; see the module docstring."""

    def __init__(
        self,
        mounts: Sequence[Mount],
        *,
        registry: ProcessRegistry,
        log_dir: Path,
        netns: Netns | None = None,
        host: str = "127.0.0.1",
        ready_timeout: float = 20.0,
    ) -> None:
        if not mounts:
            raise ValueError("a camera needs at least one mount")
        self.mounts = {mount.path: mount for mount in mounts}
        self.netns = netns
        self.host = host
        self.ready_timeout = ready_timeout
        self._registry = registry
        self._log_dir = log_dir
        self._port = 0
        self._process: ManagedProcess | None = None
        self._starts = 0

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("camera not started yet")
        return self._port

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("camera not started yet")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def log_path(self) -> Path:
        return self._log_dir / "server.log"

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        """``rtsp://[user:password@]host:port/mount`` (credentials percent-encoded)."""
        if mount not in self.mounts:
            raise KeyError(f"no mount {mount!r}; mounts: {', '.join(self.mounts)}")
        userinfo = ""
        if user is not None:
            userinfo = quote(user, safe="")
            if password is not None:
                userinfo += ":" + quote(password, safe="")
            userinfo += "@"
        return f"rtsp://{userinfo}{self.host}:{self.port}{mount}"

    def start(self) -> None:
        """Start the server (a free port the first time, the same port afterwards)."""
        if self.running:
            raise RuntimeError("camera already running")
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                self._spawn(deadline)
                return
            except ProcessStartError:
                # After a kill the old port may be briefly unavailable to bind (or taken):
                # retry on the same port until the deadline, then report the log.
                assert self._process is not None
                retry = self._process.popen.returncode == _EXIT_CANNOT_LISTEN and self._port
                if not retry or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _spawn(self, deadline: float) -> None:
        config = {
            "host": self.host,
            "port": self._port,
            "mounts": [mount.config() for mount in self.mounts.values()],
            "in_netns": self.netns is not None,
        }
        argv = [str(GST_PYTHON), str(SERVER_SCRIPT), json.dumps(config)]
        if self.netns is not None:
            argv = self.netns.command(argv)
        self._starts += 1
        with self.log_path.open("a") as log:
            log.write(f"--- start {self._starts}\n")
        self._process = self._registry.start(argv, log_path=self.log_path)
        try:
            line = self._process.wait_for_line("READY ", max(0.0, deadline - time.monotonic()))
        except ProcessStartError:
            self._process.stop(grace=0)
            raise
        port = int(line.split()[1])
        if self._port and port != self._port:
            raise ProcessStartError(f"restarted on port {port}, not {self._port}")
        self._port = port

    def kill(self) -> None:
        """SIGKILL the server: viewers see the camera vanish mid-stream."""
        if self._process is not None:
            self._process.kill()

    def freeze(self) -> None:
        """SIGSTOP the server: connections stay open but nothing more is sent."""
        if self._process is not None:
            self._process.freeze()

    def thaw(self) -> None:
        """SIGCONT the server after ``freeze``."""
        if self._process is not None:
            self._process.thaw()

    def restart(self) -> None:
        """Stop the server if it still runs, start it again on the same port, wait READY."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; idempotent."""
        if self._process is not None:
            self._process.stop()


class RtspCameraFactory(Protocol):
    def __call__(
        self, mounts: Sequence[Mount] = DEFAULT_MOUNTS, *, netns: Netns | None = None
    ) -> RtspCamera: ...


@pytest.fixture(scope="session")
def _gst_rtsp_available() -> None:
    require(gst_rtsp_unavailable_reason())


@pytest.fixture
def rtsp_camera_factory(
    _gst_rtsp_available: None,
    process_registry: ProcessRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RtspCameraFactory]:
    """Start test cameras with the given mounts; each is stopped after the test."""
    cameras: list[RtspCamera] = []

    def make(mounts: Sequence[Mount] = DEFAULT_MOUNTS, *, netns: Netns | None = None) -> RtspCamera:
        camera = RtspCamera(
            mounts,
            registry=process_registry,
            log_dir=tmp_path_factory.mktemp("rtsp-camera"),
            netns=netns,
        )
        cameras.append(camera)
        camera.start()
        return camera

    yield make
    for camera in cameras:
        camera.stop()


@pytest.fixture
def rtsp_camera(rtsp_camera_factory: RtspCameraFactory) -> RtspCamera:
    """A running test camera with ``DEFAULT_MOUNTS``."""
    return rtsp_camera_factory()
