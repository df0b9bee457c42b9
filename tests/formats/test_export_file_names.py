"""An export names an image's files after the image made safe for training tools
(``road scene 1.png`` -> ``road_scene_1.png``), and says so; imported back into the
project, each file still finds its image by its picture. (An audit: every format renamed
the files without a word, in the summary or the user guide.)"""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import make_project

from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)

NAMES = ("road scene 1", "a.b c", "straße é", "plain")
FORMATS = ("voc", "masks", "coco", "labelme", "yolo")


def _masks() -> dict[str, np.ndarray]:
    out = {}
    for i, name in enumerate(NAMES):
        mask = np.zeros((6, 8), np.uint8)
        mask[1:4, 2 + i : 5 + i] = 1 + i % 2
        out[name] = mask
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_says_which_names_it_changed_and_imports_back_by_picture(tmp_path, fmt):
    masks = _masks()
    with make_project(tmp_path, masks) as project:
        report = export_project(project, ExportRequest(format=fmt, out=tmp_path / "out"))
        assert sorted(report.renamed) == [
            ("a.b c.png", "a.b_c.png"),
            ("road scene 1.png", "road_scene_1.png"),
            ("straße é.png", "straße_é.png"),
        ]
        assert (
            "3 file name(s) changed to be safe for training tools, e.g. 'a.b c.png' -> 'a.b_c.png'"
        ) in report.notes
        names = {p.name for p in (tmp_path / "out").rglob("*")}
        assert "road_scene_1.png" in names or "road_scene_1.jpg" in names
        report = import_into_project(project, ImportRequest(format=fmt, src=tmp_path / "out"))
        assert sorted(report.matched) == sorted(f"{n}.png" for n in NAMES)
        assert not report.added and not report.skipped


def test_an_export_of_safe_names_says_nothing_of_them(tmp_path):
    with make_project(tmp_path, {"plain": np.zeros((4, 4), np.uint8)}) as project:
        report = export_project(project, ExportRequest(format="masks", out=tmp_path / "out"))
    assert report.renamed == () and not any("file name" in n for n in report.notes)


def test_an_accent_written_apart_from_its_letter_stays_a_letter():
    """macOS writes 'é' as 'e' and a combining accent: the accent became '_' ('cafe_'),
    where the user guide promises that letters stay."""
    import unicodedata

    from annotator.formats.paths import safe_stem

    assert safe_stem(unicodedata.normalize("NFD", "café au lait.png")) == "café_au_lait"


def test_a_decomposed_name_exports_without_a_twin_mark_and_its_masks_come_back(tmp_path):
    """After accents were kept, 'café.png' named on macOS exported as 'café~2.png' (its
    own stem counted as another's), whose mask then matched no image; and masks of an
    export made before, 'cafe_.png', matched no image any more."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "café")
    mask = np.zeros((6, 8), np.uint8)
    mask[:, 4:] = 1
    with make_project(tmp_path, {nfd: mask}) as project:
        export_project(project, ExportRequest(format="masks", out=tmp_path / "out"))
        written = sorted(p.name for p in (tmp_path / "out").rglob("*.png") if "masks" in p.parts)
        assert written == [unicodedata.normalize("NFC", "café.png")]
        (mask_file,) = [p for p in (tmp_path / "out").rglob("*.png") if "masks" in p.parts]
        for name in (mask_file.name, "cafe_.png"):  # (the second: an older export's)
            one = tmp_path / f"one-{len(name)}"
            one.mkdir()
            (one / name).write_bytes(mask_file.read_bytes())
            report = import_into_project(project, ImportRequest(format="masks", src=one))
            assert report.matched == [f"{nfd}.png"] and not report.skipped, name
