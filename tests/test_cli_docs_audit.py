"""What an audit of the user guide's command line found the CLI did otherwise: ``gui``
on a wrong or busy project, the exit code of a wrong option value, suggested commands
that did not run as they are, ``--help`` gaps, ``-v``/``--debug`` after the command,
silent ``bench`` options, and ``--color``'s colour lost to the shell."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator.cli import EXIT_BUSY, build_parser, main
from annotator.storage import lock as lock_module
from annotator.storage.lock import ProjectLock


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project in a folder whose name needs quoting in a command."""
    root = tmp_path / "my P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    return root.resolve()


@pytest.fixture
def held(project: Path, monkeypatch: pytest.MonkeyPatch):
    """The project's lock held as another process holds it."""
    monkeypatch.setattr(lock_module.sys, "argv", ["/usr/bin/annotator", "train", "P"])
    other = ProjectLock._take(project)  # (not registered as this process's own)
    yield other
    os.close(other._fd)


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The usage and error argparse printed for ``argv`` (exit code 2)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


# --- 1. gui on a wrong or busy project -------------------------------------------------------


@pytest.fixture
def window_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The projects the window was started on (it is not started here)."""
    pytest.importorskip("PySide6.QtWidgets")
    import annotator.gui.app as app

    started: list[object] = []

    def run_gui(project, **_options):
        started.append(project)
        return 0

    monkeypatch.setattr(app, "run_gui", run_gui)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return started


def test_gui_refuses_a_path_that_is_no_project_in_one_line_before_the_window(
    tmp_path, window_runs, capsys
):
    """The window's "Cannot open project" box said it, nothing on stderr, exit 0."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    cases = {
        "nosuch": "no such project folder",
        "file": "is a file, not a project folder",
        "folder": "not an Annotator project",
    }
    for name, said in cases.items():
        assert main(["gui", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("annotator: error: ") and said in err and err.count("\n") == 1
    assert window_runs == []


def test_gui_on_a_busy_project_exits_75_and_waits_with_wait(project, held, window_runs, capsys):
    assert main(["gui", str(project)]) == EXIT_BUSY
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "project is open in another process" in err[0]
    assert main(["gui", str(project), "--wait", "0.2"]) == EXIT_BUSY
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "waiting up to 0.2 s for it to close" in err[0]
    assert window_runs == []


def test_gui_still_opens_a_project_that_opens_and_the_app_without_one(project, window_runs):
    assert main(["gui", str(project)]) == 0
    assert main(["gui"]) == 0
    assert main([]) == 0
    assert window_runs == [project, None, None]
    assert not lock_module.held_here(project)  # the check let the lock go: the window
    os.close(ProjectLock._take(project)._fd)  # takes it (as another process could)


def _cli(*argv: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "annotator", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_gui_quit_after_paint_on_a_wrong_path_ends_with_one_line(tmp_path):
    """It never ended (`timeout 15 annotator gui nosuch --quit-after-paint`: 124)."""
    pytest.importorskip("PySide6.QtWidgets")
    done = _cli("gui", str(tmp_path / "nosuch"), "--quit-after-paint", timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"annotator: error: {tmp_path / 'nosuch'}: no such project folder\n"


def test_the_window_quits_with_an_error_when_its_project_does_not_open(tmp_path):
    """The box ran before the event loop: the quit asked once the window was painted
    ended the box's loop, and the event loop ran on with no window (a project another
    process took between the command's check and the window's open)."""
    pytest.importorskip("PySide6.QtWidgets")
    (tmp_path / "folder").mkdir()
    script = (
        "import sys\nfrom pathlib import Path\nfrom annotator.gui.app import run_gui\n"
        f"sys.exit(run_gui(Path({str(tmp_path / 'folder')!r}), quit_after_paint=True))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=90
    )
    assert done.returncode == 1, done.stderr
    assert "annotator: error: " in done.stderr and "not an Annotator project" in done.stderr


def test_gui_quit_after_paint_on_a_project_opens_it_and_ends_as_before(project, tmp_path):
    pytest.importorskip("PySide6.QtWidgets")
    shot = tmp_path / "shot.png"
    done = _cli("gui", str(project), "--screenshot", str(shot), "--quit-after-paint")
    assert done.returncode == 0, done.stderr
    assert "first paint" in done.stdout and shot.is_file()


# --- 2. a wrong option value: exit code 2, with the usage ------------------------------------

WRONG_VALUES = [
    ("train", ["--steps", "0"], "--steps", "'0' is not a whole number of 1 or more"),
    ("train", ["--zoom", "2"], "--zoom", "'2' is not a number from 0 to 1"),
    ("train", ["--minutes", "abc"], "--minutes", "'abc' is not a number above 0"),
    ("train", ["--accepted-border", "-1"], "--accepted-border", "of 0 or more"),
    ("train", ["--width", "0"], "--width", "'0' is not a whole number from 1 to 256"),
    ("train", ["--arch", "unett"], "--arch", "unknown architecture 'unett'; choose one of:"),
    ("export", ["O", "--format", "voc", "--split", "a,b"], "--split", "expected numbers like"),
    ("channels", ["--use", "a,b"], "--use", "channels are numbers counted from 1"),
    ("demo", ["--images", "0"], "--images", "'0' is not a whole number from 1 to 1000"),
    ("demo", ["--labelled", "-1"], "--labelled", "'-1' is not a whole number of 0 or more"),
    ("new", ["--classes", "a,,b"], "--classes", "'a,,b': empty class name"),
    ("new", ["--classes", "a,A"], "--classes", "a class named 'A' is there already"),
    ("classes", ["--add", "a\tb"], "--add", "contains a control character"),
    ("classes", ["--color", "cell", "red"], "--color", "invalid colour 'red': expected #rrggbb"),
    ("classes", ["--move", "cell", "x"], "--move", "'x' is not a whole number of 0 or more"),
    ("suggest", ["-n", "0"], "-n/--count", "'0' is not a whole number of 1 or more"),
    ("models", ["--keep", "-1"], "--keep", "'-1' is not a whole number of 0 or more"),
    ("bench", ["--stride", "0"], "--stride", "'0' is not a whole number of 1 or more"),
    ("bench", ["--seed", "-1"], "--seed", "-1 is not in 0..4294967295"),
    ("bench", ["--max-radius", "0"], "--max-radius", "'0' is not a number above 0"),
    ("bench", ["--target", "1.5"], "--target", "'1.5' is not a number above 0 and at most 1"),
    ("bench", ["--limit", "0"], "--limit", "'0' is not a whole number of 1 or more"),
    ("bench", ["--mode", "asisted"], "--mode", "unknown mode 'asisted'"),
    ("bench", ["--tools", "brsh"], "--tools", "unknown tool 'brsh'"),
    ("bench", ["--skip", "-1"], "--skip", "'-1' is not a whole number of 0 or more"),
    ("bench", ["--seconds-per-action", "-1"], "--seconds-per-action", "of 0 or more"),
    ("bench-combine", ["--out", "O", "--first", "0"], "--first", "of 1 or more"),
]


@pytest.mark.parametrize(("command", "extra", "option", "said"), WRONG_VALUES)
def test_a_value_wrong_by_itself_is_refused_with_the_usage_exit_code_2(
    tmp_path, capsys, command, extra, option, said
):
    """`train --steps 0` exited 1 while `suggest -n 0` exited 2; the guide says 2."""
    extra = [str(tmp_path / "O") if word == "O" else word for word in extra]
    err = _refused([command, str(tmp_path / "P"), *extra], capsys)
    assert err.startswith(f"usage: annotator {command} ")
    last = err.rstrip().splitlines()[-1]
    assert last.startswith(f"annotator {command}: error: argument {option}: "), last
    assert said in last
    assert not (tmp_path / "P").exists() and not (tmp_path / "O").exists()


def test_a_torchrun_helper_rank_refusing_a_value_lets_rank_0_say_it_first(
    tmp_path, capsys, monkeypatch
):
    """The refusal moved from the round to the command line: a helper rank ended at
    once, and torchrun stopped rank 0 at times before it had printed why."""
    import annotator.cli as cli

    waits: list[float] = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "P"), "--steps", "0"])
    assert exit_.value.code == 2 and waits == [cli.HELPER_REFUSAL_WAIT_S]
    assert capsys.readouterr() == ("", "")  # rank 0 says it


def test_a_torchrun_helper_rank_refusing_a_command_lets_rank_0_say_it_first(
    tmp_path, capsys, monkeypatch
):
    """Only train runs under torchrun: the other ranks ended at once on any other
    command, and torchrun stopped rank 0 before it had said why (seen in CI)."""
    import annotator.cli as cli

    waits: list[float] = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["predict", str(tmp_path / "P")]) == 1
    assert waits == [cli.HELPER_REFUSAL_WAIT_S]
    assert capsys.readouterr() == ("", "")  # rank 0 says it


