"""``nvr bench``: run the benchmarks, print their figures, optionally write them as JSON.

One command per benchmark module in ``nvr.bench`` (``nvr bench storage``, ``nvr bench
record``), and ``nvr bench all`` (``nvr.bench.suite``) running them all into one table
headed by how many 1080p cameras this machine holds; bare ``nvr bench`` prints the help,
since a full run takes half an hour. Figures go to stdout as a table, progress to stderr,
``--json FILE`` writes ``nvr.bench.document`` (figures + machine + timestamp).
Benchmarks exit 0 whatever the figures: a target missed is reported, not an error
(docs/performance.md records the figures).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nvr.bench import dashboard, document, record, storage, suite
from nvr.bench.machine import Machine, describe
from nvr.cli import options
from nvr.errors import UserError

if TYPE_CHECKING:
    from nvr.bench import export, live, motion, redact, soak

app = typer.Typer(
    no_args_is_help=True,
    help="Measure what recording costs on this machine (run by hand; see docs/performance.md).",
)

SHORT_NAMES = {
    "raw": "raw ChaCha20-Poly1305",
    "age": "age stream (memory)",
    "store": "store write",
    "read": "store read back",
    "paced": "store write, 1 fsync/500 kB",
    "raw_write": "raw cipher + write + fsync",
    "raw_write_paced": "raw cipher + write, 1 fsync/500 kB",
}


def machine_lines(machine: Machine) -> list[str]:
    ram = f"{machine.ram_bytes / 2**30:.1f} GiB RAM" if machine.ram_bytes else "RAM unknown"
    disk = machine.disk
    kind = {True: "rotational", False: "non-rotational", None: "type unknown"}[disk.rotational]
    features = ", ".join(machine.cpu_features) or "none of note"
    return [
        f"CPU: {machine.cpu_model}, {machine.usable_cpus} of {machine.logical_cpus} logical "
        f"CPUs usable ({features}); {ram}",
        f"Disk: {disk.device or '?'} ({disk.filesystem or '?'}, {disk.model or 'model unknown'}, "
        f"{kind}) at {disk.mount_point or '?'}",
        f"{machine.os} {machine.arch}; {machine.python}; cryptography {machine.cryptography} "
        f"with {machine.cryptography_openssl}; Python ssl {machine.python_openssl}",
    ]


def storage_table(result: storage.StorageResult) -> Table:
    raw = result.stage("raw")
    table = Table(
        title=f"{result.plaintext_bytes / 2**20:.0f} MiB in {result.segments} segments, "
        f"{result.packet_bytes} B writes; median of {result.repeat}",
        title_justify="left",
    )
    for heading in ("stage", "MB/s", "CPU s/GB", "CPU s per stream-hour", "% of a core", "vs raw"):
        table.add_column(heading, justify="left" if heading == "stage" else "right")
    for s in result.stages:
        table.add_row(
            SHORT_NAMES.get(s.name, s.name),
            f"{s.mb_per_s:,.0f}",
            f"{s.cpu_seconds_per_gb:.2f}",
            f"{s.cpu_seconds_per_stream_hour:.2f}",
            f"{s.core_percent:.3f}",
            f"{s.mb_per_s / raw.mb_per_s:.0%}",
        )
    return table


def summary_lines(result: storage.StorageResult) -> list[str]:
    verdict = "met" if result.meets_target else "NOT met"
    unlock = result.unlock
    how = "calibrated here" if unlock.calibrated else "given"
    return [
        f"store / raw cipher: {result.store_vs_raw:.0%} (target >= {result.target:.0%}: {verdict})",
        f"store / raw cipher + write: {result.store_vs_raw_write:.0%}; at a stream's fsync "
        f"rate: {result.paced_vs_raw_write_paced:.0%}",
        f"unlock: logN {unlock.log_n} ({how}), {unlock.seconds:.3f} s (median of "
        f"{len(unlock.runs)})",
        "stream-hour = 1.8 GB (one 4 Mbit/s camera for an hour); "
        f"read back {'from disk (page cache dropped)' if result.cold_read else 'from cache'}; "
        f"fsync at most every {result.fsync_interval:g} s",
    ]


@app.command("storage")
def storage_command(
    megabytes: Annotated[
        int, typer.Option("--megabytes", min=1, help="Plaintext size in MiB.", metavar="N")
    ] = storage.DEFAULT_SIZE // 2**20,
    repeat: Annotated[int, options.BENCH_REPEAT] = 3,
    folder: Annotated[Path | None, options.BENCH_DIR] = None,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
    log_n: Annotated[
        int | None,
        typer.Option(
            "--log-n",
            min=1,
            max=22,
            help="scrypt work factor for the unlock figure. Default: calibrated to ~1 s here, "
            "as 'nvr keys init' does.",
            metavar="N",
        ),
    ] = None,
    fsync_interval: Annotated[
        float,
        typer.Option(
            "--fsync-interval", min=0.0, help="Seconds between fsyncs while writing.", metavar="S"
        ),
    ] = 1.0,
) -> None:
    """Encrypt+write and read-back throughput of the segment store against the raw cipher,
    CPU per hour of a 4 Mbit/s stream, and unlock time."""
    where = folder or Path(tempfile.gettempdir())
    if not where.is_dir():
        raise UserError(f"--dir {where}: no such folder", hint="create it first")
    err = Console(stderr=True)
    out = Console(width=max(100, Console().width))
    machine = describe(where)
    result = storage.run(
        where,
        size_bytes=megabytes * 2**20,
        repeat=repeat,
        fsync_interval=fsync_interval,
        log_n=log_n,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    _report(
        out, "storage", result, machine, storage_table(result), summary_lines(result), json_file
    )


def _report(
    out: Console,
    kind: str,
    result: Any,
    machine: Machine,
    table: Table | list[Table],
    summary: list[str],
    json_file: Path | None,
) -> None:
    """Print the machine, the table(s) and the summary; write the JSON document if asked."""
    for line in machine_lines(machine):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    for each in table if isinstance(table, list) else [table]:
        out.print(each)
    for line in summary:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    if json_file is not None:
        doc = document(kind, result, machine, datetime.now(UTC))
        json_file.write_text(json.dumps(doc, indent=2) + "\n")
        out.print(f"wrote {json_file}", highlight=False, markup=False)


def _mb(value: int | None) -> str:
    return "?" if value is None else f"{value / record.MB:.0f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def record_table(result: record.RecordResult) -> Table:
    src = result.source
    table = Table(
        title=f"{src.width}x{src.height} H.264 {src.fps} fps at {src.bitrate / 1e6:.2f} Mbit/s, "
        f"{result.seconds:g} s per run, {result.segment_seconds:g} s segments",
        title_justify="left",
    )
    headings = (
        "cameras",
        "% core",
        "% core/stream",
        "server % core",
        "RSS start/peak/end MB",
        "packets recv/expected",
        "dropped",
        "reconnects",
        "segments",
        "MB written",
        "playback s",
    )
    for heading in headings:
        table.add_column(heading, justify="right")
    for r in result.runs:
        server = "?" if r.server_core_percent is None else f"{r.server_core_percent:.1f}"
        playback = "-" if r.playback_seconds is None else f"{r.playback_seconds:.3f}"
        table.add_row(
            str(r.cameras),
            f"{r.core_percent:.1f}",
            f"{r.core_percent_per_stream:.2f}",
            server,
            f"{_mb(r.rss_start_bytes)}/{_mb(r.rss_peak_bytes)}/{_mb(r.rss_end_bytes)}",
            f"{r.received}/{r.expected}",
            str(r.dropped),
            str(r.reconnects),
            str(r.segments),
            f"{r.bytes_written / record.MB:.1f}",
            playback,
        )
    return table


def record_summary(result: record.RecordResult) -> list[str]:
    t = result.targets
    clips = {r.playback_clip_seconds for r in result.runs if r.playback_clip_seconds}
    clip = f"{max(clips):.0f} s clip" if clips else "no clip"
    return [
        f"record path <= {t.core_percent_per_stream:g}% of a core per stream: "
        f"{_verdict(result.cpu_met)}",
        f"{t.zero_loss_cameras} cameras with zero loss: {_verdict(result.zero_loss_met)}",
        f"peak RSS <= {t.rss_bytes / record.MB:.0f} MB with {t.rss_cameras} cameras: "
        f"{_verdict(result.rss_met)}",
        f"playback time to first byte <= {t.playback_seconds * 1000:.0f} ms ({clip}, median "
        f"of each run's repeats): {_verdict(result.playback_met)}",
        "each N runs in a fresh process; RSS start = that process before any reader (CLI "
        "imported, index migrated); lost = dropped + short by over half a second of frames "
        "+ reconnects",
    ]


def _camera_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise UserError(f"--cameras {text!r}: give positive counts separated by commas, e.g. 1,4")
    return counts


@app.command("record")
def record_command(
    cameras: Annotated[
        str,
        typer.Option("--cameras", help="Camera counts to run, comma-separated.", metavar="N,N"),
    ] = ",".join(str(n) for n in record.DEFAULT_CAMERAS),
    seconds: Annotated[
        float,
        typer.Option("--seconds", min=1.0, help="Measured seconds per camera count.", metavar="S"),
    ] = record.DEFAULT_SECONDS,
    segment_seconds: Annotated[
        float,
        typer.Option(
            "--segment-seconds", min=1.0, max=3600.0, help="Recorder segment length.", metavar="S"
        ),
    ] = record.SEGMENT_SECONDS,
    folder: Annotated[Path | None, options.BENCH_DIR] = None,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Record N cameras at once from GStreamer's RTSP server (1080p H.264, ~4 Mbit/s):
    CPU per stream, RSS, packets lost; and playback time to first byte. Needs a Porchlight
    checkout and Debian's GStreamer packages (it runs tests/support/gst_rtsp_server_main.py)."""
    counts = _camera_counts(cameras)
    where = folder or Path(tempfile.gettempdir())
    if not where.is_dir():
        raise UserError(f"--dir {where}: no such folder", hint="create it first")
    if reason := record.server_unavailable_reason():
        raise UserError(f"cannot run the RTSP server: {reason}")
    err = Console(stderr=True)
    out = Console(width=max(140, Console().width))
    machine = describe(where)
    result = record.run(
        where,
        cameras=counts,
        seconds=seconds,
        segment_seconds=segment_seconds,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    _report(out, "record", result, machine, record_table(result), record_summary(result), json_file)


def motion_table(result: motion.MotionResult) -> Table:
    d, c = result.detector, result.camera
    table = Table(
        title=f"motion, '{result.scene}' scene: detector at {d.width}x{d.height}; camera "
        f"{c.width}x{c.height} H.264 {c.source_fps} fps ({c.bitrate_kbps:.0f} kbit/s), "
        f"{c.analysis_fps:g} fps analysed",
        title_justify="left",
    )
    for heading in ("stage", "median µs/frame", "p90 µs/frame", "CPU ms per s", "% of a core"):
        table.add_column(heading, justify="left" if heading == "stage" else "right")
    table.add_row(
        f"Detector.process ({d.frames} frames x {d.passes})",
        f"{d.median_us:.0f}",
        f"{d.p90_us:.0f}",
        f"{d.median_us * c.analysis_fps / 1000:.2f}",
        f"{d.median_us * c.analysis_fps / 10_000:.2f}",
    )
    for name, ms in (
        (f"decode (all {c.frames_decoded} frames)", c.decode_ms_per_s),
        (f"luma + resize ({c.frames_analysed} frames)", c.luma_ms_per_s),
        (f"detect ({c.frames_analysed} frames)", c.detect_ms_per_s),
        ("total per camera", c.total_ms_per_s),
    ):
        table.add_row(name, "", "", f"{ms:.2f}", f"{ms / 10:.2f}")
    return table


def motion_summary(result: motion.MotionResult) -> list[str]:
    d, c = result.detector, result.camera
    return [
        f"detector median <= {d.target_median_us:g} µs per analysed frame: "
        f"{_verdict(d.met)} ({d.median_us:.0f} µs; mean {d.mean_us:.0f} µs)",
        f"cameras with motion on {result.usable_cpus} core(s) at {result.budget:.0%} of each: "
        f"{result.cameras_fit} (motion only: decode + luma + detect, "
        f"{c.core_percent:.2f}% of a core each)",
        f"decoder as the live worker sets it: {c.decoder}; CPU = time.process_time, "
        f"median of {c.repeat} runs over {c.video_seconds:g} s of video",
    ]


@app.command("motion")
def motion_command(
    passes: Annotated[
        int,
        typer.Option("--passes", min=1, help="Passes of the detector over the scene.", metavar="N"),
    ] = 20,
    repeat: Annotated[int, options.BENCH_REPEAT] = 5,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Motion detection's cost: the detector per analysed frame (320x180, decode
    excluded), decoding a 640x360 15 fps sub-stream analysed at 5 fps, the total per
    camera, and how many cameras with motion fit on this machine."""
    from nvr.bench import motion as bench

    where = Path(tempfile.gettempdir())
    err = Console(stderr=True)
    out = Console(width=max(100, Console().width))
    machine = describe(where)
    result = bench.run(
        where,
        passes=passes,
        repeat=repeat,
        cpus=machine.usable_cpus,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    _report(out, "motion", result, machine, motion_table(result), motion_summary(result), json_file)


def live_table(result: live.LiveResult) -> Table:
    table = Table(
        title=f"live view of '{result.camera}' (nvr demo) in Chromium, inside a network "
        f"namespace; codec {result.codec or '?'}",
        title_justify="left",
    )
    for heading in ("figure", "value", "target", "verdict"):
        table.add_column(heading, justify="left" if heading == "figure" else "right")
    table.add_row(
        f"page load -> first frame, median of {result.trials}",
        f"{result.first_frame_median_ms:.0f} ms",
        f"<= {result.first_frame_target_ms} ms",
        _verdict(result.first_frame_met),
    )
    table.add_row("page load -> first frame, max", f"{result.first_frame_max_ms} ms", "", "")
    table.add_row("service CPU, no viewer", f"{result.cpu_idle_percent:.1f} %", "", "")
    table.add_row(
        f"service CPU, {result.viewers} viewers", f"{result.cpu_with_viewers_percent:.1f} %", "", ""
    )
    table.add_row(
        "service CPU per viewer (% of one core)",
        f"{result.cpu_per_viewer_percent:.2f} %",
        f"<= {result.per_viewer_target_percent:g} %",
        _verdict(result.per_viewer_met),
    )
    return table


@app.command("live")
def live_command(
    viewers: Annotated[
        int, typer.Option("--viewers", min=1, max=8, help="Viewers for the CPU figure.")
    ] = 4,
    seconds: Annotated[
        float, typer.Option("--seconds", min=1.0, help="Measured seconds, each phase.", metavar="S")
    ] = 20.0,
    trials: Annotated[int, typer.Option("--trials", min=1, help="First-frame trials.")] = 5,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Live view: page load to first frame in Chromium, and the service's CPU per viewer,
    with ``nvr demo`` inside a network namespace it creates (root only; Debian chromium
    and the playwright package)."""
    from nvr.bench import live

    if reason := live.unavailable():
        raise UserError(f"cannot run the live benchmark: {reason}")
    err = Console(stderr=True)
    out = Console(width=max(120, Console().width))
    where = Path(tempfile.gettempdir())
    machine = describe(where)
    result = live.run(
        where,
        viewers=viewers,
        seconds=seconds,
        trials=trials,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    summary = [
        f"first frame: {', '.join(f'{ms} ms' for ms in result.first_frame_ms)}",
        "CPU per viewer = (CPU with viewers - CPU without) / viewers; the browser's decoding "
        "is not in it.",
    ]
    _report(out, "live", result, machine, live_table(result), summary, json_file)


def _kb(n: float) -> str:
    return f"{n / 1000:.1f}"


def _ms(s: dashboard.Spread) -> str:
    return f"{s.median:.0f} ({s.low:.0f}-{s.high:.0f})"


def pages_table(result: dashboard.DashboardResult) -> Table:
    table = Table(
        title=f"dashboard pages in Chromium (nvr demo on 127.0.0.1), kB decoded; ms from "
        f"navigation start, median (range) of {result.repeat}",
        title_justify="left",
    )
    headings = ("page", "HTML", "JS", "CSS", "total kB", "sent kB", "API calls", "off-box")
    for heading in (*headings, "DOMContentLoaded ms", "load ms"):
        table.add_column(heading, justify="left" if heading == "page" else "right")
    for p in result.pages:
        table.add_row(
            f"{p.name} ({p.path})",
            _kb(p.html_bytes),
            _kb(p.js_bytes),
            _kb(p.css_bytes),
            _kb(p.total_bytes),
            _kb(p.transferred_bytes),
            str(p.api_calls),
            str(p.offsite_requests),
            _ms(p.dom_content_loaded_ms),
            _ms(p.load_ms),
        )
    return table


def redact_table(result: redact.RedactResult) -> Table:
    table = Table(
        title=f"redaction of {result.clip_seconds:g} s of the faces scene at "
        f"{result.source_fps} fps (faces, one mask, release text; H.264 re-encode)",
        title_justify="left",
    )
    for heading in ("size", "frames", "frames/s", "x real time", "detect frames/s", "CPU s"):
        table.add_column(heading, justify="left" if heading == "size" else "right")
    for s in result.sizes:
        table.add_row(
            f"{s.width}x{s.height}",
            str(s.frames),
            f"{s.fps:.1f}",
            f"{s.realtime:.2f}",
            f"{s.detect_fps:.1f}",
            f"{s.cpu_seconds:.1f}",
        )
    return table


def playback_table(result: dashboard.DashboardResult) -> Table:
    clips = [t.clip_seconds for t in result.trials]
    table = Table(
        title=f"playback on the Timeline page: {result.video}; clips of "
        f"{min(clips):.0f}-{max(clips):.0f} s; median (range) of {result.repeat}",
        title_justify="left",
    )
    for heading in ("figure", "ms", "target", "verdict"):
        table.add_column(heading, justify="left" if heading == "figure" else "right")
    target = f"<= {result.first_frame_target_ms} ms"

    def spread_of(values: list[float]) -> str:
        return _ms(dashboard.spread(values))

    t = result.trials
    table.add_row(
        "cold clip: click -> first frame",
        _ms(result.cold_first_frame_ms),
        target,
        _verdict(result.cold_met),
    )
    table.add_row("  click -> <video> src set", spread_of([x.cold_click_to_src_ms for x in t]))
    table.add_row("  click -> loadeddata", spread_of([x.cold_click_to_loadeddata_ms for x in t]))
    if result.cold_server_ms is not None:
        table.add_row("  clip request -> first byte", _ms(result.cold_server_ms))
    table.add_row(
        "warm clip (cached): click -> first frame",
        _ms(result.warm_first_frame_ms),
        target,
        _verdict(result.warm_met),
    )
    table.add_row(
        "seek in the clip: currentTime -> next frame",
        _ms(result.seek_first_frame_ms),
        target,
        _verdict(result.seek_met),
    )
    table.add_row("  currentTime -> seeked", spread_of([x.seek_to_seeked_ms for x in t]))
    if result.chunk_switch_ms is not None:
        table.add_row("next chunk: ended -> its first frame", _ms(result.chunk_switch_ms))
        skipped = [x.chunk_switch_media_s for x in t if x.chunk_switch_media_s is not None]
        table.add_row(
            "  its first frame, s into its clip (GOP already shown, skipped)",
            ", ".join(f"{x:.1f}" for x in skipped),
        )
    for label, clip in (("clip route", result.server_clip), ("clip route, all", result.full_clip)):
        table.add_row(
            f"{label}: {clip.seconds:.0f} s, {_kb(clip.bytes)} kB, cold (built) -> headers",
            _ms(clip.cold_ms),
        )
        table.add_row(f"{label}: same clip again (cached) -> headers", _ms(clip.warm_ms))
    return table


@app.command("dashboard")
def dashboard_command(
    repeat: Annotated[int, options.BENCH_REPEAT] = dashboard.DEFAULT_REPEAT,
    record_seconds: Annotated[
        float,
        typer.Option(
            "--record-seconds",
            min=10.0,
            help="Footage to record before the playback trials.",
            metavar="S",
        ),
    ] = dashboard.DEFAULT_RECORD_SECONDS,
    with_live: Annotated[
        bool | None,
        typer.Option(
            "--live/--no-live",
            help="Also run 'nvr bench live' (root). Default: when this machine can.",
        ),
    ] = None,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """The dashboard in Chromium: each page's weight and load times, playback time to
    first frame (a cold clip, a cached one, a seek) with the clip route's own time, and,
    as root, the live view's figures ('nvr bench live', with --repeat first-frame trials).
    Runs 'nvr demo' on 127.0.0.1 (Debian chromium and the playwright package)."""
    from nvr.bench import live

    if reason := dashboard.unavailable():
        raise UserError(f"cannot run the dashboard benchmark: {reason}")
    live_reason = live.unavailable()
    if with_live and live_reason:
        raise UserError(f"cannot run the live part: {live_reason}", hint="or give --no-live")
    err = Console(stderr=True)
    out = Console(width=max(140, Console().width))
    where = Path(tempfile.gettempdir())
    machine = describe(where)

    def progress(line: str) -> None:
        err.print(f"[dim]{line}[/dim]", highlight=False)

    result = dashboard.run(where, repeat=repeat, record_seconds=record_seconds, progress=progress)
    summary = [
        "cold first frame per trial: "
        + ", ".join(
            f"{x.cold_click_to_frame_ms:.0f} ms ({x.clip_seconds:.0f} s clip, "
            f"{_kb(x.clip_bytes)} kB)"
            for x in result.trials
        ),
        f"{result.footage_seconds:.0f} s recorded in {result.segment_seconds} s segments before "
        f"the trials, {result.footage_kbit_s:.0f} kbit/s; a clip is built whole (decrypt + "
        "remux) before its first byte, so a real camera's bit rate costs more per clip "
        "(docs/performance.md, Dashboard)",
        "Live page measured with RTCPeerConnection removed (snapshot fallback, no WebRTC "
        "outside a namespace); times include Chromium's own start-up work per tab.",
    ]
    tables = [pages_table(result), playback_table(result)]
    if with_live is not False and live_reason is None:
        result = dataclasses.replace(result, live=live.run(where, trials=repeat, progress=progress))
        assert result.live is not None
        tables.append(live_table(result.live))
    elif live_reason:
        summary.append(f"live view not measured: {live_reason}")
    _report(out, "dashboard", result, machine, tables, summary, json_file)


@app.command("redact")
def redact_command(
    seconds: Annotated[
        float, typer.Option("--seconds", min=1.0, help="Clip length.", metavar="S")
    ] = 6.0,
    fps: Annotated[int, typer.Option("--fps", min=1, max=30, help="Clip frame rate.")] = 10,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Redaction's speed (frames per second, face detection + blur + masks + text +
    H.264 encode) at 1080p and 720p on the synthetic faces scene."""
    from nvr.bench import redact as bench

    where = Path(tempfile.gettempdir())
    err = Console(stderr=True)
    out = Console(width=max(100, Console().width))
    machine = describe(where)
    with tempfile.TemporaryDirectory(prefix="nvr-bench-redact-") as folder:
        result = bench.run(
            Path(folder),
            seconds=seconds,
            fps=fps,
            progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
        )
    summary = [
        "Detection runs on every frame scaled to 640 px wide (docs/design/redaction.md); "
        "the owner watches the preview, which is encoded faster and smaller."
    ]
    _report(out, "redact", result, machine, redact_table(result), summary, json_file)


def _size(text: str, what: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise UserError(f"{what} {text!r}: expected WIDTHxHEIGHT, like 1920x1080")
    w, h = int(width), int(height)
    if not (64 <= w <= 7680 and 64 <= h <= 4320 and w % 2 == 0 and h % 2 == 0):
        raise UserError(f"{what} {text!r}: even sizes from 64x64 to 7680x4320")
    return w, h


def export_table(result: export.ExportResult) -> Table:
    u = result.unredacted
    table = Table(
        title=f"unredacted export of {u.clip_seconds / 60:g} min of {result.width}x"
        f"{result.height} at {result.source_fps} fps, "
        f"{result.source_bitrate_bps / record.MB:.1f} Mbit/s, {u.segments} segments "
        "(the export job: stream_bundle + zip_stream, sealed scratch files)",
        title_justify="left",
    )
    for heading in ("figure", "value", "target", "verdict"):
        table.add_column(heading, justify="left" if heading == "figure" else "right")
    table.add_row(
        "x real time",
        f"{u.realtime:.1f}",
        f">= {u.target_realtime:g}",
        _verdict(u.met),
    )
    table.add_row(
        "wall s (bundle / zip)",
        f"{u.wall_seconds:.2f} ({u.export_seconds:.2f} / {u.zip_seconds:.2f})",
        "",
        "",
    )
    table.add_row("CPU s", f"{u.cpu_seconds:.2f}", "", "")
    peak = _mb(u.peak_rss_bytes) + ("" if u.peak_reset else " (peak not reset)")
    table.add_row("peak RSS MB (RSS at start)", f"{peak} ({_mb(u.start_rss_bytes)})", "", "")
    table.add_row("sealed scratch on disk, most at once MB", _mb(u.scratch_peak_bytes), "", "")
    table.add_row(
        "CLI path: export_bundle + zip_folder s / peak RSS MB",
        f"{u.cli_wall_seconds:.2f} / {_mb(u.cli_peak_rss_bytes)}",
        "",
        "",
    )
    table.add_row(
        "build_clip alone s (decrypt + remux in memory)", f"{u.build_clip_seconds:.2f}", "", ""
    )
    table.add_row("clip.mp4 / zip MB", f"{_mb(u.clip_bytes)} / {_mb(u.zip_bytes)}", "", "")
    return table


def export_redacted_table(result: export.ExportResult) -> Table:
    table = Table(
        title="redacted export (make_bundle: faces, one mask, release text; H.264 re-encode)",
        title_justify="left",
    )
    for heading in ("size", "clip s", "frames", "frames/s", "x real time", "CPU s", "peak RSS MB"):
        table.add_column(heading, justify="left" if heading == "size" else "right")
    for r in result.redacted:
        table.add_row(
            f"{r.width}x{r.height}",
            f"{r.clip_seconds:g}",
            str(r.frames),
            f"{r.fps:.1f}",
            f"{r.realtime:.2f}",
            f"{r.cpu_seconds:.1f}",
            _mb(r.peak_rss_bytes),
        )
    return table


@app.command("export")
def export_command(
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds", min=1.0, max=6 * 3600.0, help="Unredacted clip length.", metavar="S"
        ),
    ] = 600.0,
    size: Annotated[str, typer.Option("--size", help="Footage size.", metavar="WxH")] = "1920x1080",
    fps: Annotated[int, typer.Option("--fps", min=1, max=30, help="Footage frame rate.")] = 15,
    segment_seconds: Annotated[
        int,
        typer.Option("--segment-seconds", min=1, max=300, help="Segment length.", metavar="S"),
    ] = 60,
    redact_seconds: Annotated[
        float,
        typer.Option("--redact-seconds", min=1.0, help="Redacted clip length.", metavar="S"),
    ] = 6.0,
    redact_sizes: Annotated[
        str,
        typer.Option("--redact-sizes", help="Sizes of the redacted exports.", metavar="WxH,WxH"),
    ] = "1920x1080,1280x720",
    folder: Annotated[Path | None, options.BENCH_DIR] = None,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Export speed: an unredacted bundle of 10 minutes of 1080p end to end (decrypt,
    stream copy, faststart, hashes, signatures, audit proof, zip) as x real time (target
    >= 50x) with CPU and peak RSS; and redacted bundles (frames per second) at 1080p and
    720p. Footage is a synthetic 4 Mbit/s scene, encoded once and cached."""
    from nvr.bench import export

    width, height = _size(size, "--size")
    sizes = [_size(s.strip(), "--redact-sizes") for s in redact_sizes.split(",") if s.strip()]
    where = folder or Path(tempfile.gettempdir())
    if not where.is_dir():
        raise UserError(f"--dir {where}: no such folder", hint="create it first")
    err = Console(stderr=True)
    out = Console(width=max(110, Console().width))
    machine = describe(where)
    result = export.run(
        where,
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        segment_seconds=segment_seconds,
        source_seconds=min(record.CLIP_FILE_SECONDS, max(4, int(seconds) // 2 * 2)),
        redact_seconds=redact_seconds,
        redact_sizes=sizes,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    one, five, _ = result.load_before
    after, _, _ = result.load_after
    summary = [
        f"Load average before {one:.2f} (5 min {five:.2f}), after {after:.2f} on "
        f"{machine.usable_cpus} CPUs: other work on the machine lowers these figures.",
        "Not timed: the passphrase unlock (scrypt) that precedes an export. The unredacted "
        "export streams through sealed scratch files: its memory does not grow with the "
        "clip (docs/design/consent-and-export.md, Memory).",
    ]
    tables = [export_table(result), export_redacted_table(result)]
    _report(out, "export", result, machine, tables, summary, json_file)


def suite_table(result: suite.SuiteResult) -> Table:
    table = Table(title="every benchmark, one figure per row", title_justify="left")
    for heading in ("part", "figure", "value", "what it means"):
        table.add_column(heading, justify="right" if heading == "value" else "left")
    for row in result.rows:
        value = row.value if row.status == "ok" else f"[yellow]{row.value}[/yellow]"
        table.add_row(row.part, row.figure, value, row.meaning)
    return table


def _parts(text: str | None) -> list[str] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [p for p in parts if p not in suite.PARTS]
    if not parts or unknown:
        raise UserError(
            f"--only {text!r}: unknown part(s) {', '.join(unknown) or '(none given)'}",
            hint=f"known parts: {', '.join(suite.PARTS)}",
        )
    return parts


@app.command("all")
def all_command(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Small inputs: a few minutes in all, rougher figures. Default: the full inputs "
            "of each 'nvr bench <part>' (about half an hour).",
        ),
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help=f"Run only these parts (comma-separated: {', '.join(suite.PARTS)}).",
            metavar="PART,PART",
        ),
    ] = None,
    folder: Annotated[Path | None, options.BENCH_DIR] = None,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
    markdown_file: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Also write the table as a Markdown section for docs/performance.md.",
            metavar="FILE",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Every benchmark in one run (storage, record, motion, dashboard, live, export) and one
    table; first line: how many 1080p cameras this machine holds. Parts this machine cannot
    run (no Chromium; the live view needs root) are reported as skipped, not failed."""
    parts = _parts(only)
    where = folder or Path(tempfile.gettempdir())
    if not where.is_dir():
        raise UserError(f"--dir {where}: no such folder", hint="create it first")
    err = Console(stderr=True)
    out = Console(width=max(140, Console().width))
    machine = describe(where)
    result = suite.run(
        where,
        machine,
        quick=quick,
        only=parts,
        progress=lambda line: err.print(line, style="dim", highlight=False, markup=False),
    )
    out.print(result.headline.text, highlight=False, markup=False, soft_wrap=True)
    out.print(f"Machine: {suite.machine_text(machine)}", highlight=False, markup=False)
    one, five, _ = result.load_before
    out.print(
        f"Mode: {result.mode}; load average before {one:.2f} (5 min {five:.2f}), after "
        f"{result.load_after[0]:.2f}; {result.wall_seconds:.0f} s",
        highlight=False,
        markup=False,
    )
    out.print(suite_table(result))
    now = datetime.now(UTC)
    if json_file is not None:
        doc = document("all", result, machine, now)
        json_file.write_text(json.dumps(doc, indent=2) + "\n")
        out.print(f"wrote {json_file}", highlight=False, markup=False)
    if markdown_file is not None:
        when = now.strftime("%Y-%m-%d %H:%M UTC")
        markdown_file.write_text(suite.markdown(result, machine, when))
        out.print(f"wrote {markdown_file}", highlight=False, markup=False)


def soak_table(result: soak.SoakResult) -> Table:
    table = Table(
        title=f"soak: {result.cameras} cameras recording + motion, {result.viewers} live viewers, "
        f"an export a minute, {result.minutes:g} min ({len(result.samples)} samples)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    r = result
    rows = [
        ("packets received (all cameras)", f"{r.packets_received}"),
        ("dropped by the recorder (record path loss)", f"{r.recorder_drops}"),
        ("dropped by motion detection", f"{r.motion_drops}"),
        ("recording gaps / reconnects", f"{r.gaps} / {r.reconnects}"),
        ("segments closed", f"{r.segments}"),
        ("service RSS start -> end", f"{r.rss_start_mb:.1f} -> {r.rss_end_mb:.1f} MB"),
        (
            "RSS slope after warm-up",
            f"{r.rss_trend.slope_per_hour:+.2f} MB/hour (r^2 {r.rss_trend.r2:.2f})",
        ),
        ("motion-drop slope", f"{r.motion_drop_trend.slope_per_hour:+.1f} /hour"),
    ]
    for name, lat in (
        ("event latency, all", r.latency_all),
        ("event latency, first third", r.latency_first),
        ("event latency, last third", r.latency_last),
        ("export duration, first third", r.export_first),
        ("export duration, last third", r.export_last),
    ):
        value = (
            "-"
            if lat.median_s is None
            else f"median {lat.median_s:.3f} s, p95 {lat.p95_s:.3f} s, max {lat.max_s:.3f} s"
            f" (n={lat.count})"
        )
        rows.append((name, value))
    done = sum(1 for e in r.exports if e.state == "done")
    rows.append(("exports done", f"{done} of {len(r.exports)}"))
    rows.append(("live viewers", r.viewers_note))
    if r.viewer_frames:
        rows.append(("frames decoded per viewer", ", ".join(map(str, r.viewer_frames))))
    rows.append(("load average before / after", f"{r.load_before[0]} / {r.load_after[0]}"))
    for name, value in rows:
        table.add_row(name, value)
    return table


@app.command("soak")
def soak_command(
    minutes: Annotated[
        float, typer.Option("--minutes", min=0.5, help="How long the load runs.", metavar="M")
    ] = 30.0,
    cameras: Annotated[
        int, typer.Option("--cameras", min=1, max=16, help="Demo cameras recording.")
    ] = 4,
    viewers: Annotated[
        int, typer.Option("--viewers", min=0, max=8, help="aiortc live viewers (root).")
    ] = 3,
    export_every: Annotated[
        float,
        typer.Option("--export-every", min=5.0, help="Seconds between exports.", metavar="S"),
    ] = 60.0,
    sample_every: Annotated[
        float,
        typer.Option("--sample-every", min=1.0, help="Seconds between samples.", metavar="S"),
    ] = 5.0,
    json_file: Annotated[Path | None, options.BENCH_JSON] = None,
) -> None:
    """Soak: the real service (nvr demo) with N cameras recording and detecting motion,
    live viewers (aiortc over WebRTC inside a network namespace; skipped unless root) and
    an export a minute through the API, for M minutes. Reports record-path loss, RSS over
    time (least-squares slope), queue drops, motion event latency over SSE and export
    durations, with one verdict line per criterion (information, not a pass/fail)."""
    from nvr.bench import soak

    err = Console(stderr=True)
    out = Console(width=max(120, Console().width))
    where = Path(tempfile.gettempdir())
    machine = describe(where)
    result = soak.run(
        where,
        minutes=minutes,
        cameras=cameras,
        viewers=viewers,
        export_every=export_every,
        sample_every=sample_every,
        progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False),
    )
    summary = [f"{name}: {verdict}" for name, verdict in soak.verdicts(result)]
    summary += [f"error: {e}" for e in result.errors]
    summary.append(
        "event latency = SSE arrival - the event's time (footage time, the camera's clock): "
        "judge its stability, not its sign"
    )
    _report(out, "soak", result, machine, soak_table(result), summary, json_file)
    if json_file is not None:  # the verdicts too, as the table prints them
        doc = json.loads(json_file.read_text())
        doc["verdicts"] = result.as_json()["verdicts"]
        json_file.write_text(json.dumps(doc, indent=2) + "\n")
