"""``nvr motion``: tools for installers to see and measure what the motion detector does.

``nvr motion eval VIDEO --truth CSV`` runs the live cameras' analysis (same rate gate,
detector, settings and event rules; ``nvr.motion.analysis``) over a file and scores it
against a ground-truth CSV (``nvr.motion.metrics``): frame-level precision / recall / F1,
event recall, start latency, events produced and false events. ``--json`` prints the
figures as one JSON object, ``--pred-out`` writes the per-frame verdicts as a CSV in the
truth format. ``--config`` / ``--camera`` take that camera's sensitivity, zones and masks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nvr.cli.motion_tune_cmd import tune_command
from nvr.config import MotionConfig, load_config
from nvr.errors import UserError
from nvr.motion.metrics import EvalReport, PredictionRow, evaluate, read_truth, write_predictions

if TYPE_CHECKING:
    from nvr.motion.analysis import Analysis, FrameDecision
    from nvr.motion.detector import DetectorSettings
    from nvr.motion.events import EventRules

app = typer.Typer(
    no_args_is_help=True,
    help="See and measure what the motion detector does (for installers).",
)

# `nvr motion tune` lives in nvr/cli/motion_tune_cmd.py.
app.command("tune")(tune_command)


def motion_config(config: Path | None, camera: str | None) -> MotionConfig:
    """The named camera's motion settings (defaults when no camera is named)."""
    if camera is None:
        if config is not None:
            raise UserError("--config needs --camera", hint="name the camera whose settings to use")
        return MotionConfig()
    cfg = load_config(config)
    for cam in cfg.cameras:
        if cam.name == camera:
            return cam.motion
    names = ", ".join(c.name for c in cfg.cameras) or "none"
    raise UserError(f"no camera named {camera!r} in the config", hint=f"cameras: {names}")


def prediction_rows(analysis: Analysis) -> list[PredictionRow]:
    """Per-frame verdicts in source pixels: the union of the frame's boxes."""
    return [_row(d, analysis.width, analysis.height) for d in analysis.frames]


def _row(decision: FrameDecision, width: int, height: int) -> PredictionRow:
    boxes = decision.boxes
    if not decision.motion or not boxes:
        return PredictionRow(decision.index, decision.motion)
    x0 = min(b.x for b in boxes)
    y0 = min(b.y for b in boxes)
    x1 = max(b.x + b.w for b in boxes)
    y1 = max(b.y + b.h for b in boxes)
    px = round(x0 * width), round(y0 * height)
    box = (px[0], px[1], max(1, round(x1 * width) - px[0]), max(1, round(y1 * height) - px[1]))
    return PredictionRow(decision.index, True, box)


def score(
    analysis: Analysis, truth: tuple[bool, ...], settings: DetectorSettings, rules: EventRules
) -> EvalReport:
    """Score an analysis against per-frame truth, as ``nvr motion eval`` reports it."""
    fps = analysis.source_fps or settings.fps
    per_analysed = max(1.0, fps / settings.fps)
    return evaluate(
        truth,
        [d.motion for d in analysis.frames],
        [(s.first, s.last) for s in analysis.events],
        analysed_frames=analysis.analysed,
        frames_per_analysed=per_analysed,
        merge_gap=round(rules.quiet_seconds * fps),
    )


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


@app.command("eval")
def eval_command(
    video: Annotated[
        Path, typer.Argument(help="Video file to analyse.", dir_okay=False, metavar="VIDEO")
    ],
    truth_file: Annotated[
        Path,
        typer.Option(
            "--truth",
            help="Ground truth CSV: header 'frame,motion' (optionally ',x,y,w,h'), "
            "one row per frame from 0, motion 0 or 1.",
            dir_okay=False,
            metavar="CSV",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as one JSON object.")
    ] = False,
    pred_out: Annotated[
        Path | None,
        typer.Option(
            "--pred-out",
            help="Write the per-frame verdicts to CSV, in the truth format.",
            dir_okay=False,
            metavar="CSV",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config file holding --camera.", dir_okay=False, metavar="FILE"
        ),
    ] = None,
    camera: Annotated[
        str | None,
        typer.Option(
            "--camera",
            help="Use this camera's sensitivity, zones, masks, rate and event rules.",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Score the motion detector on VIDEO against a ground-truth CSV."""
    motion = motion_config(config, camera)
    # The detector brings OpenCV and NumPy: imported here, not by every `nvr` command.
    from nvr.motion.analysis import analyse_file
    from nvr.motion.detector import DetectorSettings
    from nvr.motion.events import EventRules

    truth = read_truth(truth_file)
    settings = DetectorSettings.from_config(motion)
    rules = EventRules.from_config(motion)
    analysis = analyse_file(video, settings, rules)
    if not analysis.frames:
        raise UserError(f"{video} has no frames")
    frames = len(analysis.frames)
    if len(truth.motion) < frames:
        raise UserError(
            f"{truth_file} has rows for {len(truth.motion)} frames but {video} has {frames}",
            hint="give every frame of the video a row",
        )
    if len(truth.motion) > frames:
        raise UserError(
            f"{truth_file} has rows for {len(truth.motion)} frames but {video} has only {frames}",
            hint="is it the truth of another video?",
        )
    report = score(analysis, truth.motion, settings, rules)
    if pred_out is not None:
        write_predictions(pred_out, prediction_rows(analysis))
    if as_json:
        typer.echo(json.dumps({"video": str(video), **report.as_dict()}, sort_keys=True))
        return
    typer.echo(f"{video}: {report.frames} frames, {report.analysed_frames} analysed")
    typer.echo(
        f"frames: precision {report.precision:.3f}  recall {report.recall:.3f}  F1 {report.f1:.3f}"
    )
    typer.echo(
        f"events: {report.recalled_events} of {report.truth_events} found "
        f"(recall {report.event_recall:.3f}), start latency median "
        f"{_fmt(report.start_latency_frames, '.1f')} / max "
        f"{_fmt(report.start_latency_max_frames, '.1f')} analysed frames"
    )
    typer.echo(f"produced: {report.events} events, {report.false_events} false")
