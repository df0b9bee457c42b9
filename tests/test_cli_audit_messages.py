"""What the CLI said oddly to a new user (an audit on real data): log lines and OpenCV's
own lines instead of one ``annotator: warning:`` line, an interrupted import or class
change that did not say what it had done, an import of nothing without its error line,
a suggested command argparse refuses, and a few cosmetic slips."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import annotator
from annotator.cli import main
from annotator.storage.project import Project

REPO = Path(annotator.__file__).resolve().parent.parent


def _cli(*args: str, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    """``annotator ARGS`` in a process of its own (what a user runs)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("OPENCV_LOG_LEVEL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "annotator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        **kw,
    )


def _pictures_and_masks(folder: Path, n: int = 5) -> tuple[Path, Path]:
    """``n`` small pictures in folder/images and their masks (classes 0 and 1) in
    folder/masks."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / "images" / f"p{i}.png"), rng.integers(0, 255, (16, 20, 3)))
        mask = np.zeros((16, 20), np.uint8)
        mask[4:10, 5 + i : 12 + i] = 1
        cv2.imwrite(str(folder / "masks" / f"p{i}.png"), mask)
    return folder / "images", folder / "masks"


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """A project of five pictures, their masks imported (done)."""
    images, masks = _pictures_and_masks(tmp_path / "src")
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell,other"]) == 0
    assert main(["add", str(root), str(images)]) == 0
    assert main(["import", str(root), str(masks), "--format", "masks"]) == 0
    return root


# --- 1. warnings as one line of ours; OpenCV quiet -----------------------------------


def _dead_holder(root: Path) -> None:
    """The lock file names a process that is gone (a train killed with kill -9)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    holder = {
        "pid": int(done.stdout),
        "host": socket.gethostname(),
        "since": "2024-01-01T00:00:00",
        "command": f"annotator train {root}",
    }
    (root / ".annotator.lock").write_text(json.dumps(holder))


def test_a_warning_logged_during_a_command_is_one_line_of_ours(labelled, tmp_path, capsys):
    """It was `WARNING annotator.storage.lock: ... took over the lock of a process that is
    gone` (the logger's format)."""
    _dead_holder(labelled)
    capsys.readouterr()
    assert main(["classes", str(labelled), "--add", "new"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"annotator: warning: {labelled}: took over the lock of a process ")
    assert "WARNING" not in err[0] and "annotator.storage" not in err[0]


def test_with_v_a_warning_keeps_the_developer_s_form(labelled, capsys):
    _dead_holder(labelled)
    capsys.readouterr()
    assert main(["-v", "classes", str(labelled), "--add", "new"]) == 0
    err = capsys.readouterr().err
    assert f"WARNING annotator.storage.lock: {labelled}: took over the lock" in err


def test_a_damaged_label_map_is_said_in_our_one_line_without_opencv_s(labelled):
    """`head -c 500 masks/1.png`: OpenCV printed `[ WARN:0@0.079] global grfmt_png.cpp:793
    ... PNG input buffer is incomplete` before our error."""
    mask = next((labelled / "masks").glob("*.png"))
    mask.write_bytes(mask.read_bytes()[: mask.stat().st_size // 2])
    run = _cli("export", str(labelled), str(labelled.parent / "out"), "--format", "masks")
    out, err = run.communicate(timeout=120)
    lines = err.decode().splitlines()
    assert run.returncode == 1, lines
    assert len(lines) == 1 and lines[0].startswith("annotator: error: "), lines
    assert "damaged label mask" in lines[0]


# --- 2. an interrupted import says what it imported ------------------------------------


def test_an_interrupted_import_says_how_many_it_imported_and_how_to_finish(
    tmp_path, capsys, monkeypatch
):
    """It said only `annotator: interrupted`, with some images imported and done."""
    import annotator.services.exchange as exchange

    images, masks = _pictures_and_masks(tmp_path / "src")
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(images)]) == 0
    real, calls = exchange._import_item, []

    def ctrl_c_at_the_third(*args, **kw):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(exchange, "_import_item", ctrl_c_at_the_third)
    capsys.readouterr()
    assert main(["import", str(root), str(masks), "--format", "masks"]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "annotator: interrupted after importing 2 of 5 mask(s), which stay in the project; "
        "run the same command again to import the rest"
    )
    with Project.open(root, lock=False) as project:
        assert project.status_counts()["done"] == 2
    monkeypatch.setattr(exchange, "_import_item", real)
    assert main(["import", str(root), str(masks), "--format", "masks"]) == 0  # as it said
    with Project.open(root, lock=False) as project:
        assert project.status_counts()["done"] == 5


def test_an_import_interrupted_while_reading_says_the_project_is_unchanged(
    tmp_path, capsys, monkeypatch
):
    """It said only `annotator: interrupted` while the source was still being read."""
    import dataclasses

    import annotator.formats.registry as registry

    images, masks = _pictures_and_masks(tmp_path / "src")
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(images)]) == 0

    def ctrl_c_while_reading(*args, **kw):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    spec = registry.get_format("masks", for_import=True)
    monkeypatch.setitem(
        registry.FORMATS, "masks", dataclasses.replace(spec, reader=ctrl_c_while_reading)
    )
    capsys.readouterr()
    assert main(["import", str(root), str(masks), "--format", "masks"]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"annotator: interrupted while reading {masks}, before any mask was imported: "
        "the project is unchanged"
    )
    with Project.open(root, lock=False) as project:
        assert project.status_counts()["done"] == 0


