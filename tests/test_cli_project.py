"""The project commands end to end, as a user types them."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main


def _images(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.full((16, 16), i * 30, np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    return folder


def test_new_add_status_json_reports_images_and_classes(tmp_path, capsys):
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "background,cell"]) == 0
    assert main(["add", str(proj), str(_images(tmp_path / "imgs"))]) == 0
    capsys.readouterr()
    assert main(["status", str(proj), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["images"] == 3
    assert status["status"] == {"new": 3, "in_progress": 0, "done": 0}
    assert [c["name"] for c in status["classes"]] == ["background", "cell"]
    assert status["models"] == []


def test_add_again_skips_duplicates(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _images(tmp_path / "imgs")
    main(["add", str(proj), str(imgs)])
    capsys.readouterr()
    assert main(["add", str(proj), str(imgs)]) == 0
    out = capsys.readouterr()
    assert "added 0 image(s), skipped 3" in out.out
    assert "already in the project" in out.err


def _distinct_images(folder, n):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(folder / f"{i}.png")
    return folder


def _skip_lines(err):
    return [line for line in err.splitlines() if line.startswith(("skipped", "unreadable", "..."))]


def test_add_again_of_a_folder_says_one_line_not_one_a_file(tmp_path, capsys):
    """A folder of 5,000 pictures added again printed 5,001 lines, one a file."""
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _distinct_images(tmp_path / "imgs", 30)
    assert main(["add", str(proj), str(imgs)]) == 0
    capsys.readouterr()
    assert main(["add", str(proj), str(imgs)]) == 0
    out = capsys.readouterr()
    assert "added 0 image(s), skipped 30, 0 unreadable" in out.out
    (line,) = _skip_lines(out.err)
    head = "skipped 30 file(s) already in the project (first: "
    assert line.startswith(head) and line.endswith(" and 27 more)"), line
    first = line[len(head) : -len(" and 27 more)")].split(", ")
    assert len(set(first)) == 3 and all(name in {str(f) for f in imgs.iterdir()} for name in first)
    # a copy of the folder: the same pictures, under other names
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in imgs.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert main(["add", str(proj), str(copy)]) == 0
    (line,) = _skip_lines(capsys.readouterr().err)
    assert line.startswith(
        "skipped 30 file(s) with the same content as an image already added (first: "
    )


def test_add_again_verbose_names_every_file_skipped(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _distinct_images(tmp_path / "imgs", 30)
    main(["add", str(proj), str(imgs)])
    capsys.readouterr()
    assert main(["-v", "add", str(proj), str(imgs)]) == 0
    lines = _skip_lines(capsys.readouterr().err)
    assert sorted(lines) == sorted(f"skipped {f}: already in the project" for f in imgs.iterdir())


def test_add_again_names_a_replaced_picture_on_its_own_line(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _distinct_images(tmp_path / "imgs", 30)
    main(["add", str(proj), str(imgs)])
    Image.fromarray(np.full((12, 12), 99, np.uint8)).save(imgs / "7.png")
    capsys.readouterr()
    assert main(["add", str(proj), str(imgs)]) == 0
    lines = _skip_lines(capsys.readouterr().err)
    assert len(lines) == 2 and lines[0].startswith("skipped 29 file(s) already in the project")
    assert lines[1].startswith(f"skipped {imgs / '7.png'}: not added: it replaced the picture")


def test_add_names_the_first_20_unreadable_files_and_counts_the_rest(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _distinct_images(tmp_path / "imgs", 2)
    for i in range(25):
        (imgs / f"bad{i}.png").write_bytes(b"not a png")
    capsys.readouterr()
    assert main(["add", str(proj), str(imgs)]) == 2  # done, some files unreadable
    out = capsys.readouterr()
    assert "added 2 image(s), skipped 0, 25 unreadable" in out.out
    lines = _skip_lines(out.err)
    assert len(lines) == 21
    assert all(x.startswith("unreadable ") and "not an image file" in x for x in lines[:20])
    assert lines[20] == f"... and 5 more (`annotator -v add {proj} {imgs}` lists them)"
    assert main(["-v", "add", str(proj), str(imgs)]) == 2  # every one named
    lines = _skip_lines(capsys.readouterr().err)
    assert sorted(x.split(": ")[0] for x in lines) == sorted(
        [f"skipped {imgs / f'{i}.png'}" for i in range(2)]
        + [f"unreadable {imgs / f'bad{i}.png'}" for i in range(25)]
    )
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    for i in range(25):
        (only_bad / f"{i}.png").write_bytes(b"not a png")
    assert main(["add", str(proj), str(only_bad)]) == 1  # nothing could be added
    assert len(_skip_lines(capsys.readouterr().err)) == 21


def test_add_of_a_folder_names_the_picture_types_it_left_out(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _images(tmp_path / "imgs", n=1)
    (imgs / "a.webp").write_bytes(b"RIFF")
    (imgs / "notes.txt").write_text("x")
    capsys.readouterr()
    assert main(["add", str(proj), str(imgs)]) == 0
    err = capsys.readouterr().err
    assert "left out pictures of types not read: .webp (1); convert them to PNG or TIFF" in err
    assert "notes.txt" not in err and ".txt" not in err
    # a CT's DICOM files: to NIfTI, which keeps negative Hounsfield units (a PNG cannot)
    (imgs / "IM0001.dcm").write_bytes(b"DICM")
    assert main(["add", str(proj), str(imgs)]) == 0
    assert (
        "types not read: .dcm (1), .webp (1); to add them, convert DICOM and MetaImage files "
        "to NIfTI (dcm2niix, or SimpleITK: it keeps their values and geometry); convert the "
        "others to PNG or TIFF"
    ) in capsys.readouterr().err
    # a JPEG a browser saved: renamed .jpg it is read
    (imgs / "photo.jfif").write_bytes(b"\xff\xd8")
    assert main(["add", str(proj), str(imgs)]) == 0
    assert "; to add them, rename .jfif and .jpe files to .jpg (they are JPEG files); convert" in (
        capsys.readouterr().err
    )
    assert main(["add", str(proj), str(imgs / "IM0001.dcm")]) == 1
    assert (
        "'.dcm'; supported: .bmp, .jpeg, .jpg, .png, .tif, .tiff, .nii, .nii.gz; to add them, "
        "convert DICOM" in (capsys.readouterr().err)
    )


def test_add_with_bad_files_reports_them_and_exits_nonzero(tmp_path, capsys):
    proj = tmp_path / "P"
    main(["new", str(proj), "--classes", "a,b"])
    imgs = _images(tmp_path / "imgs", n=2)
    (imgs / "bad.png").write_bytes(b"not a png")
    assert main(["add", str(proj), str(imgs)]) == 2
    out = capsys.readouterr()
    assert f"unreadable {imgs / 'bad.png'}: not an image file" in out.err
    assert "added 2 image(s)" in out.out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["status", "{tmp}/nothing"], "no such project folder"),
        (["add", "{tmp}/nothing", "x.png"], "no such project folder"),
    ],
)
def test_user_errors_print_one_line_and_exit_1(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("annotator: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_internal_error_prints_no_traceback_and_writes_crash_log(tmp_path, capsys, monkeypatch):
    from annotator.storage import project as project_module

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(project_module.Project, "summary", broken)
    main(["new", str(tmp_path / "P"), "--classes", "a"])
    assert main(["status", str(tmp_path / "P")]) == 70
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
    log = os.path.join(os.environ["ANNOTATOR_LOG_DIR"], "annotator-crash.log")
    assert log in err
    with open(log) as fh:
        text = fh.read()
    assert "ZeroDivisionError: boom" in text
    # each entry says when and which command wrote it (the file is shared by every run)
    header = text[: text.index("Traceback")].strip().splitlines()[-1]
    assert header.startswith("--- ") and f"pid {os.getpid()}" in header
    # kept to a size, as the app's log is (it was appended to for ever)
    from annotator.cli import CRASH_LOG_BYTES

    with open(log, "a") as fh:
        fh.write("x" * CRASH_LOG_BYTES)
    assert main(["status", str(tmp_path / "P")]) == 70
    capsys.readouterr()
    assert os.path.getsize(log + ".1") > CRASH_LOG_BYTES
    assert (
        os.path.getsize(log) < 100_000
        and "ZeroDivisionError: boom" in pathlib.Path(log).read_text()
    )


def test_help_imports_neither_torch_nor_qt():
    code = (
        "import sys, contextlib, io\n"
        "from annotator.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'cv2'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_help_runs(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "annotator")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("new", "add", "status", "gui", "demo"):
        assert command in out.stdout


def test_demo_project_is_created_with_generated_images(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "demo"), "--images", "3"]) == 0
    assert main(["status", str(tmp_path / "demo"), "--json"]) == 0
    out = capsys.readouterr().out
    status = json.loads(out[out.index("{") :])
    assert status["images"] == 3
    assert [c["name"] for c in status["classes"]] == ["background", "cell", "nucleus"]


def test_status_says_a_version_s_figures_in_words():
    from annotator.cli.project_cmds import _metrics

    figures = {"loss": 0.60728, "pixel_accuracy": 0.98411, "mean_iou": 0.8674, "iou": {}}
    assert _metrics(figures) == "pixel accuracy 0.984, mean IoU 0.867, loss 0.6073"
    assert _metrics({}) == "no validation figures"


def test_models_and_status_say_a_round_of_a_few_validation_pixels_was_not_scored(tmp_path, capsys):
    """An audit's round on one stroke of one class: 3 validation pixels, "mIoU 1.000"."""
    from annotator.core.card import CardMetrics, ModelCard
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    names = ("background", "cell", "nucleus")
    tiny = CardMetrics(
        loss=0.7,
        pixel_accuracy=1.0,  # (as cards were written before: the figures themselves)
        mean_iou=1.0,
        iou={"background": 1.0, "cell": None, "nucleus": None},
        val_pixels=3,
        class_pixels={"background": 3, "cell": 0, "nucleus": 0},
    )
    fair = CardMetrics(
        loss=0.3,
        pixel_accuracy=0.9,
        mean_iou=0.75,
        iou={"background": 0.9, "cell": 0.6, "nucleus": None},
        val_pixels=5000,
        class_pixels={"background": 4000, "cell": 1000, "nucleus": 0},
    )
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(list(names))) as project:
        for version, metrics in ((1, tiny), (2, fair)):
            card = ModelCard(version=version, architecture={}, classes=names, metrics=metrics)
            project.register_model(version, None, f"models/v{version}/model.pt", card)
    capsys.readouterr()
    assert main(["models", str(root)]) == 0
    out = capsys.readouterr().out
    v1 = out[out.index("v1 ") : out.index("v2 ")]
    assert "1.0000" not in v1 and v1.count("n/a") == 2
    assert "not scored: too few validation labels (3 pixels of 1 class)" in v1
    assert "mIoU 0.7500 over 2 of 3 classes" in out[out.index("v2 ") :]
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("models")]
    assert "not scored: too few validation labels (3 pixels of 1 class), loss 0.7000" in lines[0]
    assert "accuracy" not in lines[0] and "IoU" not in lines[0]
    assert "pixel accuracy 0.900, mean IoU 0.750 over 2 of 3 classes, loss 0.3000" in lines[1]


