"""Which project image an import's labels land on, and what a source cannot slip past
the checks: same names for other pictures, stems that share a prefix, glob characters,
short RLE strings, labelme's reserved names."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmthelpers import CLASSES, U, make_project, write_image

from annotator.core.errors import FormatError, SchemaError
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.formats.coco import compressed_counts
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
    same_picture,
)
from annotator.storage.project import Project


def _labels(project: Project) -> dict[str, np.ndarray]:
    return {rec.name: project.load_mask(rec) for rec in project.images()}


def _coco_doc(images: list[tuple[str, int]], w: int = 12, h: int = 10) -> dict:
    """One image per ``(file_name, category)``, its left half painted with the category."""
    return {
        "images": [
            {"id": i + 1, "file_name": name, "width": w, "height": h}
            for i, (name, _) in enumerate(images)
        ],
        "categories": [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": cat,
                "segmentation": [[0, 0, w // 2, 0, w // 2, h, 0, h]],
            }
            for i, (_, cat) in enumerate(images)
        ],
    }


def test_two_pictures_with_one_file_name_become_two_images_each_with_its_labels(tmp_path):
    src = tmp_path / "src"
    write_image(src / "scene1/0001.png", (10, 12), seed=1)
    write_image(src / "scene2/0001.png", (10, 12), seed=2)
    doc = _coco_doc([("scene1/0001.png", 1), ("scene2/0001.png", 2)])
    (src / "ann.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("coco", src / "ann.json"))
        assert report.skipped == [] and len(report.added) == 2 and report.matched == []
        assert report.namesakes == [("0001~2.png", "0001.png")]
        by_path = {Path(r.path).parent.name: project.load_mask(r) for r in project.images()}
    assert np.unique(by_path["scene1"][:, :6]).tolist() == [1]
    assert np.unique(by_path["scene2"][:, :6]).tolist() == [2]


def test_a_namesake_with_another_picture_is_not_overwritten(tmp_path):
    """An export renames ``a b.png`` to ``a_b.png``; importing it back must not land on
    the project's own, different ``a_b.png``: the picture decides, not the name."""
    write_image(tmp_path / "imgs/a b.png", (10, 10), seed=1)
    write_image(tmp_path / "imgs/a_b.png", (10, 10), seed=2)
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "imgs"])
        ours = {r.name: r for r in project.images()}
        project.save_mask(ours["a b.png"].id, np.zeros((10, 10), np.uint8), status=ImageStatus.DONE)
        project.save_mask(ours["a_b.png"].id, np.ones((10, 10), np.uint8))
        for fmt in ("coco", "masks", "labelme"):
            out = tmp_path / f"out-{fmt}"
            export_project(project, ExportRequest(fmt, out, split=(1, 0, 0), keep_background=True))
            report = import_into_project(project, ImportRequest(fmt, out))
            assert report.matched == ["a b.png"] and report.added == [], fmt
            labels = _labels(project)
            assert np.all(labels["a b.png"] == 0) and np.all(labels["a_b.png"] == 1), fmt
            assert project.image("a_b.png").status != ImageStatus.DONE


