"""``nvr bench export``: how fast a consented clip becomes a verifiable bundle.

One run, everything in a fresh folder inside ``directory`` (removed at the end):

1. Footage: the record benchmark's cached synthetic source (``record.source_clip``: the
   demo scene plus sensor-like noise, libx264 at a target 4 Mbit/s, a keyframe every
   2 s, no B-frames; encoded once and kept in the system temp folder) is looped to
   ``seconds`` of footage and written as the recorder's segments would be: fragmented
   MP4 of ``segment_seconds`` each, age-encrypted through a real ``SegmentStore`` of a
   real box (``open_box``: SQLite index, owner keys at scrypt work factor 15, the audit
   log). Looping does not flatter the figure: a stream copy's cost is bytes and packets,
   not picture content, and the bytes are the source's real bit rate.
2. Unredacted export, timed end to end, twice. First as the dashboard's export job does
   it: ``stream_bundle`` (the enforcement point, decrypt every segment, stream-copy remux
   through a sealed scratch file, moov first, hashed as it is written, the
   ``share.release`` audit entry and a signed checkpoint, inclusion proofs, the DSSE
   signatures) then ``zip_stream`` into a sealed scratch file (the job's result). Then as
   ``nvr share export --zip`` does it: ``export_bundle`` (the folder written) then
   ``zip_folder`` to a file. Reported as clip seconds per wall second (x real time;
   issue 7's target is >= 50x, on the job), CPU seconds (``time.process_time``: all
   threads of this process) and peak RSS (``VmHWM``, reset through /proc/self/clear_refs
   before each run where the kernel allows; the RSS at the reset is reported too, so the
   export's own share is the difference). ``build_clip`` alone (decrypt + remux in
   memory: what playback does) is timed last, so its memory does not count above.
3. Redacted export: for each of ``redact_sizes`` a ``redact_seconds`` clip of footage at
   that size (a short source of its own) is consented with faces, one privacy mask and
   release text, and ``make_bundle`` is timed: frames per second of the whole redacted
   release (decode, face detection and tracking, blur, masks, text, H.264 re-encode,
   hashes, signatures).

The load average before and after is reported: on a shared machine the figures are
lower bounds. Targets are reported, never asserted.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from nvr.audit.entry import Actor
from nvr.bench import record
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.keys.store import Unlocked
from nvr.playback import build_clip
from nvr.record.fmp4 import MOVFLAGS
from nvr.redact import RedactionPlan
from nvr.service.box import Box, open_box
from nvr.sharing.bundle import (
    ExportContext,
    export_bundle,
    make_bundle,
    stream_bundle,
    zip_folder,
    zip_stream,
)
from nvr.sharing.consent import ClipRef, ConsentStore, Draft
from nvr.sharing.scratch import SealedFile
from nvr.storage.segments import SegmentStore

Progress = Callable[[str], None]

TARGET_REALTIME = 50.0  # issue 7: unredacted export of 10 min of 1080p at >= 50x real time
SECONDS = 600.0
SEGMENT_SECONDS = 60  # the config's default storage.segment_seconds
REDACT_SECONDS = 6.0
REDACT_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720))
MASK = ((0.8, 0.0), (1.0, 0.0), (1.0, 0.15), (0.8, 0.15))
BENCH = Actor("owner", "bench")
TICKS = 90_000  # the segments' time base, as RTSP's


@dataclass(frozen=True)
class UnredactedRun:
    clip_seconds: float
    frames: int
    segments: int
    clip_bytes: int
    zip_bytes: int
    wall_seconds: float  # the export job: stream_bundle + zip_stream to a sealed file
    cpu_seconds: float
    realtime: float  # clip seconds per wall second (the export job)
    build_clip_seconds: float  # decrypt + remux alone, in memory, timed apart
    export_seconds: float  # stream_bundle
    zip_seconds: float  # zip_stream to a sealed file
    peak_rss_bytes: int | None  # the export job
    peak_reset: bool  # whether the peak was reset before the run (else it includes setup)
    target_realtime: float
    met: bool
    start_rss_bytes: int | None = None  # RSS when the job's peak was reset
    cli_wall_seconds: float = 0.0  # export_bundle (folder) + zip_folder to a file
    cli_peak_rss_bytes: int | None = None
    scratch_peak_bytes: int = 0  # most disk the job's sealed scratch files took at once


@dataclass(frozen=True)
class RedactedRun:
    width: int
    height: int
    clip_seconds: float
    frames: int
    wall_seconds: float
    cpu_seconds: float
    fps: float  # frames released per wall second, the whole redacted make_bundle
    realtime: float
    frames_with_faces: int
    peak_rss_bytes: int | None


@dataclass(frozen=True)
class ExportResult:
    width: int
    height: int
    source_fps: int
    source_bitrate_bps: float
    source_cached: bool
    segment_seconds: int
    unredacted: UnredactedRun
    redacted: tuple[RedactedRun, ...]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


# --- measuring ----------------------------------------------------------------------


def _status_bytes(field: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _load() -> tuple[float, float, float]:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)
    return (round(one, 2), round(five, 2), round(fifteen, 2))


# --- footage ------------------------------------------------------------------------


@contextlib.contextmanager
def _box(folder: Path) -> Iterator[tuple[Box, bytes]]:
    """A fresh box in ``folder`` with owner keys; (box, passphrase)."""
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": folder / "data"})}
    )
    box = open_box(cfg, SystemClock())
    try:
        passphrase = ("bench-" + secrets.token_urlsafe(18)).encode()
        box.create_owner_keys(passphrase, 15, BENCH, "bench")
        yield box, passphrase
    finally:
        box.close()


def write_footage(
    store: SegmentStore,
    source: Path,
    camera: str,
    start: datetime,
    seconds: float,
    segment_seconds: float,
) -> tuple[int, int]:
    """Loop ``source``'s video packets into ``seconds`` of encrypted fMP4 segments from
    ``start``; (segments, frames). The source must start with a keyframe and hold whole
    GOPs, so the loop keeps the keyframe cadence."""
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate
        assert rate is not None
        fps = Fraction(rate)
        packets = [(bytes(p), p.is_keyframe) for p in container.demux(video) if p.size]
    if not packets or not packets[0][1]:
        raise ValueError(f"{source} does not start with a keyframe")
    total = round(seconds * fps)
    per_segment = round(segment_seconds * fps)
    segments = 0
    with av.open(str(source)) as template:
        vin = template.streams.video[0]
        for first in range(0, total, per_segment):
            last = min(total, first + per_segment)
            buffer = io.BytesIO()
            with av.open(buffer, "w", format="mp4", options={"movflags": MOVFLAGS}) as out:
                vout = out.add_stream_from_template(vin)
                vout.time_base = Fraction(1, TICKS)
                for index in range(first, last):
                    data, keyframe = packets[index % len(packets)]
                    packet = av.Packet(data)
                    packet.pts = packet.dts = round((index - first) * TICKS / fps)
                    packet.time_base = Fraction(1, TICKS)
                    packet.is_keyframe = keyframe
                    packet.stream = vout
                    out.mux(packet)
            segment = store.open_segment(camera, start + timedelta(seconds=float(first / fps)))
            segment.write(buffer.getvalue())
            segment.close(start + timedelta(seconds=float(last / fps)))
            segments += 1
    return segments, total


def _context(box: Box, consents: ConsentStore, store: SegmentStore) -> ExportContext:
    return ExportContext(
        consents=consents,
        store=store,
        audit=box.audit,
        clock=box.clock,
        device_key=box.keys.device_key(),
        device_id=box.device_id,
        record=box.record,
    )


# --- the run ------------------------------------------------------------------------


def run(
    directory: Path,
    *,
    seconds: float = SECONDS,
    width: int = record.WIDTH,
    height: int = record.HEIGHT,
    fps: int = record.FPS,
    bitrate: int = record.BITRATE,
    segment_seconds: int = SEGMENT_SECONDS,
    source_seconds: int = record.CLIP_FILE_SECONDS,
    redact_seconds: float = REDACT_SECONDS,
    redact_sizes: Sequence[tuple[int, int]] = REDACT_SIZES,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    say = progress or (lambda line: None)
    cache = cache or Path(tempfile.gettempdir()) / "nvr-bench-record"
    source = record.source_clip(
        cache,
        width=width,
        height=height,
        fps=fps,
        seconds=source_seconds,
        bitrate=bitrate,
        progress=say,
    )
    work = Path(tempfile.mkdtemp(prefix="nvr-bench-export-", dir=directory))
    load_before = _load()
    try:
        with _box(work) as (box, passphrase):
            store = box.segment_store()
            start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
            say(
                f"writing {seconds:g} s of {width}x{height} footage in {segment_seconds} s segments"
            )
            segments, frames = write_footage(
                store, Path(source.path), "porch", start, seconds, segment_seconds
            )
            unlocked = box.keys.unlock(passphrase)
            consents = ConsentStore(box.sessions, box.keys, box.record, box.clock)
            ctx = _context(box, consents, store)
            clip = ClipRef("porch", start, start + timedelta(seconds=seconds))
            view = consents.grant(
                passphrase,
                Draft(clip=clip, plan=RedactionPlan(faces=False), audio=False, recipient="bench"),
                BENCH,
            )
            scratch = work / "scratch"
            say("unredacted export as the job does it: stream_bundle + zip_stream (sealed)")
            reset = _reset_peak()
            start_rss = _status_bytes("VmRSS")
            wall0, cpu0 = time.perf_counter(), time.process_time()
            with stream_bundle(
                ctx,
                view.id,
                clip,
                BENCH,
                scratch=scratch,
                identities=unlocked.identities,
                owner_key=unlocked.signing_key,
            ) as bundle:
                exported = time.perf_counter()
                scratch_peak = sum(p.stat().st_size for p in scratch.iterdir())
                with SealedFile.create(scratch) as zipped:
                    zip_stream(bundle.entries(), "bundle", zipped)
                    zipped.flush()
                    scratch_peak = max(
                        scratch_peak, sum(p.stat().st_size for p in scratch.iterdir())
                    )
                    zip_bytes = zipped.size
                clip_bytes = bundle.clip.size
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            peak = _status_bytes("VmHWM")
            say("unredacted export as the CLI does it: export_bundle + zip_folder")
            _reset_peak()
            cli0 = time.perf_counter()
            out = work / "bundle"
            export_bundle(
                ctx,
                view.id,
                clip,
                out,
                BENCH,
                identities=unlocked.identities,
                owner_key=unlocked.signing_key,
            )
            with (work / "bundle.zip").open("w+b") as dest:
                zip_folder(out, dest)
            cli_wall = time.perf_counter() - cli0
            cli_peak = _status_bytes("VmHWM")
            say("build_clip alone (decrypt + remux, in memory)")
            b0 = time.perf_counter()
            built = build_clip(store, unlocked.identities, "porch", clip.start, clip.end)
            build_seconds = time.perf_counter() - b0
            del built
            realtime = seconds / wall
            unredacted = UnredactedRun(
                clip_seconds=seconds,
                frames=frames,
                segments=segments,
                clip_bytes=clip_bytes,
                zip_bytes=zip_bytes,
                wall_seconds=round(wall, 3),
                cpu_seconds=round(cpu, 3),
                realtime=round(realtime, 2),
                build_clip_seconds=round(build_seconds, 3),
                export_seconds=round(exported - wall0, 3),
                zip_seconds=round(wall0 + wall - exported, 3),
                peak_rss_bytes=peak,
                peak_reset=reset,
                target_realtime=TARGET_REALTIME,
                met=realtime >= TARGET_REALTIME,
                start_rss_bytes=start_rss,
                cli_wall_seconds=round(cli_wall, 3),
                cli_peak_rss_bytes=cli_peak,
                scratch_peak_bytes=scratch_peak,
            )
            shutil.rmtree(out)
            (work / "bundle.zip").unlink()
            redacted = tuple(
                _redacted(
                    box,
                    ctx,
                    consents,
                    passphrase,
                    unlocked,
                    size,
                    fps,
                    bitrate,
                    cache,
                    redact_seconds,
                    start + timedelta(hours=1),
                    say,
                )
                for size in redact_sizes
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportResult(
        width=width,
        height=height,
        source_fps=fps,
        source_bitrate_bps=round(source.bitrate),
        source_cached=source.cached,
        segment_seconds=segment_seconds,
        unredacted=unredacted,
        redacted=redacted,
        load_before=load_before,
        load_after=_load(),
    )


def _redacted(
    box: Box,
    ctx: ExportContext,
    consents: ConsentStore,
    passphrase: bytes,
    unlocked: Unlocked,
    size: tuple[int, int],
    fps: int,
    bitrate: int,
    cache: Path,
    seconds: float,
    start: datetime,
    say: Progress,
) -> RedactedRun:
    """A redacted ``make_bundle`` of ``seconds`` of footage at ``size``."""
    width, height = size
    gop = record.GOP_SECONDS
    length = max(int(gop), int(-(-seconds // gop) * gop))  # whole GOPs
    # Scale the bit rate with the picture, as a camera's sub-stream would be.
    rate = max(250_000, round(bitrate * width * height / (1920 * 1080)))
    source = record.source_clip(
        cache, width=width, height=height, fps=fps, seconds=length, bitrate=rate, progress=say
    )
    camera = f"porch-{width}x{height}"
    write_footage(ctx.store, Path(source.path), camera, start, seconds, 60)
    clip = ClipRef(camera, start, start + timedelta(seconds=seconds))
    plan = RedactionPlan(faces=True, masks=(MASK,), text="Released to bench - request #0")
    view = consents.grant(
        passphrase, Draft(clip=clip, plan=plan, audio=False, recipient="bench"), BENCH
    )
    say(f"redacted export at {width}x{height}: {seconds:g} s")
    _reset_peak()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    bundle = make_bundle(
        ctx,
        view.id,
        clip,
        BENCH,
        identities=unlocked.identities,
        owner_key=unlocked.signing_key,
    )
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    report = json.loads(bundle.files["manifest.json"])["redaction_report"] or {}
    frames = int(report.get("frames", 0))
    return RedactedRun(
        width=width,
        height=height,
        clip_seconds=seconds,
        frames=frames,
        wall_seconds=round(wall, 3),
        cpu_seconds=round(cpu, 3),
        fps=round(frames / wall, 2),
        realtime=round(seconds / wall, 3),
        frames_with_faces=int(report.get("frames_with_faces", 0)),
        peak_rss_bytes=_status_bytes("VmHWM"),
    )
