"""``nvr bench all``: every benchmark in one run, one table of figures, one headline.

The contract: ``run(directory, quick=...)`` runs the parts in ``PARTS`` (or the subset
``only`` names) one after another, each with the inputs of its mode (``QUICK`` small
enough for a minute or three in all, ``FULL`` the inputs each ``nvr bench <part>``
uses by default), and returns a ``SuiteResult``: one ``Row`` per figure (what it is, its
value, what it means for a homeowner), each part's own full result (the same dataclass
``nvr bench <part> --json`` writes), and the headline: how many 1080p cameras this
machine holds.

A part that cannot run here (no Chromium, not root for the live view's network namespace,
no GStreamer RTSP server) gives rows that say ``skipped: <why>``; a part that fails gives
rows that say ``failed: <error>``. Neither stops the others: a homeowner on a Pi without
Chromium still learns the camera count.

The headline (``cameras_held``) never claims more cameras than were recorded here with
zero loss. Its estimate from measured costs is ``floor(cores x BUDGET / (record % per
stream + motion % per camera))`` (CPU), bounded by RAM (``RAM_SHARE`` of the machine's RAM
over the recorder's memory per camera, from the smallest and largest runs' peak RSS) and
by loss (below the smallest camera count that lost packets). When that estimate is below
the most cameras measured, it is the headline; otherwise the headline is "at least <the
most measured>": disk, network and the per-stream cost's growth with the count are
untested beyond it. Record figures come from the largest camera count measured (the
per-stream cost there includes the growth with the count). The record part runs one
camera count at a time, each with its own RTSP test server, retried once on failure, so
a count that fails (GStreamer's test server is known to stall when 16 sessions connect at
once) leaves the others' figures.

Nothing here asserts a target; the figures are printed and recorded
(docs/performance.md, "All benchmarks").
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nvr.bench import record, storage
from nvr.bench.machine import Machine

if TYPE_CHECKING:  # imported when a part runs: they pull in PyAV, playwright ...
    from nvr.bench import dashboard, export, live, motion

Progress = Callable[[str], None]

PARTS = ("storage", "record", "motion", "dashboard", "live", "export")
BROWSER_PARTS = ("dashboard", "live")
BUDGET = 0.70  # share of each core the cameras may use (as nvr.bench.motion.BUDGET)
RAM_SHARE = 0.5  # share of the machine's RAM the recorder may use
MB = 1_000_000


@dataclass(frozen=True)
class Inputs:
    """The inputs of one mode, for every part."""

    storage_mib: int
    storage_repeat: int
    storage_log_n: int | None  # the unlock's work factor; None: calibrated to ~1 s here
    record_cameras: tuple[int, ...]
    record_seconds: float
    record_segment_seconds: float
    record_clip_file_seconds: int
    record_playback_clip_seconds: float
    record_playback_repeat: int
    motion_passes: int
    motion_repeat: int
    dashboard_repeat: int
    dashboard_record_seconds: float
    live_viewers: int
    live_seconds: float
    live_trials: int
    export_seconds: float
    export_segment_seconds: int
    export_source_seconds: int
    export_redact_seconds: float
    export_redact_sizes: tuple[tuple[int, int], ...]


QUICK = Inputs(
    storage_mib=32,
    storage_repeat=1,
    storage_log_n=None,
    record_cameras=(1, 4, 16),
    record_seconds=6.0,
    record_segment_seconds=2.0,
    record_clip_file_seconds=6,
    record_playback_clip_seconds=4.0,
    record_playback_repeat=3,
    motion_passes=3,
    motion_repeat=2,
    dashboard_repeat=2,
    dashboard_record_seconds=12.0,
    live_viewers=2,
    live_seconds=8.0,
    live_trials=2,
    export_seconds=60.0,
    export_segment_seconds=10,
    export_source_seconds=6,
    export_redact_seconds=2.0,
    export_redact_sizes=((1920, 1080),),
)
FULL = Inputs(
    storage_mib=storage.DEFAULT_SIZE // 2**20,
    storage_repeat=3,
    storage_log_n=None,
    record_cameras=(1, 4, 8, 16),
    record_seconds=record.DEFAULT_SECONDS,
    record_segment_seconds=record.SEGMENT_SECONDS,
    record_clip_file_seconds=record.CLIP_FILE_SECONDS,
    record_playback_clip_seconds=record.CLIP_SECONDS,
    record_playback_repeat=record.PLAYBACK_REPEAT,
    motion_passes=20,
    motion_repeat=5,
    dashboard_repeat=5,
    dashboard_record_seconds=60.0,
    live_viewers=4,
    live_seconds=20.0,
    live_trials=5,
    export_seconds=600.0,
    export_segment_seconds=60,
    export_source_seconds=record.CLIP_FILE_SECONDS,
    export_redact_seconds=6.0,
    export_redact_sizes=((1920, 1080), (1280, 720)),
)


@dataclass(frozen=True)
class Row:
    """One figure of the table."""

    part: str  # the ``nvr bench <part>`` it comes from
    figure: str
    value: str  # as printed: "1.23 % of a core", or "skipped: needs chromium ..."
    meaning: str  # what it means for the box's owner
    number: float | None = None  # the value as a number (None when skipped or failed)
    unit: str = ""
    status: str = "ok"  # "ok", "skipped" or "failed"


@dataclass(frozen=True)
class Headline:
    cameras_held: int | None  # None: the record part did not run
    measured: int | None  # the most cameras recorded with zero loss in this run
    cpu_bound: int | None
    ram_bound: int | None
    loss_bound: int | None  # below the smallest camera count that lost packets, if any
    per_camera_core_percent: float | None  # record + motion, % of one core
    per_camera_rss_bytes: float | None
    text: str


@dataclass(frozen=True)
class SuiteResult:
    mode: str  # "quick" or "full"
    inputs: Inputs
    parts: tuple[str, ...]  # asked for
    rows: tuple[Row, ...]
    headline: Headline
    wall_seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    results: dict[str, Any] = field(default_factory=dict)  # part -> its result, as dicts
    skipped: dict[str, str] = field(default_factory=dict)  # part -> why
    failed: dict[str, str] = field(default_factory=dict)  # part -> the error


def _pct(value: float) -> str:
    return f"{value:.2f} % of a core"


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def storage_rows(r: storage.StorageResult) -> list[Row]:
    raw, store = r.stage("raw"), r.stage("store")
    return [
        Row(
            "storage",
            "raw cipher (ChaCha20-Poly1305) throughput",
            f"{raw.mb_per_s:,.0f} MB/s",
            "the ceiling: encryption in memory, nothing written",
            raw.mb_per_s,
            "MB/s",
        ),
        Row(
            "storage",
            "encrypted store write throughput",
            f"{store.mb_per_s:,.0f} MB/s ({r.store_vs_raw:.0%} of raw)",
            f"one 4 Mbit/s camera needs 0.5 MB/s: {store.core_percent:.3f} % of a core each",
            store.mb_per_s,
            "MB/s",
        ),
        Row(
            "storage",
            f"unlock (scrypt, logN {r.unlock.log_n}"
            f"{', calibrated here' if r.unlock.calibrated else ''})",
            f"{r.unlock.seconds:.2f} s",
            "how long the owner's passphrase takes to open the keys (sign-in, export)",
            r.unlock.seconds,
            "s",
        ),
    ]


def _largest(r: record.RecordResult) -> record.RunResult:
    return max(r.runs, key=lambda run: run.cameras)


def record_rows(parts: RecordParts) -> list[Row]:
    failed = [
        Row(
            "record",
            f"recorder, {n} camera(s)",
            f"failed: {error}",
            "not measured (the test RTSP server or this machine could not serve them)",
            status="failed",
        )
        for n, error in parts.failed.items()
    ]
    r = parts.result
    if r is None:
        return failed
    big = _largest(r)
    rows = [
        Row(
            "record",
            f"record path CPU per 1080p stream ({big.cameras} cameras)",
            _pct(big.core_percent_per_stream),
            "what each recorded camera costs (receive, segment, encrypt, write)",
            big.core_percent_per_stream,
            "% core",
        )
    ]
    for run in sorted(r.runs, key=lambda run: run.cameras):
        lost = "no loss" if run.zero_loss else f"LOST {run.dropped + run.short} packets"
        rows.append(
            Row(
                "record",
                f"recorder RSS, {run.cameras} camera(s) (peak)",
                f"{_mb(run.rss_peak_bytes)} MB",
                f"memory of the recording process with {run.cameras} camera(s); {lost}, "
                f"{run.reconnects} reconnects",
                None if run.rss_peak_bytes is None else run.rss_peak_bytes / MB,
                "MB",
            )
        )
    played = [run for run in r.runs if run.playback_seconds is not None]
    if played:
        run = played[0]
        rows.append(
            Row(
                "record",
                f"playback: clip request to first byte ({run.playback_clip_seconds or 0:.0f} s "
                "clip, decrypt + remux)",
                _ms((run.playback_seconds or 0) * 1000),
                "the server's part of pressing play on recorded footage",
                (run.playback_seconds or 0) * 1000,
                "ms",
            )
        )
    return rows + failed


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value / MB:.0f}"


def motion_rows(r: motion.MotionResult) -> list[Row]:
    d, c = r.detector, r.camera
    return [
        Row(
            "motion",
            f"motion detector per analysed frame ({d.width}x{d.height})",
            f"{d.median_us:.0f} µs",
            "the detector alone, decoding excluded",
            d.median_us,
            "µs",
        ),
        Row(
            "motion",
            f"motion CPU per camera ({c.width}x{c.height} sub-stream, {c.analysis_fps:g} fps "
            "analysed)",
            _pct(c.core_percent),
            "decode + analyse one camera's sub-stream",
            c.core_percent,
            "% core",
        ),
    ]


def dashboard_rows(r: dashboard.DashboardResult) -> list[Row]:
    return [
        Row(
            "dashboard",
            "playback: click to first frame (cold clip, Timeline page)",
            _ms(r.cold_first_frame_ms.median),
            f"pressing play on recorded footage in the browser (target <= "
            f"{r.first_frame_target_ms} ms)",
            r.cold_first_frame_ms.median,
            "ms",
        ),
        Row(
            "dashboard",
            "seek: new position to its first frame",
            _ms(r.seek_first_frame_ms.median),
            "jumping within a clip",
            r.seek_first_frame_ms.median,
            "ms",
        ),
    ]


def live_rows(r: live.LiveResult) -> list[Row]:
    return [
        Row(
            "live",
            "live view: page load to first frame",
            _ms(r.first_frame_median_ms),
            f"opening a camera's live view (WebRTC; target <= {r.first_frame_target_ms} ms)",
            r.first_frame_median_ms,
            "ms",
        ),
        Row(
            "live",
            f"live view: service CPU per viewer ({r.viewers} viewers)",
            _pct(r.cpu_per_viewer_percent),
            "what each person watching live costs the box",
            r.cpu_per_viewer_percent,
            "% core",
        ),
    ]


def export_rows(r: export.ExportResult) -> list[Row]:
    u = r.unredacted
    rows = [
        Row(
            "export",
            f"export, unredacted ({u.clip_seconds / 60:g} min of 1080p, stream copy)",
            f"{u.realtime:.1f} x real time",
            f"a {u.clip_seconds / 60:g}-minute clip is ready in {u.wall_seconds:.1f} s",
            u.realtime,
            "x real time",
        )
    ]
    for red in r.redacted:
        rows.append(
            Row(
                "export",
                f"export, redacted ({red.width}x{red.height}, faces blurred, re-encoded)",
                f"{red.fps:.1f} frames/s ({red.realtime:.2f} x real time)",
                f"a 1-minute redacted clip takes about {60 / red.realtime:.0f} s"
                if red.realtime > 0
                else "",
                red.fps,
                "frames/s",
            )
        )
    return rows


# The figures each part gives, so a skipped part still shows its rows (as skipped).
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "storage": (
        "raw cipher (ChaCha20-Poly1305) throughput",
        "encrypted store write throughput",
        "unlock (scrypt)",
    ),
    "record": ("record path CPU per 1080p stream", "recorder RSS at 1/4/16 cameras", "playback"),
    "motion": ("motion detector per analysed frame", "motion CPU per camera"),
    "dashboard": ("playback: click to first frame", "seek: new position to its first frame"),
    "live": ("live view: page load to first frame", "live view: service CPU per viewer"),
    "export": ("export, unredacted", "export, redacted"),
}


def headline(
    machine: Machine, rec: record.RecordResult | None, motion_percent: float | None
) -> Headline:
    """How many 1080p cameras (recording + motion) this machine holds: see the module."""
    if rec is None or not rec.runs:
        return Headline(None, None, None, None, None, None, None, _headline_text(machine, None, ""))
    big = _largest(rec)
    per_camera = big.core_percent_per_stream + (motion_percent or 0.0)
    cpu_bound = math.floor(machine.usable_cpus * 100 * BUDGET / per_camera) if per_camera else None
    small = min(rec.runs, key=lambda run: run.cameras)
    per_rss: float | None = None
    ram_bound: int | None = None
    if (
        big.cameras > small.cameras
        and big.rss_peak_bytes is not None
        and small.rss_peak_bytes is not None
    ):
        per_rss = max(
            (big.rss_peak_bytes - small.rss_peak_bytes) / (big.cameras - small.cameras), 1.0
        )
        if machine.ram_bytes:
            base = small.rss_peak_bytes - per_rss * small.cameras
            ram_bound = max(0, math.floor((machine.ram_bytes * RAM_SHARE - base) / per_rss))
    lossy = sorted(run.cameras for run in rec.runs if not run.zero_loss)
    loss_bound = None
    if lossy:
        fine = [run.cameras for run in rec.runs if run.zero_loss and run.cameras < lossy[0]]
        loss_bound = max(fine, default=0)
    bounds = [b for b in (cpu_bound, ram_bound, loss_bound) if b is not None]
    estimate = min(bounds) if bounds else None
    clean = [run.cameras for run in rec.runs if run.zero_loss]
    measured = max(clean, default=0)
    what = "recording + motion" if motion_percent is not None else "recording only, no motion"
    limits = f"CPU allows {cpu_bound}" + (f", RAM {ram_bound}" if ram_bound is not None else "")
    if lossy:
        limits += f"; {lossy[0]} cameras lost packets"
    cost = (
        f"{per_camera:.1f} % of a core per camera for {what}, within {BUDGET:.0%} of "
        f"{machine.usable_cpus} core(s)"
    )
    if estimate is not None and estimate < measured:
        held: int | None = estimate
        why = f" ({cost}; {limits}; measured up to {big.cameras})"
    else:
        # Never claim more than was measured: disk, network and the per-stream cost's
        # growth with the count are untested beyond it.
        held = measured
        why = f" ({cost}; {limits}; more is untested: the most cameras measured, zero loss)"
    return Headline(
        held,
        measured,
        cpu_bound,
        ram_bound,
        loss_bound,
        per_camera,
        per_rss,
        _headline_text(machine, held, why, at_least=held == measured),
    )


def _headline_text(machine: Machine, held: int | None, why: str, *, at_least: bool = False) -> str:
    where = machine.board or machine.cpu_model
    if held is None:
        return (
            f"How many 1080p cameras this box ({where}) holds: not measured "
            "(the record part did not run)"
        )
    count = f"at least {held}" if at_least else str(held)
    return f"How many 1080p cameras this box ({where}) holds: {count}{why}"


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def _unavailable(part: str) -> str | None:
    """Why ``part`` cannot run on this machine, or None."""
    if part == "record":
        return record.server_unavailable_reason()
    if part in BROWSER_PARTS:
        from nvr.bench import dashboard, live

        reason = dashboard.unavailable() if part == "dashboard" else live.unavailable()
        if reason and "chromium" in reason.lower():
            return f"needs chromium ({reason})"
        return reason
    return None


@dataclass(frozen=True)
class RecordParts:
    """The record part run one camera count at a time (each with its own RTSP server, so
    a count that fails leaves the others' figures): the merged result, and the counts that
    failed twice with their errors."""

    result: record.RecordResult | None
    failed: dict[int, str]


def _record(where: Path, i: Inputs, say: Progress) -> RecordParts:
    runs: list[record.RunResult] = []
    first: record.RecordResult | None = None
    failed: dict[int, str] = {}
    for n in i.record_cameras:
        for attempt in (1, 2):
            try:
                one = record.run(
                    where,
                    cameras=[n],
                    seconds=i.record_seconds,
                    segment_seconds=i.record_segment_seconds,
                    clip_file_seconds=i.record_clip_file_seconds,
                    clip_seconds=i.record_playback_clip_seconds,
                    playback_repeat=i.record_playback_repeat,
                    progress=say,
                )
            except RuntimeError as exc:
                # GStreamer's test server sometimes stops answering while many sessions
                # connect at once (docs/performance.md, Recording): one retry, then report.
                failed[n] = str(exc)
                say(f"{n} camera(s) failed (attempt {attempt}): {exc}")
                continue
            failed.pop(n, None)
            first = first or one
            runs += one.runs
            break
    if first is None:
        return RecordParts(None, failed)
    cpu, loss, rss, playback = record.verdicts(runs)
    merged = dataclasses.replace(
        first,
        runs=tuple(runs),
        cpu_met=cpu,
        zero_loss_met=loss,
        rss_met=rss,
        playback_met=playback,
    )
    return RecordParts(merged, failed)


def _run_part(part: str, where: Path, inputs: Inputs, machine: Machine, say: Progress) -> Any:
    i = inputs
    if part == "storage":
        return storage.run(
            where,
            size_bytes=i.storage_mib * 2**20,
            repeat=i.storage_repeat,
            log_n=i.storage_log_n,
            progress=say,
        )
    if part == "record":
        return _record(where, i, say)
    if part == "motion":
        from nvr.bench import motion

        return motion.run(
            where,
            passes=i.motion_passes,
            repeat=i.motion_repeat,
            cpus=machine.usable_cpus,
            progress=say,
        )
    if part == "dashboard":
        from nvr.bench import dashboard

        return dashboard.run(
            where,
            repeat=i.dashboard_repeat,
            record_seconds=i.dashboard_record_seconds,
            progress=say,
        )
    if part == "live":
        from nvr.bench import live

        return live.run(
            where,
            viewers=i.live_viewers,
            seconds=i.live_seconds,
            trials=i.live_trials,
            progress=say,
        )
    if part == "export":
        from nvr.bench import export

        return export.run(
            where,
            seconds=i.export_seconds,
            segment_seconds=i.export_segment_seconds,
            source_seconds=i.export_source_seconds,
            redact_seconds=i.export_redact_seconds,
            redact_sizes=i.export_redact_sizes,
            progress=say,
        )
    raise ValueError(f"unknown part {part!r}")


ROWS: dict[str, Callable[[Any], list[Row]]] = {
    "storage": storage_rows,
    "record": record_rows,
    "motion": motion_rows,
    "dashboard": dashboard_rows,
    "live": live_rows,
    "export": export_rows,
}


def _prefixed(say: Progress, part: str) -> Progress:
    return lambda line: say(f"{part}: {line}")


def run(
    directory: Path,
    machine: Machine,
    *,
    quick: bool = False,
    only: Sequence[str] | None = None,
    inputs: Inputs | None = None,
    progress: Progress | None = None,
) -> SuiteResult:
    """Run the parts (all of ``PARTS`` unless ``only``) and gather their figures."""
    parts = tuple(only) if only else PARTS
    if unknown := [p for p in parts if p not in PARTS]:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    chosen = inputs or (QUICK if quick else FULL)
    say = progress or (lambda _line: None)
    load_before = _load()
    start = time.perf_counter()
    rows: list[Row] = []
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    done: dict[str, Any] = {}
    for part in PARTS:
        if part not in parts:
            continue
        if reason := _unavailable(part):
            skipped[part] = reason
            say(f"{part}: skipped: {reason}")
            rows += [
                Row(part, f, f"skipped: {reason}", "", status="skipped") for f in PLACEHOLDERS[part]
            ]
            continue
        say(f"{part}: running")
        try:
            result = _run_part(part, directory, chosen, machine, _prefixed(say, part))
        except Exception as exc:  # a part's failure is reported, the others still run
            message = f"{type(exc).__name__}: {exc}".strip()
            failed[part] = message
            say(f"{part}: failed: {message}\n{traceback.format_exc()}")
            rows += [
                Row(part, f, f"failed: {message}", "", status="failed") for f in PLACEHOLDERS[part]
            ]
            continue
        done[part] = result
        results[part] = dataclasses.asdict(result)
        if isinstance(result, RecordParts) and result.failed:
            failed[part] = "; ".join(f"{n} camera(s): {e}" for n, e in result.failed.items())
        rows += ROWS[part](result)
    motion_result = done.get("motion")
    recorded = done.get("record")
    head = headline(
        machine,
        None if recorded is None else recorded.result,
        None if motion_result is None else motion_result.camera.core_percent,
    )
    return SuiteResult(
        mode="quick" if quick else "full",
        inputs=chosen,
        parts=parts,
        rows=tuple(rows),
        headline=head,
        wall_seconds=time.perf_counter() - start,
        load_before=load_before,
        load_after=_load(),
        results=results,
        skipped=skipped,
        failed=failed,
    )


def machine_text(machine: Machine) -> str:
    """One line naming the machine: board (a Pi), CPU, cores, RAM."""
    ram = f"{machine.ram_bytes / 2**30:.1f} GiB RAM" if machine.ram_bytes else "RAM unknown"
    board = f"{machine.board}: " if machine.board else ""
    return (
        f"{board}{machine.cpu_model}, {machine.usable_cpus} of {machine.logical_cpus} cores "
        f"usable, {ram}; {machine.os} {machine.arch}"
    )


def markdown(result: SuiteResult, machine: Machine, when: str) -> str:
    """The run as a docs/performance.md section: headline, machine, load, table."""
    one, five, _ = result.load_before
    after, _, _ = result.load_after
    lines = [
        f"### `nvr bench all{' --quick' if result.mode == 'quick' else ''}`: {when}",
        "",
        f"**{result.headline.text}**",
        "",
        f"- Machine: {machine_text(machine)}",
        f"- Load average before {one:.2f} (5 min {five:.2f}), after {after:.2f}; "
        f"took {result.wall_seconds:.0f} s",
        "",
        "| part | figure | value | what it means |",
        "|---|---|---|---|",
    ]
    for row in result.rows:
        cells = (row.part, row.figure, row.value, row.meaning)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