def test_no_option_takes_a_bare_number_whose_range_the_command_checks_later():
    """Every number is read by a type of cli.options, which refuses it out of range."""
    for name, command in _commands().items():
        for action in command._actions:
            assert action.type not in (int, float), (name, action.option_strings)


def test_the_near_names_are_said_for_a_mistyped_architecture_mode_and_tool(tmp_path, capsys):
    err = _refused(["train", str(tmp_path), "--arch", "unett"], capsys)
    assert err.rstrip().endswith("did you mean 'unet'?")
    err = _refused(["bench", str(tmp_path), "--mode", "manul"], capsys)
    assert err.rstrip().endswith("did you mean 'manual'?")


def test_a_class_the_project_lacks_stays_exit_1_and_names_the_near_one(project, capsys):
    """Image names had "did you mean"; class names had not."""
    assert main(["classes", str(project), "--rename", "cel", "x"]) == 1
    assert capsys.readouterr().err == (
        "annotator: error: no class 'cel'; the classes are background, cell; did you mean 'cell'?\n"
    )
    assert main(["classes", str(project), "--move", "cell", "5"]) == 1  # the project's range
    assert "is no id of this project (0 to 1)" in capsys.readouterr().err


# --- 3. suggested commands run as they are ---------------------------------------------------


def _command(text: str, start: str) -> list[str]:
    """The words of the `annotator ...` command quoted in ``text`` that starts so."""
    at = text.index(f"`{start}")
    return shlex.split(text[at + 1 : text.index("`", at + 1)])


