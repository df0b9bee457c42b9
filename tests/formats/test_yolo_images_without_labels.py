"""YOLO images with no label file: those of a split whose images all show no object are
imported too, and the summary says so in one line, not two about the same images."""

from __future__ import annotations

from pathlib import Path

from fmthelpers import write_image

from annotator.cli import main
from annotator.formats.yolo import read_yolo

SQUARE = "1 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n"


def _dataset(ds: Path) -> None:
    """ultralytics' layout: images/train, images/val, labels/train; the val images show
    no object, so labels/val holds nothing."""
    ds.mkdir(parents=True)
    (ds / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [bg, cell]\n")
    write_image(ds / "images/train/a.jpg", (40, 50), seed=1)
    write_image(ds / "images/train/b.jpg", (40, 50), seed=2)
    (ds / "labels/train").mkdir(parents=True)
    (ds / "labels/train/a.txt").write_text(SQUARE)
    write_image(ds / "images/val/c.jpg", (30, 20), seed=3)
    write_image(ds / "images/val/d.jpg", (30, 20), seed=4)
    (ds / "labels/val").mkdir(parents=True)


def test_a_split_with_no_label_file_has_its_images_read(tmp_path):
    ds = tmp_path / "ds"
    _dataset(ds)
    result = read_yolo(ds)
    assert result.errors == []
    assert sorted(it.image_name for it in result.items) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert sorted(result.without_label_file) == ["b.jpg", "c.jpg", "d.jpg"]
    assert sorted(it.image_name for it in read_yolo(ds / "data.yaml").items) == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "d.jpg",
    ]


def test_the_summary_says_in_one_line_that_images_have_no_label_file(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds)
    root = str(tmp_path / "P")
    assert main(["new", root, "--classes", "bg,cell"]) == 0
    capsys.readouterr()
    assert main(["import", root, str(ds), "--format", "yolo"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "b.jpg" in line or "label file" in line]
    assert lines == [
        "  3 image(s) without a labelled pixel in the source (first: b.jpg): their labels "
        "were left as they were; images new to the project were added to label; 3 of them "
        "have no label file, YOLO's way of saying an image shows no object (--background "
        "CLASS makes all their pixels that class)"
    ]
