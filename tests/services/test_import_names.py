"""Which project image imported labels land on when names alone cannot say: a project file
that is gone, names an export or a prediction folder made (``a~2``, shortened), a name
that means two images (``z.png.png``, ``X.png``/``x.png``, ``scene1``/``scene2``), long
names, and a picture that replaced an added one."""

from __future__ import annotations

import base64
import errno
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.exchange import (
    EXPORT_STEM_BYTES,
    ExportRequest,
    ImportRequest,
    _unique_stems,
    export_project,
    import_into_project,
)
from annotator.services.proposals import _out_file_names
from annotator.storage.atomic import atomic_write_bytes
from annotator.storage.project import Project

H, W = 10, 12


def _picture(path: Path, seed: int) -> Path:
    """A smooth random picture (it survives a JPEG re-encode as the same picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).integers(0, 255, (H, W), np.uint8)
    ext = path.suffix.lower()
    ok, data = cv2.imencode(ext if ext != ".tif" else ".tiff", cv2.GaussianBlur(noise, (3, 3), 0))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _mask(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W), value, np.uint8))
    return path


def _project(root: Path, files: list[str]) -> Project:
    for i, name in enumerate(files):
        _picture(root / "src" / name, seed=i)
    project = Project.create(root / "p", LabelSchema.from_names(["bg", "a", "b"]))
    project.add_images([root / "src"])
    return project


def _labels(project: Project) -> dict[str, int | None]:
    """Each image's one label value (None: no label map)."""
    out: dict[str, int | None] = {}
    for rec in project.images():
        mask = project.load_mask(rec)
        out[rec.name] = None if mask is None else int(np.unique(mask)[0])
    return out


def _masks_import(project: Project, src: Path):
    return import_into_project(project, ImportRequest("masks", src))


# --- 1. a project image whose file is gone ---------------------------------------------


def test_a_missing_project_file_does_not_take_another_pictures_labels(tmp_path):
    """Its file cannot be read, so only the SHA-1 recorded when it was added can say a
    carried picture is the same: another picture of its name is a new image."""
    with _project(tmp_path, ["0001.png"]) as project:
        rec = project.image("0001.png")
        project.save_mask(rec.id, np.zeros((H, W), np.uint8), status=ImageStatus.DONE)
        _picture(tmp_path / "other/images/0001.png", seed=7)  # another picture, same name
        _mask(tmp_path / "other/masks/0001.png", 1)
        (tmp_path / "same/images").mkdir(parents=True)
        shutil.copy(tmp_path / "src/0001.png", tmp_path / "same/images/0001.png")
        _mask(tmp_path / "same/masks/0001.png", 2)
        shutil.move(tmp_path / "src", tmp_path / "unmounted")
        report = _masks_import(project, tmp_path / "other")
        assert report.matched == [] and report.added == ["0001~2.png"]
        assert report.namesakes == [("0001~2.png", "0001.png")]
        assert _labels(project) == {"0001.png": 0, "0001~2.png": 1}
        # the picture it was added with still matches it, by content
        report = _masks_import(project, tmp_path / "same")
        assert report.matched == ["0001.png"] and report.added == []
        assert _labels(project)["0001.png"] == 2


# --- 2. names made unique: a~2 ---------------------------------------------------------


def _rec(i: int, name: str) -> ImageRecord:
    return ImageRecord(
        i, name, name, f"{i:040d}", W, H, 1, 8, ImageStatus.DONE, "", 0, None, "", ""
    )


def test_a_made_up_name_is_never_another_images_real_stem():
    recs = [_rec(1, "a.png"), _rec(2, "a.tif"), _rec(3, "a~2.png"), _rec(4, "A.bmp")]
    assert _unique_stems(recs) == {1: "a", 2: "a~3", 3: "a~2", 4: "A~4"}
    # the project's other images count too (an export of the done ones only)
    assert _unique_stems(recs[:2], recs) == {1: "a", 2: "a~3"}
    assert _out_file_names(recs) == {1: "a.png", 2: "a~3.png", 3: "a~2.png", 4: "A~4.png"}


