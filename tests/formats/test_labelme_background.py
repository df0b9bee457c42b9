"""labelme imports give uncovered pixels to the project's background class, as labelme does.

labelme's own converters (labelme2voc) give every pixel no shape covers to
``_background_``; a labelme user expects the same from an import into a project that
has such a class. ``--background CLASS|none`` overrides it; the summary says which.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from fmthelpers import DATA, U, V, write_image

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.formats.labelme import UNCOVERED_KEY, project_background
from annotator.formats.masks import decode_mask_png
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.project import Project

EXAMPLE = DATA / "labelme_semantic"


def _voc_classes() -> list[str]:
    """labels.txt's classes (``__ignore__`` is void, not a class)."""
    lines = (EXAMPLE / "labels.txt").read_text().splitlines()
    return [n for n in lines if n.strip() and n != "__ignore__"]


def _example_without_labels_txt(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("2011_000003.json", "2011_000003.jpg"):
        shutil.copy(EXAMPLE / name, src / name)
    return src


def _doc(shapes, w=8, h=6, **extra):
    return {
        "version": "5.0.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": "x.png",
        "imageData": None,
        "imageHeight": h,
        "imageWidth": w,
        **extra,
    }


def _poly(label, pts):
    return {"label": label, "points": pts, "group_id": None, "shape_type": "polygon", "flags": {}}


def _source(tmp_path: Path, shapes, labels: str | None = None, **extra) -> Path:
    src = tmp_path / "src"
    write_image(src / "x.png", (6, 8))
    (src / "x.json").write_text(json.dumps(_doc(shapes, **extra)))
    if labels is not None:
        (src / "labels.txt").write_text(labels)
    return src


CELL = _poly("cell", [[0, 0], [3, 0], [3, 3]])


def test_project_background_prefers_labelmes_name_and_ignores_case():
    assert project_background(["Background", "cell"]) == "Background"
    assert project_background(["background", "_BACKGROUND_"]) == "_BACKGROUND_"
    assert project_background(["bg", "cell"]) is None


def test_example_without_labels_txt_matches_the_voc_masks_labelme_wrote(tmp_path):
    src = _example_without_labels_txt(tmp_path)
    ref = decode_mask_png(EXAMPLE / "2011_000003_voc.png")
    schema = LabelSchema.from_names(_voc_classes())
    with Project.create(tmp_path / "p", schema) as project:
        report = import_into_project(project, ImportRequest("labelme", src))
        assert report.classes_added == [] and report.imported == ["2011_000003.jpg"]
        assert "became class '_background_'" in report.background
        assert "the project's background class" in report.background
        export_project(project, ExportRequest("voc", tmp_path / "voc", split=(1, 0, 0)))
    ours = decode_mask_png(tmp_path / "voc/SegmentationClass/2011_000003.png")
    assert ours.shape == ref.shape
    assert np.mean(ours == ref) >= 0.999
    assert (ours == 0).mean() > 0.5  # the uncovered pixels are background, not ignore


def test_background_none_leaves_uncovered_pixels_unlabelled(tmp_path):
    src = _source(tmp_path, [CELL])
    with Project.create(tmp_path / "p", LabelSchema.from_names(["background", "cell"])) as p:
        report = import_into_project(p, ImportRequest("labelme", src, background="none"))
        assert "stay unlabelled (--background none" in report.background
        mask = p.load_mask(p.image("x.png"))
    assert mask[0, 0] == 1 and mask[5, 7] == U


def test_background_class_chosen_explicitly_wins_over_the_projects(tmp_path):
    src = _source(tmp_path, [_poly("nucleus", [[4, 2], [7, 2], [7, 5]])])
    schema = LabelSchema.from_names(["background", "cell", "nucleus"])
    with Project.create(tmp_path / "p", schema) as p:
        report = import_into_project(p, ImportRequest("labelme", src, background="cell"))
        assert "became class 'cell' (--background cell" in report.background
        mask = p.load_mask(p.image("x.png"))
    assert mask[3, 6] == 2 and mask[5, 0] == 1


def test_project_without_background_class_keeps_pixels_unlabelled_and_says_so(tmp_path):
    src = _source(tmp_path, [CELL])
    with Project.create(tmp_path / "p", LabelSchema.from_names(["cell", "nucleus"])) as p:
        report = import_into_project(p, ImportRequest("labelme", src))
        assert "stay unlabelled (the project has no class named" in report.background
        assert p.schema.names == ["cell", "nucleus"]
        assert p.load_mask(p.image("x.png"))[5, 7] == U


def test_labelmes_background_name_is_read_as_the_projects_background(tmp_path):
    shapes = [CELL, _poly("_background_", [[5, 0], [7, 0], [7, 2]])]
    src = _source(tmp_path, shapes, labels="__ignore__\n_background_\ncell\n")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["Background", "cell"])) as p:
        report = import_into_project(p, ImportRequest("labelme", src))
        assert report.classes_added == [] and report.unknown_labels == {}
        assert "became class 'Background'" in report.background
        mask = p.load_mask(p.image("x.png"))
    assert mask[0, 0] == 1 and mask[1, 6] == 0 and mask[5, 0] == 0