def test_models_notes_a_pooled_version_where_deep_colour_pictures_make_it_matter(tmp_path, capsys):
    """A version made before the per-channel rule normalises a picture of several channels
    of more than 8 bits otherwise than a new one (ADR 0027): the listing says so, only
    where the project has such pictures, and is otherwise as it was."""
    import cv2

    from annotator.core.card import ModelCard
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    note = "pooled input normalisation (made before the per-channel rule)"
    names = ("background", "cell")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    cv2.imwrite(str(imgs / "rgb8.png"), np.full((8, 8, 3), (10, 90, 200), np.uint8))
    cv2.imwrite(str(imgs / "grey16.png"), np.full((8, 8), 3000, np.uint16))
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(list(names))) as project:
        project.add_images([imgs])
        rules: list[dict[str, str]] = [{}, {"normalisation": "pooled"}]  # (old card; kept)
        rules.append({"normalisation": "per-channel"})
        for version, rule in enumerate(rules, 1):
            card = ModelCard(version=version, architecture={"arch": "unet", **rule}, classes=names)
            project.register_model(version, None, f"models/v{version}/model.pt", card)
    capsys.readouterr()
    assert main(["models", str(root)]) == 0
    plain = capsys.readouterr().out
    assert note not in plain  # 8-bit colour and 16-bit grey: the rules agree

    deep = tmp_path / "deep"
    deep.mkdir()
    cv2.imwrite(str(deep / "rgb16.png"), np.full((8, 8, 3), (30000, 1200, 600), np.uint16))
    assert main(["add", str(root), str(deep)]) == 0
    capsys.readouterr()
    assert main(["models", str(root)]) == 0
    out = capsys.readouterr().out
    # each version's row and the lines under it (the active one's row begins with "*")
    v1, v2, v3 = re.split(r"\n[* ] v\d", out[out.index("v1 ") :])
    assert v1.count(note) == v2.count(note) == 1  # made before the rule, or trained on
    assert note not in v3  # per-channel
    assert [x for x in out.splitlines() if x.strip() != note] == plain.splitlines()