def test_predict_without_a_model_names_the_project_in_the_train_command(project, capsys):
    assert main(["predict", str(project)]) == 1
    err = capsys.readouterr().err
    assert "the project has no model yet" in err
    assert _command(err, "annotator train") == ["annotator", "train", str(project)]


def test_a_rename_names_the_project_in_the_train_command(project, capsys):
    from annotator.core.card import ModelCard
    from annotator.storage import models
    from annotator.storage.project import Project

    with Project.open(project) as opened:  # (without a model, a rename says none of it)
        card = ModelCard(version=1, architecture={}, classes=("background", "cell"))
        models.publish_version(opened, card, b"weights")
    assert main(["classes", str(project), "--rename", "cell", "nucleus"]) == 0
    out = capsys.readouterr().out
    words = _command(out, "annotator train")
    assert words == ["annotator", "train", str(project), "--from-scratch"]


def test_an_add_of_bare_pages_names_the_file_in_the_command_that_adds_its_slices(
    project, tmp_path, capsys
):
    """It said `annotator add P FILE --pages slices` of the one file it had just read."""
    rng = np.random.default_rng(0)
    pages = [Image.fromarray(rng.integers(0, 255, (16, 20), dtype=np.uint8)) for _ in range(3)]
    tif = tmp_path / "three pages.tif"
    pages[0].save(tif, save_all=True, append_images=pages[1:])
    assert main(["add", str(project), str(tif)]) == 0
    words = _command(capsys.readouterr().out, "annotator add")
    assert words == ["annotator", "add", str(project), str(tif), "--pages", "slices"]
    assert main(words[1:]) == 0  # it runs as it is
    assert "added 3 image(s)" in capsys.readouterr().out


# --- 4. --help says every option's default ---------------------------------------------------