def test_masks_of_a_made_up_name_never_land_on_the_image_of_that_name(tmp_path):
    """Project a.png, a.tif, a~2.png: a masks folder without pictures cannot say which
    ``a`` a mask ``a~2.png`` of an older export was made for; it is refused, not put on
    the project's a~2.png. The pictures beside the masks decide."""
    with _project(tmp_path, ["a.png", "a.tif", "a~2.png"]) as project:
        ids = {r.name: r.id for r in project.images()}
        for name, value in (("a.png", 0), ("a.tif", 1), ("a~2.png", 2)):
            project.save_mask(ids[name], np.full((H, W), value, np.uint8), status=ImageStatus.DONE)
        out = tmp_path / "out"
        export_project(project, ExportRequest("masks", out, split=(1, 0, 0)))
        masks = sorted(p.name for p in (out / "train/masks").iterdir())
        assert masks == ["a.png", "a~2.png", "a~3.png"]  # a.tif's is not a~2.png
        written = {n: int(cv2.imread(str(out / "train/masks" / n), 0)[0, 0]) for n in masks}
        assert written == {"a.png": 0, "a~3.png": 1, "a~2.png": 2}
    # a colleague's project of the same pictures
    shutil.rmtree(tmp_path / "p")
    with _project(tmp_path, ["a.png", "a.tif", "a~2.png"]) as fresh:
        old = tmp_path / "old"  # as the old export named them: a.tif's was a~2.png
        _mask(old / "a.png", 0), _mask(old / "a~2.png", 1), _mask(old / "a~2~2.png", 2)
        report = _masks_import(fresh, old)
        assert report.imported == [] and _labels(fresh) == dict.fromkeys(ids)
        reasons = dict(report.skipped)
        assert (
            "may be the name an export gave one of the images of stem 'a'"
            in reasons[str(old / "a~2.png")]
        )
        # with the pictures beside them each finds its own image
        report = _masks_import(fresh, out)
        assert sorted(report.matched) == ["a.png", "a.tif", "a~2.png"] and report.added == []
        assert _labels(fresh) == {"a.png": 0, "a.tif": 1, "a~2.png": 2}


# --- 3. a name that means two images: z.png.png ----------------------------------------


def test_a_mask_name_that_means_two_images_is_refused_with_advice_that_works(tmp_path):
    """z.png.png is z.png.png's mask (an export: stem + .png) or z.png's (its whole
    name); without the picture it is refused, and each name the reason offers works."""
    with _project(tmp_path, ["z.png", "z.png.png"]) as project:
        _mask(tmp_path / "m/z.png.png", 1)
        report = _masks_import(project, tmp_path / "m")
        assert report.imported == [] and _labels(project) == {"z.png": None, "z.png.png": None}
        reason = report.skipped[0][1]
        assert "z.png, z.png.png" in reason
        assert "name the mask z.png for z.png, or z.png.png.png for z.png.png" in reason
        _mask(tmp_path / "m2/z.png.png.png", 1)
        _mask(tmp_path / "m2/z.png", 2)
        report = _masks_import(project, tmp_path / "m2")
        assert report.skipped == [] and _labels(project) == {"z.png": 2, "z.png.png": 1}
        # an export's masks with their pictures: each to its own
        out = tmp_path / "out"
        export_project(project, ExportRequest("masks", out, split=(1, 0, 0)))
        for rec in project.images():
            project.save_mask(rec.id, np.zeros((H, W), np.uint8))
        report = _masks_import(project, out)
        assert report.skipped == [] and _labels(project) == {"z.png": 2, "z.png.png": 1}


# --- 4. a carried picture whose name two project images have ---------------------------


def test_a_picture_named_like_two_images_is_compared_with_both(tmp_path):
    with _project(tmp_path, ["scene1/0001.png", "scene2/0001.png"]) as project:
        src = tmp_path / "scene3"
        _picture(src / "images/0001.png", seed=9)  # neither of them: a new image
        _mask(src / "masks/0001.png", 1)
        report = _masks_import(project, src)
        assert report.skipped == [] and report.added == ["0001.png"]
        assert report.namesakes == [("0001.png", "scene1/0001.png")]
        # scene2's picture saved again through JPEG: scene2's labels
        again = cv2.imdecode(
            cv2.imencode(".jpg", cv2.imread(str(tmp_path / "src/scene2/0001.png")))[1], 1
        )
        src = tmp_path / "again"
        (src / "images").mkdir(parents=True)
        cv2.imwrite(str(src / "images/0001.png"), again)
        _mask(src / "masks/0001.png", 2)
        report = _masks_import(project, src)
        assert report.skipped == [] and report.matched == ["scene2/0001.png"]
        assert _labels(project) == {"scene1/0001.png": None, "scene2/0001.png": 2, "0001.png": 1}
        # without a picture: refused, and no impossible name (with a folder) is advised
        _mask(tmp_path / "bare/0001.png", 1)
        reason = _masks_import(project, tmp_path / "bare").skipped[0][1]
        assert "scene1/0001.png" in reason and "/0001.png.png" not in reason
        assert "put the masks in a masks/ folder and their pictures in images/" in reason


# --- 5. names in other letters: X.png, x.png -------------------------------------------