def test_a_re_encoded_copy_of_a_project_image_still_matches_it_by_name(tmp_path):
    """Another tool saved the picture again (through JPEG): not the project's file byte
    for byte, but the same picture, so the labels belong to the project's image."""
    noise = np.random.default_rng(3).integers(0, 255, (32, 32, 3), np.uint8)
    picture = cv2.GaussianBlur(noise, (7, 7), 0)
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs/x.png"), picture)
    ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    again = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert ok and not np.array_equal(again, picture)
    (tmp_path / "src").mkdir()
    cv2.imwrite(str(tmp_path / "src/x.png"), again)
    assert same_picture(picture, again)
    assert not same_picture(picture, 255 - picture)
    assert not same_picture(picture, picture[:, :-1])
    doc = _coco_doc([("x.png", 1)], w=32, h=32)
    (tmp_path / "src/ann.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "imgs"])
        report = import_into_project(project, ImportRequest("coco", tmp_path / "src/ann.json"))
        assert report.matched == ["x.png"] and report.added == []
        assert len(project.images()) == 1


@pytest.mark.parametrize("fmt", ["masks", "voc", "yolo"])
def test_labels_find_the_image_of_their_exact_stem(tmp_path, fmt):
    """``x``'s labels belong to ``x.png``, never to ``x.a.png`` (which sorts first)."""
    masks = {"x": np.zeros((8, 8), np.uint8), "x.a": np.full((8, 8), 2, np.uint8)}
    masks["x"][:, 4:] = 1
    with make_project(tmp_path / "orig", masks) as project:
        export_project(
            project, ExportRequest(fmt, tmp_path / "out", split=(1, 0, 0), keep_background=True)
        )
    with Project.create(tmp_path / "fresh", LabelSchema.from_names(list(CLASSES))) as fresh:
        report = import_into_project(fresh, ImportRequest(fmt, tmp_path / "out"))
        assert report.skipped == [] and len(report.added) == 2
        got = {Path(r.name).stem: fresh.load_mask(r) for r in fresh.images()}
    assert set(got) == set(masks)
    for stem, mask in masks.items():
        assert np.array_equal(got[stem], mask), stem


def test_brackets_in_a_stem_are_plain_characters(tmp_path):
    """``scan[1]`` is a name: as a pattern it would match ``scan1.png``."""
    src = tmp_path / "src"
    write_image(src / "images/scan[1].png", (6, 6), seed=1)
    write_image(src / "images/scan1.png", (6, 6), seed=2)
    (src / "masks").mkdir()
    cv2.imwrite(str(src / "masks/scan[1].png"), np.ones((6, 6), np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("masks", src / "masks"))
        assert report.skipped == [] and report.added == ["scan[1].png"]
        assert [r.name for r in project.images()] == ["scan[1].png"]


def test_two_images_with_one_stem_beside_a_mask_are_refused_naming_both(tmp_path):
    (tmp_path / "src/masks").mkdir(parents=True)
    write_image(tmp_path / "src/images/x.png", (6, 6), seed=1)
    write_image(tmp_path / "src/images/x.jpg", (6, 6), seed=2)
    cv2.imwrite(str(tmp_path / "src/masks/x.png"), np.ones((6, 6), np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        # (skipped saying so: no project image of its name decides either)
        report = import_into_project(project, ImportRequest("masks", tmp_path / "src/masks"))
        ((_, why),) = report.skipped
        assert "x.jpg, x.png" in why and "stem 'x'" in why
        assert project.images() == []


def test_a_mask_named_after_the_whole_image_name_picks_one_of_two_with_a_stem(tmp_path):
    """With x.png and x.jpg in the project a mask x.png could reach neither, and one
    named x.jpg.png was said to have no image x.jpg."""
    write_image(tmp_path / "imgs/x.png", (6, 6), seed=1)
    write_image(tmp_path / "imgs/x.jpg", (6, 6), seed=2)
    (tmp_path / "m1").mkdir()
    cv2.imwrite(str(tmp_path / "m1/x.png"), np.ones((6, 6), np.uint8))
    (tmp_path / "m2").mkdir()
    cv2.imwrite(str(tmp_path / "m2/x.jpg.png"), np.full((6, 6), 2, np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "imgs"])
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m1"))
        assert report.imported == []
        assert "matches several project images" in report.skipped[0][1]
        assert "name the mask after the whole image name (x.jpg.png)" in report.skipped[0][1]
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m2"))
        assert report.imported == ["x.jpg"] and report.added == []
        assert (project.load_mask(project.image("x.jpg")) == 2).all()
        assert project.load_mask(project.image("x.png")) is None


def test_two_sources_for_one_image_import_the_first_and_skip_the_second(tmp_path):
    src = tmp_path / "src"
    write_image(src / "a.png", (10, 12), seed=1)
    (src / "ann.json").write_text(json.dumps(_coco_doc([("a.png", 1), ("./a.png", 2)])))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("coco", src / "ann.json"))
        assert report.imported == ["a.png"] and len(report.added) == 1
        assert len(report.skipped) == 1 and "already got its labels" in report.skipped[0][1]
        assert "same picture" not in report.skipped[0][1]  # (matched by name: not compared)
        assert np.unique(project.load_mask(project.images()[0])[:, :6]).tolist() == [1]


def test_the_entry_skipped_as_the_same_picture_as_another_is_named(tmp_path):
    """Two COCO entries of one picture under two names: the line named the JSON file
    and the first picture, never the entry skipped."""
    import shutil

    src = tmp_path / "src"
    write_image(src / "one.png", (10, 12), seed=1)
    shutil.copy(src / "one.png", src / "two.png")
    (src / "ann.json").write_text(json.dumps(_coco_doc([("one.png", 1), ("two.png", 2)])))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("coco", src / "ann.json"))
        assert report.imported == ["one.png"]
        assert len(report.skipped) == 1
        assert report.skipped[0][1].endswith(
            "'two.png', the same picture as image 'one.png', already got its labels "
            f"from {src / 'ann.json'} in this import; these were not imported"
        )


def test_an_import_whose_images_cannot_be_read_adds_no_class(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/b.png").write_bytes(b"\x89PNG not really")
    doc = _coco_doc([("b.png", 1)])
    doc["categories"] = [{"id": 1, "name": "tumour"}]
    (tmp_path / "src/ann.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["x"])) as project:
        report = import_into_project(project, ImportRequest("coco", tmp_path / "src/ann.json"))
        assert report.imported == [] and len(report.skipped) == 1
        assert project.schema.names == ["x"] and project.images() == []


def test_compressed_rle_runs_are_read_and_a_short_string_is_refused(tmp_path):
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        text = mask_utils.encode(np.asfortranarray(m))["counts"].decode()
        runs, value, n = [], 0, 0  # column-major runs, starting with zeros
        for v in m.flatten(order="F").tolist():
            if v != value:
                runs.append(n)
                value, n = v, 0
            n += 1
        runs.append(n)
        assert compressed_counts(text, "x") == runs
    for bad, message in (
        ("", "sum to 0"),
        ("05", "sum to 5"),
        ("0d", "ends inside"),
        ("é", "character"),
    ):
        seg = {"size": [4, 4], "counts": bad}
        doc = _coco_doc([("a.png", 1)], w=4, h=4)
        doc["annotations"][0]["segmentation"] = seg
        (tmp_path / "ann.json").write_text(json.dumps(doc))
        write_image(tmp_path / "a.png", (4, 4))
        project = Project.create(tmp_path / f"p{len(bad)}{bad}", LabelSchema.from_names(["c"]))
        with project, pytest.raises(FormatError, match=message):
            import_into_project(project, ImportRequest("coco", tmp_path / "ann.json"))


def test_coco_background_none_and_annotators_own_export_keep_uncovered_pixels_unlabelled(tmp_path):
    mask = np.full((12, 12), U, np.uint8)
    mask[2:6, 2:6], mask[6:10, 6:10] = 0, 1
    classes = ("_background_", "cell")
    with make_project(tmp_path / "orig", {"img": mask}, classes) as project:
        export_project(
            project, ExportRequest("coco", tmp_path / "out", split=(1, 0, 0), keep_background=True)
        )
    ours = tmp_path / "out/train.json"
    doc = json.loads(ours.read_text())
    doc["info"]["description"] = "another tool"
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs/ann.json").write_text(json.dumps(doc))
    (tmp_path / "theirs/img.png").write_bytes((tmp_path / "out/images/img.png").read_bytes())
    cases = [(ours, None, True), (tmp_path / "theirs/ann.json", None, False)]
    cases.append((tmp_path / "theirs/ann.json", "none", True))
    for k, (src, background, kept) in enumerate(cases):
        with Project.create(tmp_path / f"p{k}", LabelSchema.from_names(list(classes))) as p:
            report = import_into_project(p, ImportRequest("coco", src, background=background))
            got = p.load_mask(p.images()[0])
        want = mask if kept else np.where(mask == U, 0, mask)
        assert np.array_equal(got, want), (src, background)
        # filled without being asked: the summary says so (it said nothing)
        filled = [n for n in report.notes if n.startswith("pixels no annotation covers")]
        assert len(filled) == (0 if kept else 1) and all("'_background_'" in n for n in filled)


def test_labelmes_void_name_cannot_name_a_class():
    with pytest.raises(SchemaError, match="__ignore__"):
        LabelSchema.from_names(["__IGNORE__", "cell"])
    with pytest.raises(SchemaError, match="__ignore__"):
        LabelSchema.from_names(["cell"]).with_class("__ignore__")


def test_a_masks_import_of_one_split_reads_the_exports_class_list(tmp_path):
    mask = np.zeros((6, 6), np.uint8)
    mask[:, 3:] = 1
    with make_project(tmp_path / "orig", {"m": mask}, ("cat", "dog")) as project:
        export_project(project, ExportRequest("masks", tmp_path / "out", split=(1, 0, 0)))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["dog", "cat"])) as fresh:
        import_into_project(fresh, ImportRequest("masks", tmp_path / "out/train/masks"))
        got = fresh.load_mask(fresh.images()[0])
    assert np.all(got[:, :3] == 1) and np.all(got[:, 3:] == 0)  # cat is 1, dog is 0 here


def test_tiff_masks_import_beside_png_ones_in_any_integer_type(tmp_path):
    import tifffile

    src = tmp_path / "src"
    want = {}
    for k, (name, dtype) in enumerate(
        [("a.png", np.uint8), ("b.tif", np.uint16), ("c.tiff", np.int32)]
    ):
        write_image(src / "images" / (Path(name).stem + ".png"), (6, 8), seed=k)
        mask = np.zeros((6, 8), dtype)
        mask[:, k + 1 :] = k % 3
        (src / "masks").mkdir(exist_ok=True)
        if name.endswith(".png"):
            cv2.imwrite(str(src / "masks" / name), mask)
        else:
            tifffile.imwrite(src / "masks" / name, mask)
        want[Path(name).stem] = mask.astype(np.uint8)
    colours = np.zeros((6, 8, 3), np.uint8)
    colours[..., 0] = 7  # channels that differ: colours (grey ones are class ids, as in a PNG)
    tifffile.imwrite(src / "masks/rgb.tif", colours)
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("masks", src / "masks"))
        assert sorted(report.added) == ["a.png", "b.png", "c.png"]
        assert len(report.skipped) == 1 and "colour-coded" in report.skipped[0][1]
        for rec in project.images():
            assert np.array_equal(project.load_mask(rec), want[rec.stem])


def test_class_names_have_a_length_limit():
    LabelSchema.from_names(["x" * 200])
    with pytest.raises(SchemaError, match="at most 200"):
        LabelSchema.from_names(["x" * 201])


def test_same_picture_ignores_the_levels_each_file_uses():
    rng = np.random.default_rng(5)
    a = cv2.GaussianBlur(rng.integers(0, 4096, (32, 32)).astype(np.uint16), (5, 5), 0)
    b = cv2.GaussianBlur(rng.integers(0, 4096, (32, 32)).astype(np.uint16), (5, 5), 0)
    assert not same_picture(a, b)  # two 12-bit pictures
    assert same_picture(a, a + 10)  # the same one, 10 levels brighter
    assert same_picture(np.full((4, 4), 7, np.uint8), np.full((4, 4), 7, np.uint8))
    assert not same_picture(np.full((4, 4), 7, np.uint8), a[:4, :4])
    assert same_picture((a // 16).astype(np.uint8), (a * 16).astype(np.uint16) // 256 * 256)


def test_the_projects_own_folder_is_not_a_source(tmp_path):
    with make_project(tmp_path, {"m": np.zeros((6, 6), np.uint8)}) as project:
        with pytest.raises(FormatError, match="the project's own folder"):
            import_into_project(project, ImportRequest("masks", project.root / "masks"))
        # a dataset the user keeps inside the project folder is a source like any other
        data = project.root / "datasets" / "more"
        data.mkdir(parents=True)
        cv2.imwrite(str(data / "m.png"), np.ones((6, 6), np.uint8))
        report = import_into_project(project, ImportRequest("masks", data))
        assert report.imported == ["m.png"]


def test_a_mask_named_with_an_ending_finds_its_image(tmp_path):
    """x_mask.png found no image x in the project ("no image 'x_mask'")."""
    write_image(tmp_path / "imgs/cell_7.png", (6, 6), seed=1)
    write_image(tmp_path / "imgs/other.png", (6, 6), seed=2)
    (tmp_path / "m").mkdir()
    cv2.imwrite(str(tmp_path / "m/cell_7_mask.png"), np.ones((6, 6), np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "imgs"])
        report = import_into_project(project, ImportRequest("masks", tmp_path / "m"))
        assert report.imported == ["cell_7.png"] and report.added == []
        assert (project.load_mask(project.image("cell_7.png")) == 1).all()


def test_pair_bases():
    from annotator.core.naming import pair_base, pair_masks

    assert pair_base("cell_7_mask") == pair_base("Cell_7") == "cell_7"
    assert pair_base("0001TP_006690_L") == "0001tp_006690"
    assert pair_base("a_gtFine_labelIds") == pair_base("a_leftImg8bit") == "a"
    assert pair_base("_mask") == "_mask"  # an ending alone is a name
    # exact stems first; an ending only where it decides one picture and one mask
    assert pair_masks({"a": 1, "b": 2}, {"a": "A", "b_mask": "B"}) == {"a": "A", "b": "B"}
    assert pair_masks({"x": 1, "x_img": 2}, {"x_mask": "M"}) == {"x": "M"}  # whole stem first
    assert pair_masks({"t0_img": 1}, {"t0_img_mask": "M"}) == {"t0_img": "M"}
    assert pair_masks({"a_img": 1, "a_image": 2}, {"a_mask": "M"}) == {}  # two of base a


def test_another_projects_folder_is_not_a_source(tmp_path):
    """Its label maps are named by image id (masks/1.png): imported by name they landed
    on the images that happened to be called 1.png, 2.png... (an audit's find)."""
    masks = {str(i): np.full((6, 6), i % 2, np.uint8) for i in range(4)}
    with make_project(tmp_path / "a", masks) as project:
        root = project.root
    with make_project(tmp_path / "b", masks) as project:
        for src in (root, root / "masks", root / "accepted"):
            (src).mkdir(exist_ok=True)
            with pytest.raises(FormatError, match="another Annotator project"):
                import_into_project(project, ImportRequest("masks", src))
        assert {r.name: int(project.load_mask(r)[0, 0]) for r in project.images()} == {
            f"{i}.png": i % 2 for i in range(4)
        }


def _two_files_of_one_name(tmp_path: Path, project: Project) -> dict[str, str]:
    """``dd/s1/0001.png`` and ``dd/s2/0001.png`` added as two files (not a folder): the
    project names them ``0001.png`` and ``0001~2.png``. Returns folder -> image name."""
    files = [
        write_image(tmp_path / f"dd/{s}/0001.png", (10, 12), seed=i)
        for i, s in enumerate(("s1", "s2"))
    ]
    project.add_images(files)
    return {Path(r.path).parent.name: r.name for r in project.images()}


def test_labels_without_their_picture_do_not_land_on_a_namesake_of_another_file(tmp_path):
    """``s2/0001.png`` (no picture beside it) went onto s1's ``0001.png``, though the
    project's ``0001~2.png`` is a file called 0001.png too: both are meant, so refused."""
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        names = _two_files_of_one_name(tmp_path, project)
        assert sorted(names.values()) == ["0001.png", "0001~2.png"]
        doc = _coco_doc([("s2/0001.png", 1)])
        (tmp_path / "ann.json").write_text(json.dumps(doc))
        report = import_into_project(project, ImportRequest("coco", tmp_path / "ann.json"))
        assert report.imported == [] and "matches several project images" in report.skipped[0][1]
        (tmp_path / "mk/s2").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "mk/s2/0001.png"), np.ones((10, 12), np.uint8))
        report = import_into_project(project, ImportRequest("masks", tmp_path / "mk/s2"))
        assert report.imported == [] and "matches several project images" in report.skipped[0][1]
        assert all(r.labelled_pixels == 0 for r in project.images())


def test_the_layout_says_which_of_two_files_of_one_name_a_mask_belongs_to(tmp_path):
    """dd/s2/masks/0001.png mirrors dd/s2/0001.png: the one added as 0001~2.png."""
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        names = _two_files_of_one_name(tmp_path, project)
        for i, s in enumerate(("s1", "s2")):
            (tmp_path / f"dd/{s}/masks").mkdir(parents=True)
            cv2.imwrite(str(tmp_path / f"dd/{s}/masks/0001.png"), np.full((10, 12), i, np.uint8))
        report = import_into_project(project, ImportRequest("masks", tmp_path / "dd"))
        assert report.skipped == [] and sorted(report.imported) == ["0001.png", "0001~2.png"]
        got = {r.name: int(project.load_mask(r)[0, 0]) for r in project.images()}
        assert got == {names["s1"]: 0, names["s2"]: 1}


def test_a_blank_mask_of_a_blank_picture_says_why_it_was_not_imported(tmp_path):
    """The two files are the same bytes: the image was taken for the mask added as an
    image, and the import said there was no image of that name."""
    blank = np.zeros((6, 6), np.uint8)
    for folder in ("imgs", "m", "d/masks", "d/images"):
        (tmp_path / folder).mkdir(parents=True)
    for path in ("imgs/blank.png", "m/blank.png", "d/masks/blank.png", "d/images/blank.png"):
        cv2.imwrite(str(tmp_path / path), blank)
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "imgs"])
        with pytest.raises(FormatError, match="put the pictures in an images/ folder beside"):
            import_into_project(project, ImportRequest("masks", tmp_path / "m"))
        # with its picture beside it, the picture decides
        report = import_into_project(project, ImportRequest("masks", tmp_path / "d"))
        assert report.imported == ["blank.png"] and report.skipped == []


