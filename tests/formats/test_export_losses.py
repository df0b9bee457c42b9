"""An export says what its format cannot keep: VOC writes unlabelled pixels as void (255),
COCO and YOLO leave void pixels out (read back unlabelled); masks and labelme keep both."""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import CLASSES, U, V, make_project

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ExportRequest, export_project, losses_summary
from annotator.storage.project import Project


def _with(masks, value):
    """(images, pixels) holding ``value``."""
    counts = [int(np.count_nonzero(m == value)) for m in masks.values()]
    return sum(1 for n in counts if n), sum(counts)


@pytest.mark.parametrize("fmt", ["voc", "masks", "coco", "labelme", "yolo"])
def test_the_report_counts_the_pixels_the_format_cannot_keep(tmp_path, masks, fmt):
    project = make_project(tmp_path, masks)
    report = export_project(project, ExportRequest(format=fmt, out=tmp_path / "out"))
    assert report.unlabelled_as_void == (_with(masks, U) if fmt == "voc" else (0, 0))
    assert report.void_left_out == (_with(masks, V) if fmt in ("coco", "yolo") else (0, 0))
    assert len(losses_summary(report)) == (0 if fmt in ("masks", "labelme") else 1)


def test_a_voc_export_says_unlabelled_pixels_come_back_void(tmp_path, masks, capsys):
    """It said nothing, and a re-import made partly labelled images wholly labelled."""
    make_project(tmp_path, masks).close()
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["export", str(tmp_path / "project"), str(out), "--format", "voc"]) == 0
    text = capsys.readouterr().out
    images, pixels = _with(masks, U)
    line = (
        f"  {images} image(s) have unlabelled pixels ({pixels:,} in all), written as 255 "
        "(void) since VOC has no unlabelled value: imported again they are void; export as "
        "masks to keep them unlabelled\n"
    )
    assert line in text and "void pixels" not in text
    # what the line says: imported again, they are void
    Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))).close()
    assert main(["import", str(tmp_path / "again"), str(out), "--format", "voc"]) == 0
    with Project.open(tmp_path / "again") as again:
        back = {r.stem: again.load_mask(r) for r in again.images()}
    assert all(((back[k] == V) == ((m == U) | (m == V))).all() for k, m in masks.items())


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_a_coco_or_yolo_export_says_void_pixels_come_back_unlabelled(tmp_path, masks, capsys, fmt):
    make_project(tmp_path, masks).close()
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "project"), str(out), "--format", fmt]) == 0
    text = capsys.readouterr().out
    images, pixels = _with(masks, V)
    assert (
        f"  {images} image(s) have void pixels ({pixels:,} in all), left out since "
        f"{fmt.upper()} has no void value: imported again they are unlabelled; export as "
        "masks to keep them void\n"
    ) in text
    assert "unlabelled pixels" not in text


def test_an_export_without_those_pixels_says_nothing_of_them(tmp_path, capsys):
    full = {"full": np.zeros((9, 7), np.uint8)}
    make_project(tmp_path, full).close()
    for fmt in ("voc", "coco"):
        out = tmp_path / f"out-{fmt}"
        assert main(["export", str(tmp_path / "project"), str(out), "--format", fmt]) == 0
        text = capsys.readouterr().out
        assert "void" not in text and "unlabelled" not in text


def test_a_labelme_export_says_labelme2voc_shifts_ids_and_trains_unlabelled(
    tmp_path, masks, capsys
):
    """labels.txt starts __ignore__, _background_: labelme2voc shifts the class ids by
    one and gives the unlabelled pixels to _background_ (class 0). The summary said
    nothing of it."""
    make_project(tmp_path, masks).close()
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "project"), str(out), "--format", "labelme"]) == 0
    text = capsys.readouterr().out
    images, _ = _with(masks, U)
    assert (out / "labels.txt").read_text().splitlines()[:2] == ["__ignore__", "_background_"]
    (line,) = [ln for ln in text.splitlines() if "labelme2voc" in ln]
    assert "class ids are the project's plus 1" in line
    assert f"{images} image(s) have unlabelled pixels" in line and "masks or voc" in line


def test_the_labelme_note_leaves_out_unlabelled_pixels_when_there_are_none(tmp_path, masks):
    project = make_project(tmp_path, {"full": masks["full"]})
    report = export_project(project, ExportRequest(format="labelme", out=tmp_path / "out"))
    (line,) = [n for n in report.notes if "labelme2voc" in n]
    assert "unlabelled" not in line


def test_a_masks_export_says_void_is_254_which_loaders_ignoring_255_do_not_skip(
    tmp_path, masks, capsys
):
    """Only dataset.json said void is 254: mmsegmentation and CrossEntropyLoss with
    ignore_index=255 fail on it."""
    make_project(tmp_path, masks).close()
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "project"), str(out), "--format", "masks"]) == 0
    text = capsys.readouterr().out
    images, pixels = _with(masks, V)
    line = (
        f"  {images} image(s) have void pixels ({pixels:,} in all), written as 254 "
        "(unlabelled as 255; dataset.json records both): a loader that ignores only 255 "
        "(mmsegmentation, CrossEntropyLoss(ignore_index=255)) fails on 254 or trains it as "
        "a class; map 254 to 255 first, or export as voc (255 for both)\n"
    )
    assert line in text
    project = make_project(tmp_path / "novoid", {"full": masks["full"]})
    report = export_project(project, ExportRequest(format="masks", out=tmp_path / "o2"))
    assert not any("void" in n for n in report.notes)


def test_the_labelme_note_says_nothing_of_ids_when_they_are_the_projects(tmp_path, masks):
    """A project whose class 0 is _background_ has labelme2voc's ids: the note said they
    "follow labels.txt, not the project" all the same."""
    classes = ("_background_", "cell", "nucleus")
    project = make_project(tmp_path, {"full": masks["full"]}, classes=classes)
    report = export_project(project, ExportRequest(format="labelme", out=tmp_path / "out"))
    assert (tmp_path / "out/labels.txt").read_text().splitlines() == ["__ignore__", *classes]
    assert not any("labels.txt" in n or "labelme2voc" in n for n in report.notes)
    project = make_project(tmp_path / "u", {"crafted": masks["crafted"]}, classes=classes)
    report = export_project(project, ExportRequest(format="labelme", out=tmp_path / "o2"))
    (line,) = [n for n in report.notes if "labelme2voc" in n]
    assert line.startswith("1 image(s) have unlabelled pixels, which labelme2voc makes")
    assert "class ids" not in line
    # _background_ later than class 0: labelme2voc's ids differ, and the note says so
    moved = ("cell", "_background_", "nucleus")
    project = make_project(tmp_path / "m", {"full": masks["full"]}, classes=moved)
    report = export_project(project, ExportRequest(format="labelme", out=tmp_path / "o3"))
    (line,) = [n for n in report.notes if "labelme2voc" in n]
    assert "class ids follow labels.txt (_background_ is 0), not the project" in line
