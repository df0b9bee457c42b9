"""The progress line of long commands: throttled in a log, each phase shown once, and a
line on a terminal ended once."""

from __future__ import annotations

import io

import pytest

from annotator.cli import progress as progress_mod
from annotator.cli.progress import ProgressLine


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    monkeypatch.setattr(progress_mod.time, "monotonic", c)
    return c


def _round(line: ProgressLine, clock: _Clock) -> None:
    """What ``annotator train --steps 2`` reports: two steps, then validation at
    4 calls a second for 4 s (step == max_steps all along), then the write."""
    clock.now += 1.0
    line(1, 2, "loss 0.9 train", phase="train")
    clock.now += 1.0
    line(2, 2, "loss 0.8 train", phase="train")
    for _ in range(16):
        clock.now += 0.25
        line(2, 2, "scoring on 4,615,662 validation pixels", phase="validate")
    clock.now += 0.25
    line(2, 2, "writing model v1", phase="write")


def test_a_log_shows_each_phase_once_not_every_call(clock: _Clock) -> None:
    out = io.StringIO()
    line = ProgressLine("training", stream=out)
    _round(line, clock)
    line.finish()
    lines = out.getvalue().splitlines()
    assert sum("validation pixels" in x for x in lines) == 1, lines
    assert sum("writing model v1" in x for x in lines) == 1, lines
    assert [x.split()[-1] for x in lines] == ["train", "train", "pixels", "v1"], lines


def test_a_long_phase_in_a_log_gets_a_line_every_5_seconds(clock: _Clock) -> None:
    out = io.StringIO()
    line = ProgressLine("training", stream=out)
    clock.now += 1.0
    line(2, 2, "loss 0.8 train", phase="train")
    for _ in range(4 * 12):  # 12 s of validation, 4 calls a second
        clock.now += 0.25
        line(2, 2, "scoring", phase="validate")
    assert out.getvalue().count("scoring") == 3  # at its start, after 5 s and 10 s


def test_without_phases_the_end_is_shown_once(clock: _Clock) -> None:
    out = io.StringIO()
    line = ProgressLine("exporting", stream=out)
    clock.now += 1.0
    line(1, 3)
    clock.now += 0.1
    line(3, 3)
    line(3, 3)
    assert out.getvalue().count("3/3") == 1


def test_a_terminal_line_ends_once_without_a_blank_line(clock: _Clock) -> None:
    out = _Terminal()
    line = ProgressLine("predicting", stream=out)
    clock.now += 1.0
    line(1, 2)
    clock.now += 1.0
    line(2, 2)
    line.finish()
    text = out.getvalue()
    assert text.endswith("100.0% \n") and not text.endswith("\n\n"), repr(text)


def test_a_terminal_shows_each_phase_of_the_end_once(clock: _Clock) -> None:
    out = _Terminal()
    line = ProgressLine("training", stream=out)
    _round(line, clock)
    line.finish()
    text = out.getvalue()
    assert text.count("validation pixels") == 1 and text.count("writing model") == 1
    assert "\n\n" not in text


def test_finish_ends_a_line_still_redrawn(clock: _Clock) -> None:
    out = _Terminal()
    line = ProgressLine("adding", stream=out)
    clock.now += 1.0
    line(1, 2)
    line.finish()
    line.finish()
    assert out.getvalue().endswith("1s \n") and out.getvalue().count("\n") == 1


def test_a_warning_mid_phase_does_not_stop_the_progress(clock: _Clock, capsys) -> None:
    """Found by an audit: a warning logged during a round ended the progress line, and
    it was not drawn again until the next phase (2/15, then 15/15: minutes unseen)."""
    import logging

    from annotator.cli import logs

    out = _Terminal()
    line = ProgressLine("training", stream=out)
    with logs.to_stderr(verbose=False, debug=False):
        clock.now += 1.0
        line(2, 15, "loss 0.9", phase="train")
        logging.getLogger("annotator.test").warning("something to know")
        clock.now += 1.0
        line(8, 15, "loss 0.5", phase="train")
        clock.now += 1.0
        line.finish()
    assert "8/15" in out.getvalue()  # drawn again, below the warning
    assert "annotator: warning: something to know" in capsys.readouterr().err


def test_a_second_pass_measures_its_time_left_from_its_own_start(clock: _Clock) -> None:
    """An export checks every image (fast), then writes them (slow): the writing's time
    left is not the checking's time spread over the few images written so far."""
    out = io.StringIO()
    line = ProgressLine("exporting", stream=out)
    for i in range(100):  # 100 s of checking, 1 s an image
        line(i, 100, f"checking img{i}")
        clock.now += 1.0
    line(0, 100, "img0")  # the writing starts again from 0
    clock.now += 10.0
    line(5, 100, "img5")  # 2 s an image: 95 left is 190 s
    last = out.getvalue().splitlines()[-1]
    assert "eta   190s img5" in last, last
