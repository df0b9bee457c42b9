"""What an import's summary says about classes: a ``dataset.json`` (nnU-Net's, the
Decathlon's) adds only the classes some mask holds (nnU-Net's ``background`` at 0 is
written even where no voxel is one); the project's classes the source's class table does
not name are said to have got no pixel; the images imported are said to be done; the
table note names the way the front end gives another table."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from annotator.cli import main
from annotator.core.status import ImageStatus
from annotator.formats.colour_table import table_note
from annotator.services.exchange import ImportRequest, import_headline, import_into_project
from annotator.storage.project import Project

GREY = np.random.default_rng(3).integers(0, 256, (20, 30), np.uint8)


def _project(tmp_path, name, classes, pictures=()):
    src = tmp_path / f"{name}_src"
    src.mkdir()
    for stem in pictures:
        cv2.imwrite(str(src / f"{stem}.png"), GREY)
    root = tmp_path / name
    assert main(["new", str(root), "--classes", classes]) == 0
    if pictures:
        assert main(["add", str(root), str(src)]) == 0
    return root


def _names(root):
    with Project.open(root) as project:
        return project.schema.names


def test_a_round_trip_through_our_nnunet_export_adds_no_background_class(tmp_path, capsys):
    """bg,a,b,c exported as nnU-Net ({"background": 0, "bg": 1, ...}, no voxel 0) and
    imported as masks into a fresh project: bg,a,b,c again, not "classes added:
    background" and five classes."""
    root = _project(tmp_path, "p", "bg,a,b,c", ["x", "y"])
    mask = np.random.default_rng(0).integers(0, 4, GREY.shape).astype(np.uint8)
    with Project.open(root) as project:
        for rec in project.images():
            project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    out = tmp_path / "Dataset501_Four"
    assert main(["export", str(root), str(out), "--format", "nnunet", "--split", "1,0,0"]) == 0
    assert json.loads((out / "dataset.json").read_text())["labels"]["background"] == 0
    fresh = _project(tmp_path, "q", "a")
    assert main(["add", str(fresh), str(out / "imagesTr")]) == 0
    capsys.readouterr()
    assert main(["import", str(fresh), "--format", "masks", str(out)]) == 0
    said = capsys.readouterr().out
    assert "background" not in said.split("classes added:")[1].splitlines()[0]
    assert _names(fresh) == ["a", "bg", "b", "c"]  # (a first: the project's own)
    with Project.open(fresh) as project:
        for rec in project.images():
            got = project.load_mask(rec)
            names = project.schema.names
            want = np.array([names.index(n) for n in ("bg", "a", "b", "c")], np.uint8)[mask]
            assert np.array_equal(got, want), rec.name


def test_a_dataset_json_class_some_mask_holds_is_added_in_its_order(tmp_path):
    """Decathlon labels {"0": "background", "1": "liver", "2": "cancer"}: a mask holding 0
    and 2 adds background, cancer (in the table's order); liver, held by none, is not."""
    ds = tmp_path / "Task03_Liver"
    (ds / "labelsTr").mkdir(parents=True)
    mask = np.zeros(GREY.shape, np.uint8)
    mask[5:, :] = 2
    cv2.imwrite(str(ds / "labelsTr" / "x.png"), mask)
    meta = {"name": "Liver", "modality": {"0": "CT"}, "labels": {"0": "background"}}
    meta["labels"] |= {"1": "liver", "2": "cancer"}
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _project(tmp_path, "p", "tumour", ["x"])
    with Project.open(root) as project:
        report = import_into_project(project, ImportRequest("masks", ds / "labelsTr"))
        assert report.classes_added == ["background", "cancer"]
        assert project.schema.names == ["tumour", "background", "cancer"]


def test_the_summary_names_the_project_classes_the_source_does_not(tmp_path, capsys):
    """liver,tumour importing a Decathlon set of background/liver/cancer: the summary
    says tumour got nothing, and names the source's classes; images are said done."""
    ds = tmp_path / "Task03_Liver"
    (ds / "labelsTr").mkdir(parents=True)
    mask = np.arange(GREY.size, dtype=np.uint8).reshape(GREY.shape) % 3
    cv2.imwrite(str(ds / "labelsTr" / "x.png"), mask)
    meta = {"name": "Liver", "labels": {"0": "background", "1": "liver", "2": "cancer"}}
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _project(tmp_path, "p", "liver,tumour", ["x"])
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    out = capsys.readouterr().out
    assert "1 image(s) marked done" in out.splitlines()[0]
    assert "classes added: background, cancer" in out
    line = next(x for x in out.splitlines() if "tumour" in x)
    assert "no pixel was imported as it" in line
    assert "(the source names background, liver, cancer)" in line
    assert out.count("marked done") == 1


def test_raw_ids_say_nothing_of_classes_the_source_does_not_name(tmp_path, capsys):
    ds = tmp_path / "raw" / "masks"
    ds.mkdir(parents=True)
    cv2.imwrite(str(ds / "x.png"), np.zeros(GREY.shape, np.uint8))
    root = _project(tmp_path, "p", "liver,tumour", ["x"])
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 0
    out = capsys.readouterr().out
    assert "no class list found" in out and "no pixel was imported" not in out