def test_a_project_with_both_background_names_keeps_them_apart(tmp_path):
    """With classes background and _background_ both, a labelme round trip turned every
    background pixel into _background_ (the names were read as one class)."""
    shapes = [CELL, _poly("background", [[5, 0], [7, 0], [7, 2]])]
    src = _source(tmp_path, shapes)
    names = ["background", "_background_", "cell"]
    with Project.create(tmp_path / "p", LabelSchema.from_names(names)) as p:
        report = import_into_project(p, ImportRequest("labelme", src))
        assert report.classes_added == []
        mask = p.load_mask(p.image("x.png"))
    assert mask[0, 0] == 2  # cell
    assert mask[1, 6] == 0  # the shape labelled background: class background
    assert mask[5, 0] == 1  # uncovered: labelme's _background_, the project's class of that name


def test_labels_txt_background_is_used_when_the_project_has_none(tmp_path):
    src = _source(tmp_path, [CELL], labels="__ignore__\n_background_\ncell\n")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["cell"])) as p:
        report = import_into_project(p, ImportRequest("labelme", src))
        assert report.classes_added == ["_background_"]
        assert "the source's labels.txt lists _background_" in report.background
        assert p.load_mask(p.image("x.png"))[5, 7] == p.schema.by_name("_background_").id


def test_files_annotator_wrote_keep_their_unlabelled_pixels_unless_told(tmp_path):
    src = _source(tmp_path, [CELL], **{UNCOVERED_KEY: "unlabelled"})
    schema = LabelSchema.from_names(["background", "cell"])
    with Project.create(tmp_path / "p", schema) as p:
        report = import_into_project(p, ImportRequest("labelme", src))
        assert report.background == (
            "pixels no shape covers stay unlabelled (the files were written by Annotator)"
        )
        assert p.load_mask(p.image("x.png"))[5, 7] == U
    with Project.create(tmp_path / "q", schema) as q:
        import_into_project(q, ImportRequest("labelme", src, background="background"))
        assert q.load_mask(q.image("x.png"))[5, 7] == 0


def test_export_then_import_keeps_unlabelled_and_void_pixels(tmp_path):
    schema = LabelSchema.from_names(["background", "cell"])
    write_image(tmp_path / "imgs/x.png", (6, 8))
    mask = np.full((6, 8), U, np.uint8)
    mask[0:3, 0:3], mask[4:, 5:] = 1, 0
    mask[5, 0] = V
    with Project.create(tmp_path / "p", schema) as p:
        p.add_images([tmp_path / "imgs"])
        p.save_mask(p.image("x.png").id, mask)
        export_project(
            p,
            ExportRequest(
                "labelme", tmp_path / "out", split=(1, 0, 0), include="all", keep_background=True
            ),
        )
    with Project.create(tmp_path / "q", schema) as q:
        import_into_project(q, ImportRequest("labelme", tmp_path / "out"))
        assert np.array_equal(q.load_mask(q.image("x.png")), mask)