def test_a_name_spelled_exactly_like_one_image_is_that_images(tmp_path):
    with _project(tmp_path, ["X.png", "x.png"]) as project:
        _mask(tmp_path / "m1/x.png", 1)
        _mask(tmp_path / "m1/X.png", 2)
        report = _masks_import(project, tmp_path / "m1")
        assert report.skipped == [] and _labels(project) == {"X.png": 2, "x.png": 1}
        _mask(tmp_path / "m2/x.png.png", 0)  # the whole-name form, as advised before
        report = _masks_import(project, tmp_path / "m2")
        assert report.imported == ["x.png"] and _labels(project)["x.png"] == 0


def test_a_mask_spelled_like_one_of_two_names_in_other_letters_is_that_images(tmp_path):
    """f.png beside f.PNG: the mask's whole name, spelled exactly, says which (both were
    refused: one stem for two images); in other letters still refused."""
    with _project(tmp_path, ["f.png", "f.PNG"]) as project:
        _mask(tmp_path / "m/f.png", 1)
        _mask(tmp_path / "m/f.PNG", 2)
        report = _masks_import(project, tmp_path / "m")
        assert report.skipped == [] and _labels(project) == {"f.png": 1, "f.PNG": 2}
        _mask(tmp_path / "m2/F.png", 0)
        report = _masks_import(project, tmp_path / "m2")
        assert report.imported == [] and "f.PNG, f.png" in report.skipped[0][1]


def test_a_mask_spelled_like_an_image_is_its_not_the_one_an_export_renames_so(tmp_path):
    """a_b.png beside a b.png (which an export renamed a_b.png): a mask a_b.png is
    a_b.png's, as an image of that very name; an export now writes a b.png's as a_b~2."""
    with _project(tmp_path, ["a b.png", "a_b.png"]) as project:
        _mask(tmp_path / "m/a_b.png", 2)
        report = _masks_import(project, tmp_path / "m")
        assert report.skipped == [] and _labels(project) == {"a b.png": None, "a_b.png": 2}
        ids = {r.name: r.id for r in project.images()}
        project.save_mask(ids["a b.png"], np.full((H, W), 1, np.uint8), status=ImageStatus.DONE)
        project.set_status(ids["a_b.png"], ImageStatus.IN_PROGRESS)
        # the done ones only (a b.png), or both: never a_b.png for a b.png
        for include, expected in (
            ("done", {"a_b~2.png": 1}),
            ("all", {"a_b~2.png": 1, "a_b.png": 2}),
        ):
            out = tmp_path / f"out-{include}"
            export_project(project, ExportRequest("masks", out, split=(1, 0, 0), include=include))
            masks = (out / "train/masks").iterdir()
            assert {p.name: int(cv2.imread(str(p), 0)[0, 0]) for p in masks} == expected


def test_a_name_in_other_letters_than_two_images_gets_advice_that_works(tmp_path):
    with _project(tmp_path, ["X.jpg", "X.png"]) as project:
        _mask(tmp_path / "m/x.png", 1)
        reason = _masks_import(project, tmp_path / "m").skipped[0][1]
        assert "name the mask after the whole image name (X.jpg.png)" in reason
        _mask(tmp_path / "m2/X.jpg.png", 1)
        report = _masks_import(project, tmp_path / "m2")
        assert report.imported == ["X.jpg"] and report.skipped == []


# --- 6. long names -----------------------------------------------------------------------


def test_an_atomic_write_to_a_long_name_works(tmp_path):
    target = tmp_path / ("L" * 250)
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_exports_of_long_names_fit_every_writers_suffix(tmp_path):
    """Stems of 251 bytes (names of 255): labelme's .json, and a second one's ~2."""
    long, other = "L" * 251, "M" * 251 + ".png"
    with _project(tmp_path, [long + ".png", long + ".tif", other]) as project:
        for rec in project.images():
            project.save_mask(rec.id, np.ones((H, W), np.uint8), status=ImageStatus.DONE)
        stems = _unique_stems(project.images())
        assert len(set(stems.values())) == 3
        assert all(len(s.encode()) <= EXPORT_STEM_BYTES for s in stems.values())
        assert _unique_stems(project.images()) == stems  # stable
        for fmt in ("labelme", "masks", "voc", "coco", "yolo"):
            report = export_project(project, ExportRequest(fmt, tmp_path / fmt, split=(1, 0, 0)))
            assert sum(report.counts.values()) == 3, fmt
        for rec in project.images():
            project.save_mask(rec.id, np.zeros((H, W), np.uint8))
        # without their pictures: a shortened name finds its image; the two of one
        # stem cannot be told apart, as a.png and a.tif cannot
        masks = shutil.copytree(tmp_path / "masks/train/masks", tmp_path / "bare")
        report = _masks_import(project, masks)
        assert report.imported == [other] and len(report.skipped) == 2
        # with them, each its own
        report = _masks_import(project, tmp_path / "masks")
        assert report.skipped == [] and set(_labels(project).values()) == {1}
    names = _out_file_names([_rec(1, long + ".png"), _rec(2, long + ".tif")])
    assert len(set(names.values())) == 2 and all(len(n.encode()) <= 255 for n in names.values())


