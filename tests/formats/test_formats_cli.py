"""``annotator export`` and ``annotator import`` from the command line."""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import CLASSES, make_project

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


def test_cli_export_then_import_prints_summaries(tmp_path, masks, capsys):
    make_project(tmp_path, masks).close()
    project = str(tmp_path / "project")
    out = tmp_path / "out"
    code = main(
        [
            "export",
            project,
            str(out),
            "--format",
            "labelme",
            "--split",
            "0.5,0.5,0",
            "--seed",
            "1",
            "--keep-background",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "exported 4 image(s) as labelme" in text and "train: 2, val: 2" in text
    assert "does not sum to 1" not in text
    Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))).close()
    code = main(["import", str(tmp_path / "again"), str(out), "--format", "labelme"])
    assert code == 0
    text = capsys.readouterr().out
    # the image with nothing labelled is added to label, not imported as done with nothing
    assert "imported 3 mask(s) from labelme: 0 matched to project images, 4 image(s) added" in text
    assert "1 image(s) without a labelled pixel in the source (first: empty.png)" in text
    with Project.open(tmp_path / "again") as again:
        for rec in again.images():
            if rec.stem == "empty":
                assert again.load_mask(rec) is None and rec.status.value == "new"
            else:
                assert np.array_equal(again.load_mask(rec), masks[rec.stem])


def test_cli_import_error_is_one_line_naming_the_file(tmp_path, capsys):
    Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))).close()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code = main(["import", str(tmp_path / "p"), str(bad), "--format", "coco"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "bad.json" in err and "not valid JSON" in err


def test_cli_rejects_a_bad_split(tmp_path, capsys):
    make_project(tmp_path, {"a": np.zeros((3, 3), np.uint8)}).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "o"), "--format", "voc"]
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main([*args, "--split", "a,b"])
    assert exit_.value.code == 2 and "argument --split: " in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_split_that_does_not_sum_to_one_is_said_as_the_shares_used(tmp_path, masks, capsys):
    make_project(tmp_path, masks).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "o"), "--format", "voc"]
    assert main([*args, "--split", "0.5,0.25"]) == 0
    said = capsys.readouterr()
    assert said.err.splitlines() == [  # a note, on stderr (it was on stdout)
        "note: --split 0.5,0.25 does not sum to 1: read as shares (train 0.667, val 0.333, test 0)"
    ]
    assert "does not sum" not in said.out


def test_a_yolo_export_without_validation_images_says_val_names_the_training_ones(
    tmp_path, masks, capsys
):
    make_project(tmp_path, masks).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "o"), "--format", "yolo"]
    assert main([*args, "--split", "1,0,0"]) == 0
    assert "data.yaml's 'val' names the training images" in capsys.readouterr().out


def test_an_import_names_a_skipped_file_once(tmp_path, capsys):
    """A reason that begins with its file is printed as it is, not after the path again."""
    import cv2
    import numpy as np

    from annotator.cli import main

    src = tmp_path / "masks"
    (src / "masks").mkdir(parents=True)
    (src / "images").mkdir()
    cv2.imwrite(str(src / "images" / "paired.png"), np.full((8, 8), 90, np.uint8))
    cv2.imwrite(str(src / "masks" / "paired.png"), np.ones((8, 8), np.uint8))
    cv2.imwrite(str(src / "masks" / "lonely.png"), np.ones((8, 8), np.uint8))  # no image
    project = tmp_path / "p"
    assert main(["new", str(project), "--classes", "a,b"]) == 0
    main(["import", str(project), str(src), "--format", "masks"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert lines and all(line.count("lonely.png") == 1 for line in lines), err


def test_an_import_names_the_first_20_skipped_files_and_counts_the_rest(tmp_path, capsys):
    """As an add's summary: many files skipped are not a wall of lines; -v lists each."""
    import cv2

    src = tmp_path / "masks"
    (src / "masks").mkdir(parents=True)
    (src / "images").mkdir()
    cv2.imwrite(str(src / "images" / "paired.png"), np.full((8, 8), 90, np.uint8))
    cv2.imwrite(str(src / "masks" / "paired.png"), np.ones((8, 8), np.uint8))
    for i in range(25):  # masks without their image
        cv2.imwrite(str(src / "masks" / f"lonely{i}.png"), np.ones((8, 8), np.uint8))
    project = tmp_path / "p"
    assert main(["new", str(project), "--classes", "a,b"]) == 0
    capsys.readouterr()
    args = ["import", str(project), str(src), "--format", "masks"]
    assert main(args) == 2  # imported, some skipped
    out = capsys.readouterr()
    lines = [x for x in out.err.splitlines() if x.startswith(("skipped ", "... and"))]
    assert len(lines) == 21, out.err
    assert all(x.startswith("skipped ") and "lonely" in x for x in lines[:20])
    again = f"annotator -v import {project} {src} --format masks"
    assert lines[20] == f"... and 5 more (`{again}` lists them)"
    assert "imported 1 mask(s)" in out.out and "skipped" not in out.out
    assert out.err.splitlines()[-1] == "25 item(s) skipped (reasons above)"  # with them
    assert main(["-v", *args]) == 2  # every one named
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("skipped ")]
    assert len(lines) == 25
    assert sorted(x for x in lines if "lonely" in x) == sorted(lines)
    assert len({x.split(":")[0] for x in lines}) == 25
