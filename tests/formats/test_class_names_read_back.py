"""A masks or VOC export's ``class_names.txt`` reads back as the classes it lists.

The import reads a class table by its content: lines ``1 cell``, ``2 nucleus`` are an id
list from 1 (0 then void), and a first line ``Label`` is a header. Exported as a plain
list, such names came back shifted by one class, silently.
"""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import make_project

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.colour_table import class_list_text, class_table_of, read_class_table
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.project import Project

#: Class names that a plain list would not give back as they are.
MISREAD = [
    ("1 cell", "2 nucleus", "3 membrane"),  # an id list from 1
    ("Label", "tumour", "stroma"),  # a header above two classes
    ("name", "cat", "dog"),
    ("0 background", "1 cell"),  # an id list from 0: the names lose their digits
    ("255 void", "cell"),  # the void line of an id list
]


def _maps(n: int) -> dict[str, np.ndarray]:
    a = np.zeros((12, 16), np.uint8)
    a[2:6, 3:9] = 1
    a[8:, :] = n - 1
    a[0, :] = 255  # unlabelled
    return {"a": a, "b": np.full((10, 10), n - 1, np.uint8)}


@pytest.mark.parametrize("fmt", ["masks", "voc"])
@pytest.mark.parametrize("names", MISREAD, ids=lambda n: n[0])
def test_an_export_imported_again_keeps_every_class(tmp_path, fmt, names):
    masks = _maps(len(names))
    with make_project(tmp_path, masks, classes=names) as project:
        export_project(project, ExportRequest(fmt, tmp_path / "out", split=(1.0, 0.0, 0.0)))
    schema = LabelSchema.from_names(list(names))
    with Project.create(tmp_path / "again", schema) as again:
        report = import_into_project(again, ImportRequest(fmt, tmp_path / "out"))
        assert report.classes_added == [] and report.skipped == []
        assert again.schema.names == list(names)
        for rec in again.images():
            want = masks[rec.stem].copy()
            if fmt == "voc":  # (VOC's one ignore value: unlabelled comes back void)
                want[want == 255] = 254
            np.testing.assert_array_equal(again.load_mask(rec), want)


@pytest.mark.parametrize(
    "names",
    [*MISREAD, ("background", "cell"), ("_background_", "#1", "a b"), ("1", "2", "3")],
)
def test_the_written_class_list_reads_back_exactly(tmp_path, names):
    text = class_list_text(names)
    path = tmp_path / "class_names.txt"
    path.write_text(text, encoding="utf-8")
    table = read_class_table(path)
    assert table.names == names and table.ids == tuple(range(len(names)))
    # plain, as labelme2voc writes it, wherever that reads back
    plain = "".join(n + "\n" for n in names)
    plain_ok = class_table_of(path, plain).names == names
    assert (text == plain) == plain_ok


def test_names_no_class_list_holds_are_written_plain_and_said(tmp_path):
    names = ("1 2 x", "3 y")  # an id list; with ids, CamVid's "r g b name" first
    with pytest.raises(FormatError, match="no class list reads back as these class names"):
        class_list_text(names)
    with make_project(tmp_path, _maps(2), classes=names) as project:
        report = export_project(
            project, ExportRequest("voc", tmp_path / "out", split=(1.0, 0.0, 0.0))
        )
    assert (tmp_path / "out" / "class_names.txt").read_text(encoding="utf-8") == "1 2 x\n3 y\n"
    assert any("rename those classes, or give it as the class list" in n for n in report.notes)


@pytest.mark.parametrize("names", MISREAD, ids=lambda n: n[0])
def test_a_masks_exports_class_list_makes_a_project_of_the_same_classes(tmp_path, names):
    """`new --classes-file OUT/class_names.txt` of a masks export: the plain list read
    "Label" as a header, "1 cell" as ids from 1 (the import was right, by dataset.json)."""
    from annotator.cli import main

    with make_project(tmp_path, _maps(len(names)), classes=names) as project:
        export_project(project, ExportRequest("masks", tmp_path / "out", split=(1.0, 0.0, 0.0)))
    table = tmp_path / "out" / "class_names.txt"
    assert main(["new", str(tmp_path / "N"), "--classes-file", str(table)]) == 0
    with Project.open(tmp_path / "N") as made:
        assert made.schema.names == list(names)