def _labelme(folder: Path, k: int, image_path: str) -> None:
    picture = _picture(folder.parent / f"pics/{k}.png", seed=k)
    doc = {
        "version": "5.0.1",
        "flags": {},
        "imagePath": image_path,
        "imageData": base64.b64encode(picture.read_bytes()).decode(),
        "imageHeight": H,
        "imageWidth": W,
        "shapes": [
            {"label": "a", "points": [[0, 0], [6, 0], [6, 6], [0, 6]], "shape_type": "polygon"}
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{k}.json").write_text(json.dumps(doc))


def test_an_embedded_picture_with_a_long_name_is_stored_and_the_import_goes_on(tmp_path):
    src = tmp_path / "src"
    for k, name in enumerate(["a_first.png", "L" * 246 + ".png", "L" * 246 + ".png", "z.png"]):
        _labelme(src, k, name)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "a"])) as project:
        report = import_into_project(project, ImportRequest("labelme", src))
        assert report.skipped == [] and len(report.imported) == 4
        assert all(len(p.name.encode()) <= 255 for p in (tmp_path / "p/images").iterdir())


def test_a_file_that_cannot_be_stored_is_skipped_and_the_rest_imported(tmp_path, monkeypatch):
    src = tmp_path / "src"
    for k, name in enumerate(["a.png", "b.png", "c.png"]):
        _labelme(src, k, name)
    real = Project.add_image_bytes

    def add(self, data, file_name, display_name=None, *, fail=errno.ENAMETOOLONG):
        if file_name.startswith("b"):
            raise OSError(fail, "File name too long", str(self.root / "images" / file_name))
        return real(self, data, file_name, display_name)

    monkeypatch.setattr(Project, "add_image_bytes", add)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "a"])) as project:
        report = import_into_project(project, ImportRequest("labelme", src))
        assert sorted(report.imported) == ["a.png", "c.png"]
        why = f"{tmp_path / 'p/images/b.png'}: File name too long"
        assert report.skipped == [(str(src / "1.json"), why)]
    # a full disk stops the import (one line from the CLI): every file would fail alike
    monkeypatch.setattr(Project, "add_image_bytes", lambda *a: add(*a, fail=errno.ENOSPC))
    with Project.create(tmp_path / "p2", LabelSchema.from_names(["bg", "a"])) as other:
        with pytest.raises(OSError) as caught:
            import_into_project(other, ImportRequest("labelme", src))
        assert caught.value.errno == errno.ENOSPC


def test_a_stored_picture_whose_name_with_its_number_is_too_long_gets_a_shorter_one(tmp_path):
    name = "L" * 251 + ".png"
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "a"])) as project:
        for seed in (1, 2):
            data = _picture(tmp_path / f"{seed}.png", seed).read_bytes()
            rec = project.add_image_bytes(data, name)
        assert len(project.images()) == 2 and rec.name != name
        assert all(len(p.name.encode()) <= 255 for p in (tmp_path / "p/images").iterdir())


def test_a_name_that_cannot_be_stored_is_said_in_one_line(tmp_path):
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "a"])) as project:
        (tmp_path / "p/images").write_text("a file where the folder should be")
        with pytest.raises(Exception) as caught:
            project.add_image_bytes(_picture(tmp_path / "x.png", 1).read_bytes(), "x.png")
        assert not isinstance(caught.value, OSError)
        assert "cannot store the image 'x.png'" in str(caught.value)


# --- 7. a picture that replaced one that was added -------------------------------------


def test_adding_a_file_that_replaced_an_added_picture_says_so(tmp_path):
    with _project(tmp_path, ["x.png", "y.png"]) as project:
        report = project.add_images([tmp_path / "src"])
        assert {why for _, why in report.skipped} == {"already in the project"}
        _picture(tmp_path / "src/x.png", seed=99)
        report = project.add_images([tmp_path / "src"])
        reasons = dict(report.skipped)
        assert reasons[str(tmp_path / "src/y.png")] == "already in the project"
        assert "replaced the picture added as 'x.png'" in reasons[str(tmp_path / "src/x.png")]
        assert len(project.images()) == 2


def test_a_name_that_means_two_images_skips_that_mask_only(tmp_path):
    """Said in one line; the other masks are imported."""
    with _project(tmp_path, ["a.png", "a.tif", "b.png"]) as project:
        _mask(tmp_path / "m/a.png", 1)
        _mask(tmp_path / "m/b.png", 2)
        report = _masks_import(project, tmp_path / "m")
        assert report.imported == ["b.png"] and len(report.skipped) == 1
        assert "\n" not in report.skipped[0][1]