def test_the_summary_names_the_class_our_files_record_for_uncovered_pixels(tmp_path):
    """A project whose class 0 is "bg": the export leaves it out and records it in each
    file; imported again, the pixels became "bg", as they should, but the summary said
    "_background_", a class the project does not have."""
    schema = LabelSchema.from_names(["bg", "fg"])
    write_image(tmp_path / "imgs/x.png", (6, 8))
    mask = np.zeros((6, 8), np.uint8)
    mask[:3] = 1
    with Project.create(tmp_path / "p", schema) as p:
        p.add_images([tmp_path / "imgs"])
        p.save_mask(p.image("x.png").id, mask)
        export_project(
            p, ExportRequest("labelme", tmp_path / "out", split=(1, 0, 0), include="all")
        )
    with Project.create(tmp_path / "q", schema) as q:
        report = import_into_project(q, ImportRequest("labelme", tmp_path / "out"))
        assert np.array_equal(q.load_mask(q.image("x.png")), mask)
        assert report.background == (
            "pixels no shape covers became class 'bg' (the class the files written by "
            "Annotator record for them)"
        )
        assert q.schema.names == ["bg", "fg"]


def test_the_exported_labels_txt_is_what_labelme2voc_requires(tmp_path):
    """labelme2voc asserts line 1 is __ignore__ and line 2 _background_, then looks up
    every shape's label in the file: our labels.txt listed the classes after __ignore__
    and stopped it. Importing the export back adds no _background_ class."""
    schema = LabelSchema.from_names(["background", "cell"])
    write_image(tmp_path / "imgs/x.png", (6, 8))
    mask = np.full((6, 8), U, np.uint8)
    mask[0:3, 0:3], mask[4:, 5:] = 1, 0
    with Project.create(tmp_path / "p", schema) as p:
        p.add_images([tmp_path / "imgs"])
        p.save_mask(p.image("x.png").id, mask)
        export_project(
            p,
            ExportRequest(
                "labelme", tmp_path / "out", split=(1, 0, 0), include="all", keep_background=True
            ),
        )
    lines = (tmp_path / "out/labels.txt").read_text().splitlines()
    assert lines[:2] == ["__ignore__", "_background_"]
    value = {name: i - 1 for i, name in enumerate(lines)}  # labelme2voc's class ids
    shapes = json.loads((tmp_path / "out/train/x.json").read_text())["shapes"]
    assert {s["label"] for s in shapes} == {"background", "cell"}
    assert all(s["label"] in value for s in shapes)
    with Project.create(tmp_path / "q", LabelSchema.from_names(["cell"])) as q:
        report = import_into_project(q, ImportRequest("labelme", tmp_path / "out"))
        assert q.schema.names == ["cell", "background"] and report.classes_added == ["background"]
        back = q.load_mask(q.image("x.png"))
        assert (back[0:3, 0:3] == 0).all() and (back[4:, 5:] == 1).all()
        assert (back[mask == U] == U).all()


def test_cli_import_summary_names_the_background_class(tmp_path, capsys):
    src = _source(tmp_path, [CELL])
    Project.create(tmp_path / "p", LabelSchema.from_names(["_background_", "cell"])).close()
    code = main(["import", str(tmp_path / "p"), str(src), "--format", "labelme"])
    out = capsys.readouterr().out
    assert code == 0
    assert "pixels no shape covers became class '_background_'" in out
    code = main(
        ["import", str(tmp_path / "p"), str(src), "--format", "labelme", "--background", "none"]
    )
    assert code == 0 and "stay unlabelled" in capsys.readouterr().out