def test_every_option_of_every_command_has_help():
    """bench --seed, predict --device and suggest --device had none (nor either
    --format)."""
    for name, command in _commands().items():
        for action in command._actions:
            if action.option_strings:
                assert action.help, (name, action.option_strings)


def _help(command: str, option: str) -> str:
    action = _commands()[command]._option_string_actions[option]
    return " ".join(str(action.help).split())


def test_the_help_states_the_defaults_and_what_labels_reads():
    assert "(default uncertainty)" in _help("bench", "--strategy")
    assert "(default bench-out)" in _help("bench", "--out")
    assert "(default 0)" in _help("bench", "--seed")
    labels = _help("import", "--labels")
    assert "an id list" in labels and "CVAT labelmap.txt" in labels
    assert "refused for coco, yolo and labelstudio" in labels
    for command in ("predict", "suggest"):
        assert "default: cuda, then mps, then cpu" in _help(command, "--device")


# --- 5. -v and --debug after the command too -------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_and_debug_work_before_and_after_the_command(project, tmp_path, capsys, where):
    """`annotator add P dir -v`: unrecognized arguments."""
    for flags in (["-v"], ["--verbose", "--debug"]):
        argv = ["add", "P", "dir"]
        args = build_parser().parse_args([*flags, *argv] if where == "before" else [*argv, *flags])
        assert args.verbose and args.debug == ("--debug" in flags)
    args = build_parser().parse_args(["status", "P"])
    assert not args.verbose and not args.debug
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(12):  # an add again skips each file: -v names every one
        cv2.imwrite(str(images / f"im{i}.png"), np.full((8, 8), i, np.uint8))
    assert main(["add", str(project), str(images)]) == 0
    capsys.readouterr()
    add = ["add", str(project), str(images)]
    assert main(["-v", *add] if where == "before" else [*add, "-v"]) == 0
    err = capsys.readouterr().err
    assert all(f"im{i}.png" in err for i in range(12)), err


def test_verbose_says_annotators_steps_not_the_libraries_debug_lines(project, tmp_path):
    """`-v` printed PIL's `STREAM b'IHDR'` line for every chunk of every PNG read."""
    import subprocess
    import sys

    from PIL import Image

    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(np.full((8, 8), 3, np.uint8)).save(images / "a.png")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from annotator.cli import main; sys.exit(main(sys.argv[1:]))",
            "-v",
            "add",
            str(project),
            str(images),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "added 1 image(s)" in run.stdout, run.stderr
    assert "PIL" not in run.stderr, run.stderr


# --- 6. bench --last that matches nothing; the near class ------------------------------------


def _dataset(root: Path) -> Path:
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i, name in enumerate(("a.png", "b.png")):
        picture = np.zeros((16, 16), np.uint8)
        picture[4:12, 4 + i : 12] = 200  # (two pictures alike would be one)
        cv2.imwrite(str(root / "images" / name), picture)
        cv2.imwrite(str(root / "masks" / name), (picture > 0).astype(np.uint8))
    return root


def test_bench_last_that_matches_no_image_is_refused_before_any_work(tmp_path, capsys):
    """It ran as if not given, without a word."""
    root, out = _dataset(tmp_path / "ds"), tmp_path / "out"
    argv = ["bench", str(root), "--mode", "manual", "--out", str(out), "--last", "val_*"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "annotator: error: --last 'val_*': matches none of the 2 image(s) the run labels "
        "(a.png, b.png); it is matched against file names, in their letter case\n"
    )
    assert not (out / "bench.json").exists()


# --- 7. --color's colour lost to the shell ---------------------------------------------------


def test_color_with_one_value_says_to_quote_the_colour(project, capsys):
    """`--color cell #ff0000` unquoted reaches the command as `--color cell`."""
    err = _refused(["classes", str(project), "--color", "cell"], capsys)
    assert err.rstrip().endswith(
        "argument --color: expected 2 arguments; quote the colour, or the shell drops it as "
        "a comment: --color CLASS '#RRGGBB'"
    )
    assert "--color CLASS '#RRGGBB'" in _commands()["classes"].format_help()
    assert main(["classes", str(project), "--color", "cell", "#ff0000"]) == 0
    assert "'cell' is now #ff0000" in capsys.readouterr().out