def test_labels_an_import_replaces_are_kept_and_can_be_brought_back(tmp_path):
    """An old export imported over corrected labels replaced them without a copy and
    without a word (an audit's find): labels are work, kept as class changes keep them."""
    first = np.zeros((6, 6), np.uint8)
    with make_project(tmp_path, {"a": first, "b": first}) as project:
        export_project(project, ExportRequest("masks", tmp_path / "old", split=(1, 0, 0)))
        fixed = first.copy()
        fixed[:3] = 1  # corrected after the export
        a, b = (project.image(f"{n}.png") for n in "ab")
        project.save_mask(a.id, fixed, status=ImageStatus.DONE)
        report = import_into_project(project, ImportRequest("masks", tmp_path / "old"))
        assert sorted(report.imported) == ["a.png", "b.png"] and report.replaced == ["a.png"]
        assert report.kept and any("1 image(s) had other labels" in n for n in report.notes)
        assert np.array_equal(project.load_mask(a), first)
        back = import_into_project(project, ImportRequest("masks", Path(report.kept)))
        assert back.imported == ["a.png"] and back.skipped == []
        assert np.array_equal(project.load_mask(a), fixed)
        assert np.array_equal(project.load_mask(b), first)
        # nothing replaced, nothing kept
        again = import_into_project(project, ImportRequest("masks", Path(report.kept)))
        assert again.replaced == [] and again.kept == ""


