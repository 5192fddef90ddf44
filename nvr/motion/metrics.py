"""Scoring motion verdicts against ground truth, and the truth CSV format.

Contract (pure functions except the two CSV helpers)::

    truth = read_truth(path)                       # Truth; UserError names file and line
    report = evaluate(truth.motion, predicted, spans, frames_per_analysed=2.0, merge_gap=60)
    write_predictions(path, rows)                  # the same CSV format

Truth CSV: a header row ``frame,motion`` (optionally ``,x,y,w,h``), then one row per
frame, frame indices from 0, motion ``0`` or ``1``; box columns are pixels and may be
empty. A frame may have several rows (one per box); its motion is then the OR. Every
frame of the video needs a row (checked by ``evaluate``'s caller via ``Truth.covers``).

Definitions (docs/design/motion.md):

- frame level: precision, recall and F1 of the per-source-frame verdicts;
- truth events: runs of truth-motion frames, with gaps of at most ``merge_gap`` frames
  merged (a visitor standing still between small movements is one visit);
- event recall: share of truth events overlapped by a produced event;
- start latency: for each recalled truth event, how late the first overlapping produced
  event starts, in analysed frames (never negative); reported as median and max;
- false events: produced events whose frames hold no truth motion at all.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from nvr.errors import UserError

__all__ = [
    "EvalReport",
    "PredictionRow",
    "Truth",
    "evaluate",
    "frame_scores",
    "read_truth",
    "runs",
    "truth_events",
    "write_predictions",
]

PixelBox = tuple[int, int, int, int]
Span = tuple[int, int]  # first, last frame index (inclusive)


@dataclass(frozen=True)
class Truth:
    motion: tuple[bool, ...]  # per frame index
    boxes: tuple[tuple[PixelBox, ...], ...]


@dataclass(frozen=True)
class PredictionRow:
    frame: int
    motion: bool
    box: PixelBox | None = None  # the union of the frame's moving boxes, in pixels


_HEADER = ["frame", "motion"]
_BOX_HEADER = ["x", "y", "w", "h"]


def read_truth(path: Path) -> Truth:
    """Read a truth CSV (see the module docstring); errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read truth file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) CSV file") from None
    rows = csv.reader(text.splitlines())
    header = [c.strip().lower() for c in next(rows, [])]
    hint = "the first line must be 'frame,motion' or 'frame,motion,x,y,w,h'"
    if header not in (_HEADER, _HEADER + _BOX_HEADER):
        raise UserError(f"{path}:1: bad header {','.join(header)!r}", hint=hint)
    motion: dict[int, bool] = {}
    boxes: dict[int, list[PixelBox]] = {}
    for line, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        cells = [c.strip() for c in row]
        frame = _int(path, line, "frame", cells[0])
        if frame < 0:
            raise UserError(f"{path}:{line}: frame must be >= 0, got {frame}")
        if cells[1] not in ("0", "1"):
            raise UserError(f"{path}:{line}: motion must be 0 or 1, got {cells[1]!r}")
        motion[frame] = motion.get(frame, False) or cells[1] == "1"
        if len(cells) == 6 and any(cells[2:]):
            x, y, w, h = (
                _int(path, line, n, c) for n, c in zip(_BOX_HEADER, cells[2:], strict=True)
            )
            if w <= 0 or h <= 0 or x < 0 or y < 0:
                raise UserError(f"{path}:{line}: box needs x, y >= 0 and w, h > 0")
            boxes.setdefault(frame, []).append((x, y, w, h))
    if not motion:
        raise UserError(f"{path}: no rows after the header")
    count = max(motion) + 1
    missing = [i for i in range(count) if i not in motion]
    if missing:
        raise UserError(f"{path}: no row for frame {missing[0]}", hint="give every frame a row")
    return Truth(
        motion=tuple(motion[i] for i in range(count)),
        boxes=tuple(tuple(boxes.get(i, ())) for i in range(count)),
    )


def _int(path: Path, line: int, name: str, cell: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise UserError(f"{path}:{line}: {name} must be an integer, got {cell!r}") from None


def write_predictions(path: Path, rows: Iterable[PredictionRow]) -> None:
    """Write per-frame verdicts in the truth format (box columns empty without motion)."""
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(_HEADER + _BOX_HEADER)
            for r in rows:
                box = [str(v) for v in r.box] if r.box is not None else ["", "", "", ""]
                writer.writerow([r.frame, int(r.motion), *box])
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def frame_scores(truth: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, float, float]:
    """(precision, recall, F1) of per-frame verdicts. With no predicted (no true) motion
    precision (recall) is 1.0 when there is nothing to find, else 0.0."""
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p and not t)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def runs(flags: Sequence[bool]) -> list[Span]:
    """The runs of true values as (first, last) index spans."""
    spans: list[Span] = []
    start: int | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            spans.append((start, i - 1))
            start = None
    if start is not None:
        spans.append((start, len(flags) - 1))
    return spans


def truth_events(truth: Sequence[bool], merge_gap: int) -> list[Span]:
    """Runs of truth motion, merging runs separated by at most ``merge_gap`` still frames."""
    merged: list[Span] = []
    for first, last in runs(truth):
        if merged and first - merged[-1][1] - 1 <= merge_gap:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


@dataclass(frozen=True)
class EvalReport:
    frames: int
    analysed_frames: int
    precision: float
    recall: float
    f1: float
    truth_events: int
    recalled_events: int
    event_recall: float
    start_latency_frames: float | None  # median over recalled events, analysed frames
    start_latency_max_frames: float | None
    events: int
    false_events: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate(
    truth: Sequence[bool],
    predicted: Sequence[bool],
    events: Sequence[Span],
    *,
    analysed_frames: int,
    frames_per_analysed: float,
    merge_gap: int,
) -> EvalReport:
    """Score per-frame verdicts and produced event spans against per-frame truth."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} truth frames but {len(predicted)} predictions")
    precision, recall, f1 = frame_scores(truth, predicted)
    wanted = truth_events(truth, merge_gap)
    latencies: list[float] = []
    for first, last in wanted:
        overlapping = [e for e in events if e[0] <= last and e[1] >= first]
        if overlapping:
            start = min(e[0] for e in overlapping)
            latencies.append(max(0.0, (start - first) / frames_per_analysed))
    false = sum(1 for first, last in events if not any(truth[first : last + 1]))
    return EvalReport(
        frames=len(truth),
        analysed_frames=analysed_frames,
        precision=precision,
        recall=recall,
        f1=f1,
        truth_events=len(wanted),
        recalled_events=len(latencies),
        event_recall=len(latencies) / len(wanted) if wanted else 1.0,
        start_latency_frames=statistics.median(latencies) if latencies else None,
        start_latency_max_frames=max(latencies) if latencies else None,
        events=len(events),
        false_events=false,
    )