def test_labelme2voc_and_labelme2coco_outputs_give_background_to_the_projects_background(
    tmp_path,
):
    """labelme's converters call the uncovered pixels _background_; a project whose
    class is "background" got a second class, _background_, from VOC and COCO imports
    (the labelme import already read it as "background")."""
    classes = ["background" if n == "_background_" else n for n in _voc_classes()]
    voc = tmp_path / "voc"
    (voc / "SegmentationClass").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    shutil.copy(EXAMPLE / "2011_000003_voc.png", voc / "SegmentationClass/2011_000003.png")
    shutil.copy(EXAMPLE / "2011_000003.jpg", voc / "JPEGImages/2011_000003.jpg")
    (voc / "class_names.txt").write_text("".join(n + "\n" for n in _voc_classes()))
    ref = decode_mask_png(EXAMPLE / "2011_000003_voc.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(classes)) as p:
        report = import_into_project(p, ImportRequest("voc", voc))
        assert report.classes_added == [] and p.schema.names == classes
        mask = p.load_mask(p.image("2011_000003.jpg"))
        assert (mask[ref == 0] == 0).all() and (mask == 0).mean() > 0.5
    coco = tmp_path / "coco"
    (coco / "JPEGImages").mkdir(parents=True)
    shutil.copy(EXAMPLE / "2011_000003.jpg", coco / "JPEGImages/2011_000003.jpg")
    doc = json.loads((DATA / "coco_instance/annotations.json").read_text())
    doc["images"] = [i for i in doc["images"] if i["file_name"].endswith("2011_000003.jpg")]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] == doc["images"][0]["id"]]
    (coco / "annotations.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "q", LabelSchema.from_names(classes)) as q:
        report = import_into_project(q, ImportRequest("coco", coco / "annotations.json"))
        assert report.classes_added == [] and q.schema.names == classes
        mask = q.load_mask(q.image("2011_000003.jpg"))
        assert (mask == 0).mean() > 0.5  # what no annotation covers is the background


def test_a_background_shape_covered_by_a_later_one_is_read(tmp_path):
    """_background_ named by a shape (no labels.txt), all of its pixels covered by a later
    shape: its unused name was removed from a declared list that never held it."""
    from annotator.formats.labelme import read_labelme

    src = tmp_path / "lm"
    write_image(src / "a.png", (20, 20))
    shapes = [
        {"label": "_background_", "points": [[2, 2], [8, 8]], "shape_type": "rectangle"},
        {"label": "cat", "points": [[0, 0], [19, 19]], "shape_type": "rectangle"},
    ]
    doc = {"shapes": shapes, "imagePath": "a.png", "imageHeight": 20, "imageWidth": 20}
    (src / "a.json").write_text(json.dumps(doc))
    result = read_labelme(src)
    assert result.errors == [] and result.items[0].names == ("cat",)
    assert (result.items[0].labels() == 0).all()


def test_a_labelme_file_saved_with_a_byte_order_mark_is_read(tmp_path, capsys):
    """Windows editors save UTF-8 with a BOM; it was refused as "not valid JSON"."""
    src = _source(tmp_path, [CELL])
    (src / "x.json").write_bytes(b"\xef\xbb\xbf" + (src / "x.json").read_bytes())
    root = str(tmp_path / "P")
    assert main(["new", root, "--classes", "_background_,cell"]) == 0
    assert main(["import", root, str(src), "--format", "labelme"]) == 0
    assert "imported 1 mask(s) from labelme" in capsys.readouterr().out


def test_the_guis_summary_says_where_uncovered_pixels_went_in_its_own_words(tmp_path):
    """Found by an audit: the GUI's import summary never showed the labelme line on the
    pixels no shape covers, which the CLI prints (with its --background)."""
    from annotator.gui.import_dialog import BACKGROUND_HOW, import_summary

    src = _source(tmp_path, [CELL])
    with Project.create(tmp_path / "p", LabelSchema.from_names(["background", "cell"])) as p:
        request = ImportRequest("labelme", src, background="cell", background_how=BACKGROUND_HOW)
        report = import_into_project(p, request)
    assert "(the import's Uncovered pixels: cell; change with the import's Uncovered" in (
        report.background
    )
    assert "--background" not in import_summary(report)
    assert "Pixels no shape covers became class 'cell'" in import_summary(report)