# --- 3. an import of nothing ends with its error line ---------------------------------


def test_an_import_of_nothing_ends_with_an_error_line_saying_why(tmp_path, capsys):
    """VOC masks before their pictures were added: exit 1, "imported 0 mask(s)", the
    reasons, but no `annotator: error:` line."""
    voc = tmp_path / "voc" / "SegmentationClass"
    voc.mkdir(parents=True)
    for name in ("2011_000003", "2011_000006", "2011_000025"):
        cv2.imwrite(str(voc / f"{name}.png"), np.ones((8, 8), np.uint8))
    root = tmp_path / "my P"
    assert main(["new", str(root), "--classes", "background,thing"]) == 0
    capsys.readouterr()
    assert main(["import", str(root), str(voc.parent), "--format", "voc"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "annotator: error: nothing imported: all 3 item(s) were skipped, the first: no image "
        "'2011_000003' in the project or next to the annotation; add the pictures first "
        f"(`annotator add {shlex.quote(str(root))} FOLDER`), then import again, or check that "
        "the masks have their pictures' names"
    )
    assert sum(line.startswith("annotator: error:") for line in err) == 1


def test_an_import_that_skipped_some_still_exits_2_without_an_error_line(tmp_path, capsys):
    images, masks = _pictures_and_masks(tmp_path / "src", 2)
    cv2.imwrite(str(masks / "lonely.png"), np.ones((16, 20), np.uint8))
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(images)]) == 0
    capsys.readouterr()
    assert main(["import", str(root), str(masks), "--format", "masks"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "1 item(s) skipped (reasons above)"
    assert not any(line.startswith("annotator: error:") for line in err)


# --- 4. suggested commands that argparse takes -----------------------------------------


def test_a_suggested_name_or_path_is_never_taken_for_an_option(tmp_path, monkeypatch):
    """`annotator remove P -dash.png` was suggested: argparse refuses it."""
    from annotator.cli.options import name_words, path_word

    assert name_words(["-dash.png"]) == "-- -dash.png"
    assert name_words(["b c.png"]) == "'b c.png'"
    assert name_words(["a.png", "-b.png"]) == "-- a.png -b.png"
    assert path_word("-P") == f".{os.sep}-P"
    assert path_word("/x/my P") == "'/x/my P'"
    # what it writes, the command line takes: the image named -dash.png is removed
    images, _ = _pictures_and_masks(tmp_path / "src", 2)
    (images / "p0.png").rename(images / "-dash.png")
    root = tmp_path / "-P"
    monkeypatch.chdir(tmp_path)
    assert main(["new", "--classes", "a,b", "--", "-P"]) == 0
    assert main(["add", "--", "-P", str(images)]) == 0
    suggested = f"annotator remove {path_word('-P')} {name_words(['-dash.png'])}"
    assert main(shlex.split(suggested)[1:]) == 0
    with Project.open(root, lock=False) as project:
        assert [r.name for r in project.images()] == ["p1.png"]


# --- 5. an interrupt after a class change says the change was made ---------------------


def test_an_interrupt_after_a_merge_says_the_merge_was_made(labelled, capsys, monkeypatch):
    """The "Merged ..." line, exit 130 and nothing else (or a bare `interrupted`)."""
    import annotator.cli.project_cmds as project_cmds

    def ctrl_c(n: int) -> None:  # (the last step of the command, after the change)
        raise KeyboardInterrupt

    monkeypatch.setattr(project_cmds, "untrainable", ctrl_c)
    capsys.readouterr()
    assert main(["classes", str(labelled), "--merge", "other", "cell"]) == 130
    out, err = capsys.readouterr()
    assert out.startswith("Merged 'other' into 'cell'")
    assert err.splitlines() == [
        "annotator: interrupted after the change was made (merged 'other' into 'cell'); "
        "nothing was left undone"
    ]


def test_an_interrupt_in_the_swap_of_a_committed_merge_says_the_next_opening_ends_it(
    labelled, capsys, monkeypatch
):
    import annotator.storage.class_change as class_change

    with Project.open(labelled, lock=False) as project:
        before = {r.id: project.load_mask(r) for r in project.images()}

    real = class_change.finish_class_change

    def ctrl_c_once_committed(project: Project) -> None:  # (opening calls it too)
        if project.has_meta(class_change.PENDING_KEY):
            raise KeyboardInterrupt
        real(project)

    monkeypatch.setattr(class_change, "finish_class_change", ctrl_c_once_committed)
    capsys.readouterr()
    assert main(["classes", str(labelled), "--merge", "cell", "background"]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "annotator: interrupted after the change was made (merged 'cell' into 'background'); "
        "it stopped the move of the rewritten label maps into place, which the next command "
        "(or the app) to open the project finishes"
    ]
    monkeypatch.undo()
    with Project.open(labelled) as project:  # (a writer finishes the swap on opening)
        assert project.schema.names == ["background", "other"]
        for r in project.images():  # (every pixel was background or cell)
            assert before[r.id].any() and not project.load_mask(r).any()


def test_an_interrupt_before_the_commit_says_nothing_changed(labelled, capsys, monkeypatch):
    def ctrl_c(*args, **kw):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(Project, "commit_class_change", ctrl_c)
    capsys.readouterr()
    assert main(["classes", str(labelled), "--remove", "cell"]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "annotator: interrupted before the change was made: the classes and the labels are "
        "unchanged"
    ]
    monkeypatch.undo()
    with Project.open(labelled, lock=False) as project:
        assert project.schema.names == ["background", "cell", "other"]


def test_ctrl_c_once_a_command_has_ended_does_not_change_its_exit(labelled):
    """Ctrl+C while Python tears down after `Merged ...` ended the process by SIGINT's
    default: exit 130 and no word, after a merge that was made."""
    outcomes = []
    for i, delay in enumerate((0.0, 0.002, 0.005, 0.01, 0.02)):
        assert main(["classes", str(labelled), "--add", f"c{i}"]) == 0
        run = _cli("classes", str(labelled), "--merge", f"c{i}", "background")
        assert run.stdout is not None
        said = run.stdout.readline().decode()
        assert said.startswith(f"Merged 'c{i}' into 'background'"), said
        time.sleep(delay)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        outcomes.append((run.returncode, err.decode()))
    after = (
        "annotator: interrupted after the change was made (merged 'c{}' into 'background'); "
        "nothing was left undone\n"
    )
    for i, (code, err) in enumerate(outcomes):
        assert (code, err) in ((0, ""), (130, after.format(i))), outcomes


def test_stop_signals_are_ignored_as_soon_as_the_command_has_ended(labelled, monkeypatch):
    """What follows the command (the release of its project and its logs, the tear-down)
    takes milliseconds to seconds: a Ctrl+C there raised out of the logs' tear-down with
    a traceback (seen in CI). The stop signals are ignored from the command's return, and
    stay ignored (the command's own SIGTERM and SIGHUP handlers are not put back)."""
    import contextlib

    import annotator.cli as cli

    events: list[object] = []
    to_stderr = cli.logs.to_stderr
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    @contextlib.contextmanager
    def noting(**kw):  # type: ignore[no-untyped-def]
        with to_stderr(**kw):
            yield
            events.append([signal.getsignal(s) for s in stops])  # as the logs are torn down

    def ignore() -> None:  # (the real one leaves them when another thread runs)
        events.append("ignored")
        for s in stops:
            signal.signal(s, signal.SIG_IGN)

    kept = {s: signal.getsignal(s) for s in stops}
    monkeypatch.setattr(cli.logs, "to_stderr", noting)
    monkeypatch.setattr(cli, "_ignore_stop_signals_from_now", ignore)
    monkeypatch.setattr(sys, "argv", ["annotator", "classes", str(labelled), "--add", "x"])
    try:
        assert main() == 0
    finally:
        for s, handler in kept.items():
            signal.signal(s, handler)
    assert events == ["ignored", [signal.SIG_IGN] * 3]


# --- 6. cosmetics ---------------------------------------------------------------------


def test_status_images_keeps_its_columns_in_line_with_a_long_label_source(
    labelled, tmp_path, capsys
):
    """`import:labelme` (14 characters) pushed the scores and names out of line; so did
    ids shorter than the heading `id`."""
    cv2.imwrite(str(tmp_path / "q.png"), np.zeros((16, 20, 3), np.uint8))
    assert main(["add", str(labelled), str(tmp_path / "q.png")]) == 0  # unlabelled: '-'
    capsys.readouterr()
    assert main(["status", str(labelled), "--images"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("id"))) :]
    assert len(table) == 7 and "import:masks" in table[1] and " - " in table[6], table
    for heading, cell in (("status", "done"), ("labels", "import:"), ("name", "p")):
        at = table[0].index(heading)
        assert all(line[at:].startswith(cell) for line in table[1:6]), (heading, table)
    assert table[6][table[0].index("name") :] == "q.png"


def test_models_keep_1_says_version_in_the_singular():
    from annotator.cli.ml_cmds import _kept
    from annotator.services.versions import PruneReport

    assert _kept(PruneReport(keep=1)) == (
        "the newest model version's files (and the active one's) are kept; nothing to remove now"
    )
    assert _kept(PruneReport(keep=2)).startswith("the newest 2 model versions' files")


def test_new_from_labelme_s_labels_txt_says_it_left_out_ignore(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\ncat\ndog\n")
    assert main(["new", str(tmp_path / "P"), "--classes-file", str(labels)]) == 0
    out, err = capsys.readouterr()
    assert "classes 0=_background_, 1=cat, 2=dog" in out
    assert err.splitlines() == [
        f"note: {labels}: left out '__ignore__', labelme's name for pixels to ignore: a "
        "project has them as void, not as a class"
    ]
