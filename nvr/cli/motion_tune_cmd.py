"""``nvr motion tune CAMERA|FILE --out OUT.mp4``: what the detector sees, as a video.

CAMERA|FILE is a video file when such a file exists, else a camera of the config: its
sub-stream (else its main stream) is read live over RTSP for ``--seconds`` (default 30).
A file is analysed with the default motion settings, or with a camera's (``--camera``),
so a clip recorded at the door can be tuned against the zones and masks in the config.
The analysis itself is ``nvr.motion.tune.tune``: the live path, nothing special.

The output is plaintext on purpose (an installer's tool): a warning says so, and it may
not be written inside the configured data directory, where only sealed footage lives.
No message contains a camera URL's password.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Annotated, Literal

import av
import typer
from av.container import InputContainer

from nvr.capture.policy import classify_error, open_options
from nvr.config import CameraConfig, Config, MotionConfig, load_config
from nvr.config.cameras import CAMERA_NAME
from nvr.errors import UserError
from nvr.secrets import mask_url

CAMERA_SECONDS = 30.0
MAX_WIDTH = 640  # of the output picture: enough to see, small enough to send around
OPEN_TIMEOUT = 10.0  # seconds to connect, and for each read


def decoded(container: InputContainer) -> Iterator[av.VideoFrame]:
    """Every frame of the first video stream; packets that cannot be decoded (a stream
    joined mid-GOP, a damaged packet) are skipped, as the live worker skips them."""
    stream = container.streams.video[0]
    for packet in container.demux(stream):
        try:
            yield from stream.codec_context.decode(packet)
        except av.InvalidDataError:
            continue


def _guarded(
    frames: Generator[av.VideoFrame], explain: Callable[[Exception], UserError]
) -> Iterator[av.VideoFrame]:
    """``frames``, with a source's failures turned into one-line user errors."""
    try:
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except (av.FFmpegError, OSError) as exc:
                raise explain(exc) from None
            yield frame
    finally:
        frames.close()  # the container, now rather than when collected


def camera_frames(camera: CameraConfig) -> Iterator[av.VideoFrame]:
    stream: Literal["main", "sub"] = "sub" if camera.sub_url is not None else "main"
    url = camera.stream_url(stream)
    if url is None:
        raise UserError(
            f"camera {camera.name} gets its streams over ONVIF; tune reads main_url/sub_url",
            hint="record a clip of it and give the file instead",
        )
    masked = mask_url(url)
    started = time.monotonic()

    def explain(exc: Exception) -> UserError:
        if time.monotonic() - started >= OPEN_TIMEOUT and not isinstance(
            exc, av.error.HTTPError | av.error.HTTPClientError
        ):
            exc = TimeoutError()
        reason = classify_error(exc, ever_online=False).message.split("; ")[0]
        return UserError(f"camera {camera.name} ({masked}): {reason}")

    def frames() -> Generator[av.VideoFrame]:
        container = av.open(
            url, "r", options=open_options(camera.transport), timeout=(OPEN_TIMEOUT, OPEN_TIMEOUT)
        )
        try:
            assert isinstance(container, InputContainer)
            if not container.streams.video:
                raise UserError(f"camera {camera.name} ({masked}): the stream has no video track")
            yield from decoded(container)
        finally:
            container.close()

    print(f"reading camera {camera.name} ({stream} stream, {masked})", file=sys.stderr)
    return _guarded(frames(), explain)


def _camera(cfg: Config, name: str) -> CameraConfig:
    for camera in cfg.cameras:
        if camera.name == name:
            return camera
    known = ", ".join(c.name for c in cfg.cameras)
    raise UserError(
        f"{name}: no such file, and no camera of that name",
        hint=f"cameras in the config: {known}" if known else "the config has no cameras",
    )


def _check_out(out: Path, cfg: Config) -> None:
    folder = out.absolute().parent
    if not folder.is_dir():
        raise UserError(f"--out {out}: folder {folder} does not exist", hint="create it first")
    data_dir = cfg.storage.data_dir.resolve()
    if out.resolve().is_relative_to(data_dir):
        raise UserError(
            f"--out {out}: inside the data directory {data_dir}, which holds only sealed footage",
            hint="write the tune video somewhere else, e.g. your home folder",
        )


def tune_command(
    source: Annotated[
        str, typer.Argument(metavar="CAMERA|FILE", help="A video file, or a camera's name.")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", dir_okay=False, metavar="OUT.mp4", help="MP4 to write."),
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            dir_okay=False,
            help="Config file (else $NVR_CONFIG, /etc/nvr/nvr.yaml, ./config/nvr.yaml).",
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds",
            min=0.1,
            metavar="N",
            help=f"Seconds to analyse (default: {CAMERA_SECONDS:g} for a camera, a whole file).",
        ),
    ] = None,
    camera_name: Annotated[
        str | None,
        typer.Option(
            "--camera", metavar="NAME", help="Analyse FILE with this camera's motion settings."
        ),
    ] = None,
    width: Annotated[
        int,
        typer.Option("--width", min=64, max=3840, metavar="PX", help="Output width at most."),
    ] = MAX_WIDTH,
) -> None:
    """Write an annotated MP4 of what the motion detector sees: boxes, zones, masks,
    score graph and events, from a camera (live) or a video file."""
    # Here, not at the top: OpenCV and NumPy load only for the command that uses them.
    from nvr.motion.detector import DetectorSettings
    from nvr.motion.events import EventRules
    from nvr.motion.frames import iter_file_frames
    from nvr.motion.tune import gated, tune

    cfg = load_config(config)
    _check_out(out, cfg)
    path = Path(source)
    motion: MotionConfig
    if path.is_file():
        motion = MotionConfig() if camera_name is None else _camera(cfg, camera_name).motion
        frames = iter_file_frames(path, DetectorSettings.from_config(motion))
    elif "/" in source or not CAMERA_NAME.fullmatch(source):
        raise UserError(f"cannot read {source}: no such file")
    else:
        if camera_name is not None:
            raise UserError("--camera is for a FILE source; a camera uses its own settings")
        camera = _camera(cfg, source)
        motion = camera.motion
        frames = gated(camera_frames(camera), DetectorSettings.from_config(motion))
        seconds = CAMERA_SECONDS if seconds is None else seconds
    # The first frame before anything is said or written: a bad source fails cleanly.
    first = next(frames, None)
    if first is None:
        raise UserError(f"{source}: no frame decoded, nothing written")
    print(
        f"nvr: warning: {out} will hold plaintext, unencrypted video (installer's tool); "
        "delete it when done",
        file=sys.stderr,
    )
    try:
        summary = tune(
            itertools.chain([first], frames),
            out,
            DetectorSettings.from_config(motion),
            EventRules.from_config(motion),
            seconds=seconds,
            width=width,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except (av.FFmpegError, OSError) as exc:
        # The sources turn their own failures into UserErrors: this is the output.
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"cannot write {out}: {reason}") from None
    if summary.frames_written == 0:
        out.unlink(missing_ok=True)
        raise UserError(f"{source}: no frame decoded, nothing written")
    typer.echo(
        f"wrote {out}: {summary.frames_written} frames, {summary.width}x{summary.height}, "
        f"{summary.seconds:.1f} s; {summary.motion_frames} with motion, "
        f"{summary.events} event(s)"
    )
