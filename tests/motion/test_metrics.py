"""Metrics and the truth CSV: definitions on tiny examples, errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvr.errors import UserError
from nvr.motion.metrics import (
    PredictionRow,
    evaluate,
    frame_scores,
    read_truth,
    runs,
    truth_events,
    write_predictions,
)


def flags(text: str) -> list[bool]:
    return [c == "1" for c in text]


def test_frame_scores() -> None:
    p, r, f1 = frame_scores(flags("0110"), flags("0011"))
    assert (p, r, f1) == (0.5, 0.5, 0.5)
    assert frame_scores(flags("000"), flags("000")) == (1.0, 1.0, 1.0)
    assert frame_scores(flags("010"), flags("000")) == (0.0, 0.0, 0.0)


def test_runs_and_truth_events_merge_short_gaps() -> None:
    assert runs(flags("0110011")) == [(1, 2), (5, 6)]
    assert truth_events(flags("0110011"), merge_gap=2) == [(1, 6)]
    assert truth_events(flags("0110011"), merge_gap=1) == [(1, 2), (5, 6)]


def test_evaluate_events_latency_and_false_events() -> None:
    truth = flags("0011111100000000111100")
    predicted = flags("0000111111000000000000")
    # One produced event matching the first visit 2 frames late (1 analysed frame at 2
    # source frames per analysed frame), one on nothing at all; the second visit missed.
    report = evaluate(
        truth,
        predicted,
        [(4, 9), (11, 12)],
        analysed_frames=11,
        frames_per_analysed=2.0,
        merge_gap=3,
    )
    assert report.truth_events == 2
    assert report.recalled_events == 1
    assert report.event_recall == 0.5
    assert report.start_latency_frames == 1.0
    assert report.start_latency_max_frames == 1.0
    assert report.events == 2
    assert report.false_events == 1
    assert report.precision == pytest.approx(4 / 6)
    assert set(report.as_dict()) >= {"precision", "recall", "f1", "event_recall", "events"}


def test_early_events_have_zero_latency_and_no_truth_means_recall_one() -> None:
    report = evaluate(
        flags("0011"), flags("1111"), [(0, 3)], analysed_frames=4,
        frames_per_analysed=1.0, merge_gap=0,
    )  # fmt: skip
    assert report.start_latency_frames == 0.0
    quiet = evaluate(
        flags("0000"), flags("0000"), [], analysed_frames=4, frames_per_analysed=1.0, merge_gap=0
    )
    assert quiet.event_recall == 1.0
    assert quiet.start_latency_frames is None
    with pytest.raises(ValueError, match="predictions"):
        evaluate(flags("00"), flags("0"), [], analysed_frames=1, frames_per_analysed=1.0,
                 merge_gap=0)  # fmt: skip


def test_truth_round_trip_with_boxes(tmp_path: Path) -> None:
    path = tmp_path / "pred.csv"
    write_predictions(
        path,
        [PredictionRow(0, False), PredictionRow(1, True, (1, 2, 3, 4)), PredictionRow(2, True)],
    )
    assert path.read_text().splitlines()[:2] == ["frame,motion,x,y,w,h", "0,0,,,,"]
    truth = read_truth(path)
    assert truth.motion == (False, True, True)
    assert truth.boxes == ((), ((1, 2, 3, 4),), ())


def test_several_rows_per_frame_are_ored(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("frame,motion,x,y,w,h\n0,0,,,,\n1,1,0,0,5,5\n1,1,9,9,2,2\n\n")
    truth = read_truth(path)
    assert truth.motion == (False, True)
    assert truth.boxes[1] == ((0, 0, 5, 5), (9, 9, 2, 2))


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("frame;motion\n0;1\n", ":1:", "bad header"),
        ("frame,motion\n0,1\n1,yes\n", ":3:", "motion must be 0 or 1"),
        ("frame,motion\n0,1\nx,1\n", ":3:", "frame must be an integer"),
        ("frame,motion\n-1,1\n", ":2:", "frame must be >= 0"),
        ("frame,motion\n0,1,5\n", ":2:", "expected 2 columns"),
        ("frame,motion,x,y,w,h\n0,1,0,0,0,4\n", ":2:", "box needs"),
        ("frame,motion\n0,1\n2,1\n", ": ", "no row for frame 1"),
        ("frame,motion\n", ": ", "no rows"),
    ],
)
def test_bad_truth_names_file_and_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = tmp_path / "truth.csv"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        read_truth(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}"), message
    assert what in message


def test_missing_truth_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read truth file"):
        read_truth(tmp_path / "nope.csv")
