"""Import rules, real labelme/COCO files, path safety and malformed files."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmthelpers import CLASSES, DATA, V, make_project, write_image
from PIL import Image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.formats.masks import decode_mask_png
from annotator.formats.paths import safe_join
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
    split_keys,
)
from annotator.storage.project import Project


def new_project(tmp_path: Path, classes=CLASSES, images: dict[str, tuple[int, int]] | None = None):
    project = Project.create(tmp_path / "project", LabelSchema.from_names(list(classes)))
    for i, (name, shape) in enumerate((images or {}).items()):
        write_image(tmp_path / "imgs" / name, shape, seed=i)
    if images:
        project.add_images([tmp_path / "imgs"])
    return project


# --- split -----------------------------------------------------------------------------


def test_split_is_reproducible_disjoint_and_complete():
    keys = [f"img{i}" for i in range(101)]
    a = split_keys(keys, (0.8, 0.1, 0.1), seed=5)
    b = split_keys(list(reversed(keys)), (0.8, 0.1, 0.1), seed=5)
    assert a == b
    flat = sum(a.values(), [])
    assert sorted(flat) == sorted(keys) and len(set(flat)) == len(flat)
    assert [len(a[s]) for s in ("train", "val", "test")] == [81, 10, 10]
    assert split_keys(keys, (0.8, 0.1, 0.1), seed=6) != a
    assert set(split_keys(keys, (1.0, 0.0, 0.0), seed=0)) == {"train"}


def test_split_sizes_are_the_shares_by_largest_remainder():
    """5 images at 0.8/0.1/0.1 were 4/0/1: a test image and no validation."""

    def sizes(n, fractions):
        got = split_keys([f"k{i}" for i in range(n)], fractions, seed=0)
        return [len(got.get(s, [])) for s in ("train", "val", "test")]

    assert sizes(5, (0.8, 0.1, 0.1)) == [4, 1, 0]
    assert sizes(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert sizes(7, (0.7, 0.2, 0.1)) == [5, 1, 1]
    assert sizes(3, (0.5, 0.5, 0.0)) == [2, 1, 0]
    assert sizes(1, (0.8, 0.1, 0.1)) == [1, 0, 0]
    assert sizes(5, (0.9, 0.1, 0.0)) == [4, 1, 0]  # a tie goes to the smaller share
    assert sizes(25, (0.9, 0.1, 0.0)) == [22, 3, 0]


# --- masks import ----------------------------------------------------------------------


def test_binary_0_255_mask_maps_255_to_class_1_in_a_two_class_project(tmp_path):
    with new_project(tmp_path, ("membrane", "cell"), {"a.png": (6, 5)}) as project:
        mask = np.zeros((6, 5), np.uint8)
        mask[2:4, 1:3] = 255
        (tmp_path / "m").mkdir()
        cv2.imwrite(str(tmp_path / "m/a.png"), mask)
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m"))
        assert report.imported == ["a.png"] and report.matched == ["a.png"]
        rec = project.image("a.png")
        assert rec.status.value == "done"
        assert np.array_equal(project.load_mask(rec), (mask == 255).astype(np.uint8))


def test_masks_with_values_that_are_not_classes_are_skipped_with_the_reason(tmp_path):
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4), "b.png": (4, 4)}) as project:
        (tmp_path / "m").mkdir()
        cv2.imwrite(str(tmp_path / "m/a.png"), np.full((4, 4), 7, np.uint8))
        cv2.imwrite(str(tmp_path / "m/b.png"), np.full((4, 4), 2, np.uint8))
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m"))
        assert report.imported == ["b.png"]
        ((path, reason),) = report.skipped
        assert path.endswith("a.png") and "[7]" in reason
        assert project.load_mask(project.image("a.png")) is None


def test_a_mask_of_the_wrong_size_is_a_clear_error_and_writes_nothing(tmp_path):
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4)}) as project:
        (tmp_path / "m").mkdir()
        cv2.imwrite(str(tmp_path / "m/a.png"), np.zeros((5, 4), np.uint8))
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m"))
        assert report.imported == []
        assert "4x5" in report.skipped[0][1] and "4x4" in report.skipped[0][1]
        assert project.load_mask(project.image("a.png")) is None


# --- labelme ---------------------------------------------------------------------------


def test_labelme_example_imports_and_exports_the_voc_mask_labelme_wrote(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DATA / "labelme_semantic", src)
    ref = decode_mask_png(src / "2011_000003_voc.png")
    (src / "2011_000003_voc.png").unlink()
    with Project.create(tmp_path / "p", LabelSchema.from_names(["_background_"])) as project:
        report = import_into_project(project, ImportRequest("labelme", src))
        assert report.added == ["2011_000003.jpg"] and report.unknown_labels == {}
        # labels.txt order: __ignore__ is void, then _background_ = 0, aeroplane = 1 ...
        assert project.schema.names[:3] == ["_background_", "aeroplane", "bicycle"]
        assert project.schema.by_name("person").id == 15
        export_project(project, ExportRequest("voc", tmp_path / "voc", split=(1, 0, 0)))
    ours = decode_mask_png(tmp_path / "voc/SegmentationClass/2011_000003.png")
    assert ours.shape == ref.shape
    assert np.mean(ours == ref) >= 0.999
    assert (ours == 255).any()  # the __ignore__ polygon


def _labelme_doc(shapes, w=8, h=6, image_path="x.png", image_data=None):
    return {
        "version": "5.0.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": image_data,
        "imageHeight": h,
        "imageWidth": w,
    }


def _poly(label, pts):
    return {"label": label, "points": pts, "group_id": None, "shape_type": "polygon", "flags": {}}


def test_labelme_embedded_image_is_written_into_the_project_and_added(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 8), 90, np.uint8)).save(buf, format="PNG")
    doc = _labelme_doc(
        [_poly("cell", [[1, 1], [4, 1], [4, 3]])],
        image_path="gone/x.png",
        image_data=base64.b64encode(buf.getvalue()).decode(),
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src/x.json").write_text(json.dumps(doc))
    with new_project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        assert report.added == ["x.png"]
        rec = project.image("x.png")
        assert project.image_path(rec).parent == project.root / "images"
        mask = project.load_mask(rec)
        # uncovered pixels: the project's "background" class (labelme's convention)
        assert mask[1, 1] == 1 and mask[3, 4] == 1 and mask[5, 0] == 0


def test_labelme_unknown_labels_are_reported_and_strict_stops(tmp_path):
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "src/x.png", (6, 8))
    doc = _labelme_doc(
        [
            _poly("cell", [[0, 0], [3, 0], [3, 3]]),
            _poly("alien", [[5, 2], [7, 2], [7, 5]]),
            _poly("__ignore__", [[0, 5], [1, 5], [1, 5]]),
        ]
    )
    (tmp_path / "src/x.json").write_text(json.dumps(doc))
    (tmp_path / "src/labels.txt").write_text("__ignore__\nbackground\ncell\n")
    with new_project(tmp_path) as project:
        with pytest.raises(FormatError, match="alien"):
            import_into_project(project, ImportRequest("labelme", tmp_path / "src", strict=True))
        assert project.images() == []
        report = import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        assert report.unknown_labels == {"alien": 1}
        mask = project.load_mask(project.image("x.png"))
        assert mask[0, 0] == 1 and mask[5, 0] == V and mask[1, 7] == 0  # 0: background
        # the skipped shape's pixels are left unlabelled, not claimed as background
        assert mask[3, 6] == project.schema.unlabelled


def test_missing_classes_are_added_or_refused_in_strict_mode(tmp_path):
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "src/x.png", (6, 8))
    (tmp_path / "src/x.json").write_text(
        json.dumps(_labelme_doc([_poly("mitosis", [[0, 0], [3, 0], [3, 3]])]))
    )
    with new_project(tmp_path) as project:
        with pytest.raises(FormatError, match="mitosis.*without --strict"):
            import_into_project(project, ImportRequest("labelme", tmp_path / "src", strict=True))
        assert project.schema.names == list(CLASSES) and project.images() == []
        report = import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        assert report.classes_added == ["mitosis"]
        assert project.load_mask(project.image("x.png"))[0, 0] == 3


# --- COCO ------------------------------------------------------------------------------


def test_coco_instance_file_imports_matching_images_by_file_name(tmp_path):
    from pycocotools import mask as mask_utils

    data = json.loads((DATA / "coco_instance/annotations.json").read_text())
    with Project.create(tmp_path / "p", LabelSchema.from_names(["_background_"])) as project:
        project.add_images([DATA / "labelme_semantic/2011_000003.jpg"])
        report = import_into_project(
            project, ImportRequest("coco", DATA / "coco_instance/annotations.json")
        )
        assert report.matched == ["2011_000003.jpg"]
        assert len(report.skipped) == 2  # the other two images are not available
        assert all("no image" in r for _, r in report.skipped)
        mask = project.load_mask(project.image("2011_000003.jpg"))
        ids = {c["id"]: project.schema.by_name(c["name"]).id for c in data["categories"]}
    # the reference: image 0's annotations painted in file order, the rest background
    ref = np.full(mask.shape, ids[0], np.uint8)
    for ann in data["annotations"]:
        if ann["image_id"] == 0:
            rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], *mask.shape))
            ref[mask_utils.decode(rle).astype(bool)] = ids[ann["category_id"]]
    assert len(np.unique(ref)) == 3  # background, person, bottle
    assert np.array_equal(mask, ref)


def _coco(file_name="a.png", **ann):
    a = {
        "id": 1,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 0,
        "segmentation": [[0, 0, 3, 0, 3, 3]],
    }
    a.update(ann)
    return {
        "images": [{"id": 1, "file_name": file_name, "width": 4, "height": 4}],
        "annotations": [a],
        "categories": [{"id": 1, "name": "cell"}],
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps([1, 2]), "not a COCO file"),
        (json.dumps(_coco(category_id=9)), "category_id 9"),
        (json.dumps(_coco(image_id=7)), "image_id 7"),
        (json.dumps(_coco(segmentation=[[0, 0, 1]])), "at least 3 x,y pairs"),
        (json.dumps(_coco(segmentation={"size": [4, 4], "counts": [1, 2]})), "sum to 3"),
        (json.dumps(_coco(segmentation={"size": [9, 9], "counts": "abc"})), "not the image size"),
        (json.dumps(_coco(file_name="../../etc/passwd")), "outside"),
    ],
)
def test_malformed_or_unsafe_coco_file_is_refused_naming_file_and_problem(tmp_path, doc, message):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/bad.json").write_text(doc)
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4)}) as project:
        with pytest.raises(FormatError, match=message) as info:
            import_into_project(project, ImportRequest("coco", tmp_path / "src/bad.json"))
        assert "bad.json" in str(info.value)
        assert project.load_mask(project.image("a.png")) is None


@pytest.mark.parametrize("file_name", ["/x/secret.png", "C:\\x\\secret.png"])
def test_an_absolute_coco_file_name_is_never_followed(tmp_path, file_name):
    """Another machine's path is looked for by its file name alone, beside the JSON
    file and in the ``images/`` folders there and above: never where it points."""
    write_image(tmp_path / "secret.png", (4, 4))
    (tmp_path / "src").mkdir()
    (tmp_path / "src/x.json").write_text(json.dumps(_coco(file_name=file_name)))
    with new_project(tmp_path / "p", CLASSES, {"a.png": (4, 4)}) as project:
        report = import_into_project(project, ImportRequest("coco", tmp_path / "src"))
        assert not report.imported and not report.added
        assert [r.name for r in project.images()] == ["a.png"]
        assert "no image 'secret.png'" in report.skipped[0][1]


def test_a_box_without_a_mask_is_left_out_and_counted_not_the_whole_file(tmp_path):
    """CVAT and Label Studio write a rectangle as ``segmentation: []``: one refused every
    image of the file ("empty polygon list")."""
    doc = _coco()
    box = {**doc["annotations"][0], "id": 2, "segmentation": [], "bbox": [0, 0, 2, 2]}
    doc["annotations"].append(box)
    (tmp_path / "src").mkdir()
    (tmp_path / "src/boxes.json").write_text(json.dumps(doc))
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4)}) as project:
        report = import_into_project(project, ImportRequest("coco", tmp_path / "src/boxes.json"))
        assert report.boxes_only == 1 and report.imported == ["a.png"]
        mask = project.load_mask(project.image("a.png"))
        assert mask[0, 1] == project.schema.by_name("cell").id
    # With a background for uncovered pixels, a box's area is not background: unlabelled
    doc["annotations"][1]["bbox"] = [1, 2, 2, 2]
    (tmp_path / "src/boxes.json").write_text(json.dumps(doc))
    with new_project(tmp_path / "again", CLASSES, {"a.png": (4, 4)}) as project:
        request = ImportRequest("coco", tmp_path / "src/boxes.json", background="background")
        import_into_project(project, request)
        mask = project.load_mask(project.image("a.png"))
        assert (mask[2:4, 1:3] == project.schema.unlabelled).all()
        assert mask[3, 0] == project.schema.by_name("background").id


@pytest.mark.parametrize("box_first", [False, True])
def test_a_box_never_takes_back_pixels_annotated_as_background(tmp_path, box_first):
    """The box gave back "what the background fill gave": also pixels an annotation of
    the background category labelled, when that annotation came before the box."""
    doc = _coco(category_id=2, segmentation=[[0, 0, 4, 0, 4, 4, 0, 4]])  # all background
    doc["categories"].append({"id": 2, "name": "background"})
    box = {
        **doc["annotations"][0],
        "id": 2,
        "category_id": 1,
        "segmentation": [],
        "bbox": [1, 1, 2, 2],
    }
    doc["annotations"] = [box, doc["annotations"][0]] if box_first else [*doc["annotations"], box]
    (tmp_path / "src").mkdir()
    (tmp_path / "src/b.json").write_text(json.dumps(doc))
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4)}) as project:
        request = ImportRequest("coco", tmp_path / "src/b.json", background="background")
        import_into_project(project, request)
        mask = project.load_mask(project.image("a.png"))
        assert (mask == project.schema.by_name("background").id).all()


def test_a_bad_file_among_good_ones_is_skipped_whole_and_the_rest_imported(tmp_path):
    """A file whose own structure is wrong is skipped whole (a shape of it that cannot
    be drawn is left out alone: test_import_objects_left_out)."""
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "src/x.png", (6, 8))
    write_image(tmp_path / "src/y.png", (6, 8), seed=1)
    (tmp_path / "src/x.json").write_text(
        json.dumps(_labelme_doc([_poly("cell", [[0, 0], [3, 0], [3, 3]])]))
    )
    bad = _labelme_doc([_poly("cell", [[0, 0], [3, 0], [3, 3]])], w="a", image_path="y.png")
    (tmp_path / "src/y.json").write_text(json.dumps(bad))
    with new_project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        assert report.imported == ["x.png"]
        ((path, reason),) = report.skipped
        assert path.endswith("y.json") and "'imageWidth'" in reason and "'a'" in reason
        assert [r.name for r in project.images()] == ["x.png"]  # y.png was not added


def test_labelme_image_path_escaping_the_folder_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "secret.png", (6, 8))
    (tmp_path / "src/x.json").write_text(json.dumps(_labelme_doc([], image_path="../secret.png")))
    with new_project(tmp_path) as project:
        with pytest.raises(FormatError, match="outside"):
            import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        assert project.images() == []


def test_labelme_image_path_may_climb_out_of_its_folder_but_not_out_of_the_import(tmp_path):
    """labelme run with ``--output annotations/`` writes ``../images/x.png``: importing
    the folder above finds the image. Importing annotations/ alone refuses the file,
    unless it embeds the image, which is then used without following the name."""
    ds = tmp_path / "ds"
    (ds / "annotations").mkdir(parents=True)
    write_image(ds / "images/x.png", (6, 8))
    doc = _labelme_doc([_poly("cell", [[1, 1], [4, 1], [4, 3]])], image_path="../images/x.png")
    (ds / "annotations/x.json").write_text(json.dumps(doc))
    with new_project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("labelme", ds))
        assert report.imported == ["x.png"] and project.images()[0].name == "x.png"
    with new_project(tmp_path / "second") as project:
        with pytest.raises(FormatError, match="outside the imported folder.*holds both"):
            import_into_project(project, ImportRequest("labelme", ds / "annotations"))
        assert project.images() == []
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 8), 90, np.uint8)).save(buf, format="PNG")
    doc["imageData"] = base64.b64encode(buf.getvalue()).decode()
    (ds / "annotations/x.json").write_text(json.dumps(doc))
    with new_project(tmp_path / "third") as project:
        report = import_into_project(project, ImportRequest("labelme", ds / "annotations"))
        assert report.imported == ["x.png"]


# --- paths -----------------------------------------------------------------------------


def test_safe_join_refuses_dotdot_absolute_and_escaping_symlinks(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    assert safe_join(root, "sub/a.png") == root / "sub" / "a.png"
    for bad in ("../a.png", "sub/../../a.png", "/etc/passwd", "C:\\x.png", "\\\\server\\x", ""):
        with pytest.raises(FormatError):
            safe_join(root, bad)
    os.symlink(tmp_path, root / "link")
    with pytest.raises(FormatError, match="symbolic link"):
        safe_join(root, "link/x.png")
    os.symlink(root / "sub", root / "inside")
    assert safe_join(root, "inside/x.png") == root / "inside" / "x.png"


# --- export safety -----------------------------------------------------------------------


def test_export_refuses_a_non_empty_folder_and_leaves_nothing_on_failure(tmp_path, masks):
    with make_project(tmp_path, masks) as project:
        (tmp_path / "full").mkdir()
        (tmp_path / "full/keep.txt").write_text("x")
        with pytest.raises(FormatError, match="not an empty folder"):
            export_project(project, ExportRequest("voc", tmp_path / "full"))
        for rec in project.images():
            project.set_status(rec.id, ImageStatus.IN_PROGRESS)
        with pytest.raises(FormatError, match="nothing to export"):
            export_project(project, ExportRequest("voc", tmp_path / "none"))
        # a failing writer (an unknown image mode) leaves neither OUT nor a staging folder
        with pytest.raises(FormatError, match="image mode"):
            export_project(
                project,
                ExportRequest("voc", tmp_path / "bad", include="all", image_mode="teleport"),
            )
    assert not (tmp_path / "none").exists() and not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_include_all_exports_in_progress_images_and_done_only_the_done(tmp_path, masks):
    with make_project(tmp_path, masks) as project:
        project.set_status(project.image("noise").id, ImageStatus.IN_PROGRESS)
        done = export_project(project, ExportRequest("masks", tmp_path / "done", split=(1, 0, 0)))
        every = export_project(
            project, ExportRequest("masks", tmp_path / "all", split=(1, 0, 0), include="all")
        )
    assert done.counts == {"train": 3} and every.counts == {"train": 4}
    assert not (tmp_path / "done/train/masks/noise.png").exists()
    assert (tmp_path / "all/train/masks/noise.png").exists()


def test_a_coco_image_without_annotations_never_replaces_labels_with_nothing(tmp_path, capsys):
    from annotator.cli import main

    doc = _coco()
    doc["images"].append({"id": 2, "file_name": "b.png", "width": 4, "height": 4})
    doc["images"].append({"id": 3, "file_name": "c.png", "width": 4, "height": 4})
    (tmp_path / "src").mkdir()
    (tmp_path / "src/ann.json").write_text(json.dumps(doc))
    write_image(tmp_path / "src/c.png", (4, 4), seed=7)  # new to the project, unannotated
    with new_project(tmp_path, CLASSES, {"a.png": (4, 4), "b.png": (4, 4)}) as project:
        b = project.image("b.png")
        painted = project.new_mask(b)
        painted[1:3, 1:3] = 1
        project.save_mask(b.id, painted, source="user")
        report = import_into_project(project, ImportRequest("coco", tmp_path / "src/ann.json"))
        assert report.imported == ["a.png"] and report.matched == ["a.png"]
        assert report.unlabelled == ["b.png", "c.png"] and report.added == ["c.png"]
        b = project.image("b.png")  # the user's labels and status stay
        assert np.array_equal(project.load_mask(b), painted)
        assert b.label_source == "user" and b.status is ImageStatus.IN_PROGRESS
        c = project.image("c.png")  # added to label, not "done" with nothing
        assert c.status is ImageStatus.NEW and project.load_mask(c) is None
        root = project.root
    assert main(["import", str(root), str(tmp_path / "src/ann.json"), "--format", "coco"]) == 0
    out = capsys.readouterr().out
    assert "2 image(s) without a labelled pixel in the source (first: b.png)" in out


def test_labelme_mask_shape_sits_where_labelme_puts_it(tmp_path):
    """labelme places a ``mask`` shape at its first corner truncated to integers."""
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "src/x.png", (6, 8))
    buf = io.BytesIO()
    Image.fromarray(np.full((2, 3), 255, np.uint8)).save(buf, format="PNG")
    shape = {
        "label": "cell",
        "points": [[3.6, 2.6], [5.6, 3.6]],
        "shape_type": "mask",
        "mask": base64.b64encode(buf.getvalue()).decode(),
    }
    (tmp_path / "src/x.json").write_text(json.dumps(_labelme_doc([shape])))
    (tmp_path / "src/labels.txt").write_text("__ignore__\nbackground\ncell\n")
    with new_project(tmp_path) as project:
        import_into_project(project, ImportRequest("labelme", tmp_path / "src"))
        mask = project.load_mask(project.image("x.png"))
    want = np.zeros((6, 8), np.uint8)
    want[2:4, 3:6] = 1
    assert np.array_equal(mask, want)


def test_a_json_file_cut_short_is_said_without_a_doubled_word(tmp_path):
    """ "not valid JSON (Unterminated string starting at at line 1)"."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src/cut.json").write_text('{"images": [{"file_name": "a.pn')
    with (
        new_project(tmp_path, CLASSES, {"a.png": (4, 4)}) as project,
        pytest.raises(FormatError) as refused,
    ):
        import_into_project(project, ImportRequest("coco", tmp_path / "src/cut.json"))
    assert "(Unterminated string starting at line 1)" in str(refused.value)