def test_labels_kept_with_their_status_are_not_said_done(tmp_path):
    """Labels the import replaced, imported back from the Kept Labels folder, get back
    their status (in progress): the summary does not call them done."""
    root = _project(tmp_path, "p", "a,b", ["x"])
    ds = tmp_path / "ds" / "masks"
    ds.mkdir(parents=True)
    cv2.imwrite(str(ds / "x.png"), np.ones(GREY.shape, np.uint8))
    with Project.open(root) as project:
        rec = project.images()[0]
        project.save_mask(rec.id, np.zeros(GREY.shape, np.uint8), status=ImageStatus.IN_PROGRESS)
        report = import_into_project(project, ImportRequest("masks", ds))
        assert report.replaced and not report.statuses
        assert import_headline(report).endswith("; 1 image(s) marked done")
        back = import_into_project(project, ImportRequest("masks", Path(report.kept)))
    assert back.imported and back.statuses == {"in_progress": 1}
    assert "marked done" not in import_headline(back)


def test_the_table_note_says_how_the_front_end_gives_another_table(tmp_path):
    """The GUI has a Class names field, no --labels option."""
    src = tmp_path / "ds" / "masks"
    src.mkdir(parents=True)
    table = tmp_path / "class_names.txt"
    table.write_text("a\nb\n")
    gui = "choose a Class names file"
    note = table_note(table, False, [src, src.parent, tmp_path], src, how=gui)
    assert f"(above {src}; choose a Class names file to use another)" in note
    assert "--labels" not in note
    assert "--labels FILE" in table_note(table, False, [src, tmp_path], src)
    none = table_note(None, False, [src], src, how=gui)
    assert "(choose a Class names file if they mean other classes)" in none


def test_a_gui_import_request_says_how_the_gui_gives_a_table(tmp_path, qapp):
    from annotator.gui.import_dialog import ImportDialog

    ds = tmp_path / "ds"
    (ds / "masks").mkdir(parents=True)
    cv2.imwrite(str(ds / "masks" / "x.png"), np.zeros(GREY.shape, np.uint8))
    root = _project(tmp_path, "p", "a,b", ["x"])
    dialog = ImportDialog(None, ["a", "b"])
    dialog.set_format("masks")
    dialog.src_edit.setText(str(ds / "masks"))
    with Project.open(root) as project:
        report = import_into_project(project, dialog.request())
    note = next(n for n in report.notes if n.startswith("no class list found"))
    assert "(choose a Class names file if they mean other classes)" in note
    assert "--labels" not in note
    assert "dataset.json" in dialog.labels_edit.placeholderText()


def _labelme_labels(tmp_path, root, labels, capsys) -> str:
    """Import into ``root`` a labelme file of one rectangle per label; what it printed."""
    src = tmp_path / "lm"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), GREY)
    shapes = [
        {"label": label, "points": [[4 * k, 0], [4 * k + 3, 9]], "shape_type": "rectangle"}
        for k, label in enumerate(labels)
    ]
    doc = {"shapes": shapes, "imagePath": "a.png", "imageHeight": 20, "imageWidth": 30}
    (src / "a.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["import", str(root), str(src), "--format", "labelme"]) == 0
    return capsys.readouterr().out


def test_labelme_labels_spelled_otherwise_read_as_one_class_are_said(tmp_path, capsys):
    """labelme labels `Cell`, `cell`, ` cell` are one class, as class names compare in
    any case: the summary says which spellings were read as which class (it said only
    `classes added: Cell`); an accent written decomposed looks the same and is not said."""
    root = _project(tmp_path, "P", "bg,caf\u00e9")
    out = _labelme_labels(tmp_path, root, ["Cell", "cell", " cell", "cafe\u0301"], capsys)
    assert "classes added: Cell\n" in out
    said = [line.strip() for line in out.splitlines() if "spelled otherwise" in line]
    assert said == [
        "read labels spelled otherwise as one class (class names compare in any case, "
        "without spaces around them): ' cell', 'cell' as 'Cell'"
    ]
    assert list(_names(root)) == ["bg", "caf\u00e9", "Cell"]


def test_labels_spelled_otherwise_are_said_as_the_projects_class(tmp_path, capsys):
    """The note named the first spelling the files held ('Cell'), not the project's class
    'cell' the pixels went to, and listed 'cell' itself as spelled otherwise."""
    root = _project(tmp_path, "P", "background,cell")
    out = _labelme_labels(tmp_path, root, ["Cell", "cell ", "CELL", "cell"], capsys)
    said = [line for line in out.splitlines() if "spelled otherwise" in line]
    assert len(said) == 1 and said[0].endswith(": 'CELL', 'Cell', 'cell ' as 'cell'")
    assert list(_names(root)) == ["background", "cell"]
