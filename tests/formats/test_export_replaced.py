"""An image file replaced by another picture after it was added (same name, same size,
other content) is refused by export, as a missing one is: its label map belongs to the
picture that was labelled, and pairing it with the new one would be a wrong training set."""

import os

import pytest
from fmthelpers import make_project, write_image

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.services.exchange import ExportRequest, export_project


@pytest.mark.parametrize("fmt", ["voc", "masks", "coco", "labelme", "yolo"])
def test_export_refuses_an_image_replaced_by_another_picture(tmp_path, masks, fmt):
    project = make_project(tmp_path, masks)
    src = tmp_path / "src" / "noise.png"
    write_image(src, masks["noise"].shape, seed=99)  # same size, other pixels
    out = tmp_path / "out"
    with pytest.raises(FormatError) as err:
        export_project(project, ExportRequest(format=fmt, out=out))
    message = str(err.value)
    assert message.startswith(f"{src}: the image file of 'noise.png' is not the one that was")
    assert "replaced?" in message and "\n" not in message
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_export_works_again_once_the_original_is_back(tmp_path, masks):
    project = make_project(tmp_path, masks)
    src = tmp_path / "src" / "full.png"
    original = src.read_bytes()
    write_image(src, masks["full"].shape, seed=99)
    with pytest.raises(FormatError, match="'full.png' is not the one that was labelled"):
        export_project(project, ExportRequest(format="voc", out=tmp_path / "out"))
    src.write_bytes(original)
    os.utime(src, (1, 1))  # a new time stamp alone changes nothing
    report = export_project(project, ExportRequest(format="voc", out=tmp_path / "out"))
    assert sum(report.counts.values()) == len(masks)


def test_a_replaced_image_that_is_not_exported_does_not_stop_the_export(tmp_path, masks):
    project = make_project(tmp_path, masks)
    write_image(tmp_path / "extra" / "new.png", (8, 8), seed=1)
    project.add_images([tmp_path / "extra"])  # no label map: left out of the export
    write_image(tmp_path / "extra" / "new.png", (8, 8), seed=2)
    request = ExportRequest(format="voc", out=tmp_path / "out", include="all")
    report = export_project(project, request)
    assert sum(report.counts.values()) == len(masks)
    assert report.skipped == (("new.png", "has no label map"),)


def test_cli_export_with_a_replaced_image_is_one_line(tmp_path, masks, capsys):
    project = make_project(tmp_path, masks)
    project.close()
    write_image(tmp_path / "src" / "crafted.png", masks["crafted"].shape, seed=99)
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "project"), str(out), "--format", "coco"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("annotator: error: ") and err.count("\n") == 1
    assert "the image file of 'crafted.png' is not the one that was labelled" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_the_check_of_the_image_files_reports_progress(tmp_path, masks):
    project = make_project(tmp_path, masks)
    calls = []
    export_project(
        project,
        ExportRequest(format="voc", out=tmp_path / "out"),
        progress=lambda i, n, msg: calls.append((i, n, msg)),
    )
    checking = [c for c in calls if c[2].startswith("checking ")]
    assert [(i, n) for i, n, _ in checking] == [(i, len(masks)) for i in range(len(masks))]
    assert calls.index(checking[-1]) < len(checking)  # before the files are written