def test_the_gui_without_a_display_is_one_line_not_a_qt_abort():
    from annotator.cli.project_cmds import no_display

    assert "no display" in no_display({}, "linux")
    assert no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ""
    assert no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert no_display({}, "darwin") == "" and no_display({}, "win32") == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's abstract sockets")
def test_a_display_that_does_not_answer_is_one_line_not_a_qt_abort():
    """A stale DISPLAY (an ssh -X session gone, a tmux started from a desktop since left):
    Qt aborted (exit 134) blaming a missing libxcb-cursor0."""
    import socket

    from annotator.cli.project_cmds import no_display, x_display_answers

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        number = 4000 + os.getpid() % 1000
        server.bind(f"\0/tmp/.X11-unix/X{number}")  # an X server's (abstract) socket
        server.listen(1)
        assert no_display({"DISPLAY": f":{number}"}, "linux") == ""
        assert x_display_answers(f"unix:{number}.0") is True
    with socket.socket() as tcp:  # ssh -X: localhost:10.0, port 6010
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        port = tcp.getsockname()[1]
        assert x_display_answers(f"localhost:{port - 6000}.0") is True
    said = no_display({"DISPLAY": f":{number}"}, "linux")
    assert said.startswith(f"the display DISPLAY=:{number} does not answer")
    assert x_display_answers("localhost:1") in (True, False)  # whatever runs here
    assert x_display_answers("/private/tmp/launch/org.xquartz:0") is None  # Qt decides
    assert no_display({"DISPLAY": "what?"}, "linux") == ""


