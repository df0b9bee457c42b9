"""What adding pictures prints besides its summary: nothing of Pillow's own, and no
stray path pieces."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from annotator.cli import main
from annotator.storage.images import image_size, read_image
from annotator.storage.project import AddReport

DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_photo_with_a_damaged_exif_block_is_read_without_pillows_warning(tmp_path, capfd):
    """Its EXIF block is cut short: Pillow printed its raw UserWarning (with its source
    line) on the terminal for every such photo; the picture itself is whole."""
    photo = tmp_path / "exif_truncated.jpg"
    shutil.copy(DATA / "exif_truncated.jpg", photo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = read_image(photo)
        size = image_size(photo)
    assert [str(w.message) for w in caught] == []
    assert pixels.shape[:2] == size == (64, 96) and pixels.mean() == 100  # (a grey photo)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "a"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # (printed as a user's terminal shows them)
        assert main(["add", str(proj), str(photo)]) == 0
    said = capfd.readouterr()
    assert "added 1 image(s)" in said.out
    assert "Warning" not in said.err and "EXIF" not in said.err


def test_the_first_stack_looking_like_labels_is_named_without_a_stray_slash():
    report = AddReport(labels_split=[("two.ome.tif", "few whole values")])
    said = report.labels_split_text("import FOLDER")
    assert "(first: two.ome.tif: few whole values)" in said
    report = AddReport(labels_split=[("/data/em/two.ome.tif", "few whole values")])
    assert "(first: em/two.ome.tif: few whole values)" in report.labels_split_text("x")