def test_the_folder_of_the_pictures_chosen_as_masks_is_said_to_be_so(tmp_path):
    """Every "mask" was a project picture: the summary spoke of class tables and masks
    added as images; one line says the folder holds the pictures, and nothing changes."""
    with (
        make_project(tmp_path, {"a": np.zeros((6, 6), np.uint8)}) as project,
        pytest.raises(FormatError, match="its files are the project's own pictures"),
    ):
        import_into_project(project, ImportRequest("masks", tmp_path / "src"))


def test_a_dataset_root_of_labels_beside_images_imports_its_labels(tmp_path):
    """ISBI's layout (images/0.png, labels/0.png): the root was refused with "no PNG or
    TIFF masks found", though its labels/ folder imports; the root reads that folder."""
    root = tmp_path / "isbi"
    for i in range(2):
        write_image(root / f"images/{i}.png", (6, 6), seed=i)
        (root / "labels").mkdir(exist_ok=True)
        cv2.imwrite(str(root / f"labels/{i}.png"), np.full((6, 6), i, np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([root / "images"])
        report = import_into_project(project, ImportRequest("masks", root))
        assert sorted(report.imported) == ["0.png", "1.png"] and report.skipped == []
        assert {r.name: int(project.load_mask(r)[0, 0]) for r in project.images()} == {
            "0.png": 0,
            "1.png": 1,
        }


def test_a_class_the_source_names_that_no_project_can_have_is_said_as_the_sources(tmp_path):
    """'type it without that' named no file nor said the name was the source's."""
    src = tmp_path / "src"
    write_image(src / "images" / "a.png", (6, 8), seed=1)
    (src / "masks").mkdir()
    cv2.imwrite(str(src / "masks" / "a.png"), np.ones((6, 8), np.uint8))
    (src / "labels.txt").write_text("bg\ncell\u200b\n", encoding="utf-8")
    said = "the source's class 'cell.u200b' cannot be added"
    with (
        Project.create(tmp_path / "p", LabelSchema.from_names(["bg"])) as project,
        pytest.raises(FormatError, match=said),
    ):
        import_into_project(project, ImportRequest("masks", src))


def test_two_masks_named_after_one_image_say_so_not_the_same_picture(tmp_path):
    """Matched by name, the second mask was said to be 'the same picture', which nothing
    had compared, naming its stem ('a') as a picture."""
    src = tmp_path / "src"
    write_image(src / "images" / "a.png", (6, 8), seed=1)
    (src / "masks").mkdir()
    for name in ("a.png", "a.tif"):
        cv2.imwrite(str(src / "masks" / name), np.ones((6, 8), np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest("masks", src))
        (skipped,) = report.skipped
        assert ": image 'a.png' already got its labels from " in skipped[1], skipped
        assert "same picture" not in skipped[1]