def test_the_gui_without_qt_says_what_to_install_in_one_line(tmp_path, monkeypatch, capsys):
    """Seen on a GPU server: PySide6 was not installed and ``annotator gui`` ended in an
    internal error; a server without a desktop lacks Qt's system libraries the same way."""
    assert main(["new", str(tmp_path / "P"), "--classes", "a,b"]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "PySide6.QtWidgets", None)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["gui", str(tmp_path / "P")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "internal error" not in err
    assert "the GUI cannot start: Qt cannot be loaded" in err
    assert "pip install 'PySide6-Essentials" in err


def test_a_version_is_written_as_it_is_listed_too():
    import argparse

    import pytest

    from annotator.cli.options import model_version as _version_number

    assert _version_number("2") == 2 and _version_number("v12") == 12
    for bad in ("", "v", "two", "-1", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            _version_number(bad)


def test_a_project_of_more_classes_than_the_model_takes_is_told_at_creation(tmp_path, capsys):
    """It was accepted in silence, and the first training said why it never could."""
    proj = tmp_path / "P"
    names = ",".join(f"c{i}" for i in range(300))
    assert main(["new", str(proj), "--classes", names]) == 0
    err = capsys.readouterr().err
    assert "note: the embedded model trains on at most 254 classes and this project has 300" in err
    assert main(["new", str(tmp_path / "Q"), "--classes", "a,b"]) == 0
    assert "note:" not in capsys.readouterr().err
    main(["add", str(proj), str(_images(tmp_path / "imgs", n=1))])
    capsys.readouterr()
    assert main(["train", str(proj), "--steps", "1", "--device", "cpu"]) == 1
    assert "at most 254 classes and this project has 300" in capsys.readouterr().err


def test_class_names_with_commas_come_from_a_file(tmp_path, capsys):
    names = tmp_path / "classes.txt"
    names.write_text("background\nvesicle, docked\n\nmitochondrion\n", encoding="utf-8")
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes-file", str(names)]) == 0
    capsys.readouterr()
    assert main(["status", str(proj), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in status["classes"]] == [
        "background",
        "vesicle, docked",
        "mitochondrion",
    ]
    (tmp_path / "empty.txt").write_text("\n")
    assert main(["new", str(tmp_path / "Q"), "--classes-file", str(tmp_path / "empty.txt")]) == 1
    assert "no class names in it" in capsys.readouterr().err


def test_classes_lists_adds_renames_and_recolours_as_the_class_panel_does(tmp_path, capsys):
    """The GUI's class panel had no command: a headless project could not grow a class."""
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "bg,cell"])
    capsys.readouterr()
    assert main(["classes", proj]) == 0
    assert capsys.readouterr().out.split() == ["0", "#4363d8", "bg", "1", "#e6194b", "cell"]
    assert main(["classes", proj, "--add", "nucleus", "mito chondria"]) == 0
    assert "the next round learns them" in capsys.readouterr().out
    assert main(["classes", proj, "--rename", "CELL", "membrane"]) == 0  # any case
    assert capsys.readouterr().out == "renamed 'cell' to 'membrane'\n"  # (no model: no word of it)
    assert main(["classes", proj, "--rename", "membrane", "Membrane"]) == 0
    capsys.readouterr()
    assert main(["classes", proj, "--rename", "Membrane", "membrane"]) == 0
    assert main(["classes", proj, "--color", "2", "#ff0000"]) == 0  # by id
    assert main(["classes", proj, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [(c["id"], c["name"], c["color"]) for c in listed] == [
        (0, "bg", "#4363d8"),
        (1, "membrane", "#e6194b"),
        (2, "nucleus", "#ff0000"),
        (3, "mito chondria", "#ffe119"),
    ]
    for bad, said in (
        (["--rename", "cell", "x"], "no class 'cell'; the classes are bg, membrane"),
        (["--rename", "9", "x"], "no class '9'"),
        (["--remove", ""], "no class ''; the classes are bg, membrane"),  # (was exit 70)
        (["--add", "bg"], "a class named 'bg' is there already"),
        (["--rename", "bg", ""], "annotator: error:"),
    ):
        assert main(["classes", proj, *bad]) == 1
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["classes", proj, "--color", "bg", "red"])
    assert exit_.value.code == 2
    assert "argument --color: invalid colour 'red'" in capsys.readouterr().err
    assert main(["classes", proj]) == 0
    assert capsys.readouterr().out.split()[-3:] == ["#ffe119", "mito", "chondria"]


def test_new_takes_labelmes_labels_txt_as_its_class_list(tmp_path, capsys):
    """labelme's labels.txt begins with __ignore__ (void), which no class may be called."""
    listed = tmp_path / "labels.txt"
    listed.write_text("__ignore__\n_background_\ncat\n")
    assert main(["new", str(tmp_path / "P"), "--classes-file", str(listed)]) == 0
    assert "0=_background_, 1=cat" in capsys.readouterr().out


def test_classes_refuses_a_name_that_is_another_class_s_id(tmp_path, capsys):
    """With classes 1,0,x, "--remove 1" took out the class named "1" (id 0), not id 1."""
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "1,0,x"])
    capsys.readouterr()
    assert main(["classes", proj, "--remove", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "annotator: error: '1' is both the name of class 0 and the id of class '0'; say "
        "'id:0' for the class named '1', or 'id:1' for class 1"
    )
    assert main(["classes", proj, "--rename", "x", "2"]) == 0  # id 2 is itself
    assert main(["classes", proj, "--remove", "id:1"]) == 0
    capsys.readouterr()
    assert main(["classes", proj]) == 0
    assert capsys.readouterr().out.split()[2::3] == ["1", "2"]
    main(["new", str(tmp_path / "Q"), "--classes", "bg,cell,1"])
    capsys.readouterr()
    for option in (["--rename", "1", "y"], ["--merge", "bg", "1"], ["--move", "1", "0"]):
        assert main(["classes", str(tmp_path / "Q"), *option]) == 1
        assert "say '2' for the class named '1', or 'cell' for class 1" in capsys.readouterr().err


def test_add_of_a_folder_without_images_says_so_and_fails(tmp_path, capsys):
    """It said "added 0 image(s)" and exit 0, as if the folder had been added."""
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    capsys.readouterr()
    assert main(["add", proj, str(empty)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        f"annotator: error: {empty}: no images found (the kinds read: .bmp, .jpeg, .jpg, "
        ".png, .tif, .tiff, .nii, .nii.gz)\n"
    )
    (empty / "a.webp").write_bytes(b"RIFF")
    assert main(["add", proj, str(empty)]) == 1
    assert capsys.readouterr().err.endswith(
        "; left out pictures of types not read: .webp (1); convert them to PNG or TIFF to "
        "add them\n"
    )


def test_an_interrupted_add_says_how_many_were_added_and_a_rerun_adds_the_rest(
    tmp_path, capsys, monkeypatch
):
    """Ctrl+C part-way said only "interrupted", not that some images were in already."""
    import annotator.storage.project as storage_project

    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    imgs = _images(tmp_path / "imgs", n=5)
    real, calls = storage_project.read_image, []

    def read_then_interrupt(path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(storage_project, "read_image", read_then_interrupt)
    capsys.readouterr()
    assert main(["add", proj, str(imgs)]) == 130
    assert capsys.readouterr().err == (
        "annotator: interrupted after adding 2 image(s), which stay in the project; run the "
        "same command again to add the rest\n"
    )
    monkeypatch.setattr(storage_project, "read_image", real)
    assert main(["add", proj, str(imgs)]) == 0
    out = capsys.readouterr()
    assert "added 3 image(s), skipped 2, 0 unreadable; project has 5 image(s)" in out.out
    assert out.err.count("skipped 2 file(s) already in the project (first: ") == 1


@pytest.mark.parametrize(
    "argv,message",
    [
        (["status", "{tmp}/a.txt"], "{tmp}/a.txt: is a file, not a project folder\n"),
        (
            ["status", "{tmp}/P/annotator.sqlite"],
            "{tmp}/P/annotator.sqlite: is a file, not a project folder; the project is its "
            "folder, {tmp}/P\n",
        ),
        (
            ["export", "{tmp}/P", "{tmp}/a.txt", "--format", "masks"],
            "{tmp}/a.txt: is a file, not a folder; give a new or empty folder to export to\n",
        ),
        (
            ["models", "{tmp}/P", "--import", "{tmp}/folder"],
            "{tmp}/folder: is a folder, not a model checkpoint file\n",
        ),
    ],
)
def test_a_path_of_the_wrong_kind_is_called_what_it_is(tmp_path, capsys, argv, message):
    """They said "no such project folder", "already exists and is not an empty folder",
    "no such model checkpoint": true of no file or folder, not of these."""
    main(["new", str(tmp_path / "P"), "--classes", "a,b"])
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    capsys.readouterr()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    assert capsys.readouterr().err == "annotator: error: " + message.replace("{tmp}", str(tmp_path))


def test_status_lists_the_newest_versions_and_the_active_one_not_a_projects_whole_life(
    tmp_path, capsys
):
    """A project of 531 rounds printed 534 lines of status, the active one a star among
    them; the JSON keeps every version."""
    from annotator.cli.project_cmds import STATUS_VERSIONS
    from annotator.core.card import ModelCard
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    root = tmp_path / "p"
    names = ("background", "cell")
    with Project.create(root, LabelSchema.from_names(list(names))) as project:
        for version in range(1, 26):
            card = ModelCard(version=version, architecture={}, classes=names)
            project.register_model(version, None, f"models/v{version}/model.pt", card)
        project.set_active_model(3)
    capsys.readouterr()
    assert main(["status", str(root)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("models")]
    assert (
        lines[0]
        == f"models   {25 - STATUS_VERSIONS - 1} older version(s): annotator models lists every one"
    )
    assert [line.split()[1 if "*" not in line else 2] for line in lines[1:]] == [
        "v3",
        *(f"v{v}" for v in range(16, 26)),
    ]
    assert lines[1].startswith("models * v3")
    assert main(["status", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(json.loads(out[out.index("{") :])["models"]) == 25


def test_a_rename_says_what_the_active_model_does_back_to_its_name_too(tmp_path, capsys):
    """Renamed back to the name the model was trained with, the command still said the
    next round must train from scratch, while training went on from the model."""
    from annotator.core.card import ModelCard
    from annotator.storage import models
    from annotator.storage.project import Project

    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "bg,cell"])
    with Project.open(proj) as project:
        card = ModelCard(version=1, architecture={"n_classes": 2}, classes=("bg", "cell"))
        models.publish_version(project, card, b"weights")
    capsys.readouterr()
    assert main(["classes", proj, "--rename", "cell", "membrane"]) == 0
    assert "the next round must train from scratch" in capsys.readouterr().out
    assert main(["classes", proj, "--rename", "membrane", "Cell"]) == 0
    out = capsys.readouterr().out
    assert "model v1 was trained with that name: training goes on from it" in out, out
    assert main(["classes", proj, "--rename", "Cell", "cell"]) == 0
    assert "the model still fits (the same name in other letters)" in capsys.readouterr().out
    # a class added since the model: renaming it changes nothing for the model
    assert main(["classes", proj, "--add", "x"]) == 0
    assert main(["classes", proj, "--rename", "x", "y"]) == 0
    assert "the model has not learnt that class yet" in capsys.readouterr().out
    # other letters of a name the model does not know: it still cannot be continued
    assert main(["classes", proj, "--rename", "cell", "membrane"]) == 0
    assert main(["classes", proj, "--rename", "membrane", "Membrane"]) == 0
    assert "the next round must train from scratch" in capsys.readouterr().out
