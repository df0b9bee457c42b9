"""labelme files as other machines and converters leave them: an absolute ``imagePath``
of another machine with the picture beside the JSON file, and ``imageHeight`` /
``imageWidth`` swapped for a picture with no EXIF orientation (labelme takes the
picture's size); the size hint blames an EXIF orientation only when there is one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from annotator.core.schema import LabelSchema
from annotator.formats.labelme import read_labelme
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

CAT = [[5, 5], [30, 8], [25, 30], [6, 25]]


def _labelme(
    json_file: Path,
    image_path: str,
    hw: tuple[int, int],
    points: list[list[float]] = CAT,
) -> None:
    doc = {
        "version": "5.4.1",
        "flags": {},
        "shapes": [{"label": "cat", "points": points, "group_id": None, "shape_type": "polygon"}],
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": hw[0],
        "imageWidth": hw[1],
    }
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(doc))


def _picture(path: Path, hw: tuple[int, int], orientation: int = 1) -> None:
    """A JPEG of ``hw`` pixels as stored, with an EXIF orientation unless 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (*hw, 3), np.uint8))
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    img.save(path, exif=exif)


def _drawn(hw: tuple[int, int], points: list[list[float]] = CAT) -> np.ndarray:
    """labelme's ``shape_to_mask`` of a polygon: class 1 there, background 0 elsewhere."""
    img = Image.new("L", (hw[1], hw[0]), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in points], outline=1, fill=1)
    return np.array(img, np.uint8)


def _import(tmp_path: Path, src: Path):  # type: ignore[no-untyped-def]
    project = Project.create(tmp_path / "P", LabelSchema.from_names(["background", "cat"]))
    with project:
        report = import_into_project(project, ImportRequest(format="labelme", src=src))
        masks = {r.name: project.load_mask(r) for r in project.images()}
    return report, masks


@pytest.mark.parametrize("image_path", ["C:\\Users\\me\\data\\pic0.jpg", "/home/me/data/pic0.jpg"])
def test_an_absolute_image_path_finds_the_picture_beside_the_file(tmp_path, image_path):
    """The import said "import the folder that holds both the JSON files and the
    images", the very folder imported."""
    src = tmp_path / "abs"
    _picture(src / "pic0.jpg", (48, 64))
    _labelme(src / "pic0.json", image_path, (48, 64))
    (item,) = read_labelme(src).items
    assert item.image_file == src / "pic0.jpg"
    report, masks = _import(tmp_path, src)
    assert report.added == ["pic0.jpg"] and report.skipped == []
    assert np.array_equal(masks["pic0.jpg"], _drawn((48, 64)))


def test_an_absolute_image_path_with_no_picture_beside_says_what_was_looked_for(tmp_path):
    src = tmp_path / "abs"
    _labelme(src / "pic0.json", "/home/me/data/pic0.jpg", (48, 64))
    ((_, message),) = read_labelme(src).errors
    assert "'/home/me/data/pic0.jpg' is an absolute path" in message
    assert "no picture 'pic0.jpg' lies beside it: put the picture beside the JSON file" in message


def test_swapped_image_height_and_width_take_the_pictures_own_size(tmp_path):
    """labelme logs "imageHeight does not match" and uses the picture's size; the
    import refused, blaming an EXIF orientation the picture does not have."""
    src = tmp_path / "sw"
    _picture(src / "pic0.jpg", (48, 64))
    _labelme(src / "pic0.json", "pic0.jpg", (64, 48))
    result = read_labelme(src)
    assert result.notes[-1] == (
        "drew the shapes of 1 file(s) on their picture's own size, not the imageWidth x "
        "imageHeight the file says, as labelme does (first: pic0.json says 48x64, its "
        "picture pic0.jpg is 64x48)"
    )
    report, masks = _import(tmp_path, src)
    assert report.skipped == [] and result.notes[-1] in report.notes
    assert np.array_equal(masks["pic0.jpg"], _drawn((48, 64)))


def test_a_square_picture_of_the_size_said_is_not_called_resized(tmp_path):
    """Its height and width "swapped" are its own: the import said it drew on the
    picture's own size, not the size the file says, "(pic0.json says 48x48, its picture
    pic0.jpg is 48x48)"."""
    src = tmp_path / "sq"
    _picture(src / "pic0.jpg", (48, 48))
    _labelme(src / "pic0.json", "pic0.jpg", (48, 48))
    result = read_labelme(src)
    assert not any("own size" in note for note in result.notes), result.notes
    report, masks = _import(tmp_path, src)
    assert report.skipped == [] and not any("own size" in note for note in report.notes)
    assert np.array_equal(masks["pic0.jpg"], _drawn((48, 48)))


def _refused(tmp_path: Path, picture: tuple[int, int], said: tuple[int, int], points) -> str:  # type: ignore[no-untyped-def]
    """Why the labelme file of size ``said`` on a picture of ``picture`` is skipped (it
    must be: nothing imported)."""
    src = tmp_path / "src"
    _picture(src / "pic0.jpg", picture)
    _labelme(src / "pic0.json", "pic0.jpg", said, points)
    report, masks = _import(tmp_path, src)
    ((_, message),) = report.skipped
    assert masks == {}
    return message


def test_swapped_sizes_whose_shapes_do_not_fit_are_refused_without_blaming_exif(tmp_path):
    message = _refused(tmp_path, (48, 64), (64, 48), [[5, 5], [40, 8], [25, 60]])
    assert "the mask is 48x64 but image" in message
    assert "(the sizes swapped, and the picture has no EXIF orientation that turns it" in message
    # a picture turned by its EXIF orientation (stored 64 wide, shown 48): that is said
    src = tmp_path / "src"
    _picture(src / "pic0.jpg", (48, 64), orientation=6)
    _labelme(src / "pic0.json", "pic0.jpg", (48, 64), [[5, 5], [40, 8], [25, 40]])
    report, _ = _import(tmp_path / "2", src)
    ((_, message),) = report.skipped
    assert "(the sizes swapped: the picture has an EXIF orientation, which the project" in message


def test_a_picture_scaled_since_is_refused_not_drawn_on_at_the_wrong_scale(tmp_path):
    """A file drawn on a picture of 64x96 whose picture is now 32x48 (scaled down) took
    the picture's size whenever the shapes fit in it: labels at twice the scale."""
    message = _refused(tmp_path, (32, 48), (64, 96), [[2, 2], [20, 3], [10, 20]])
    assert "the mask is 96x64 but image" in message


def test_labelme_6s_oriented_rectangle_is_filled_as_the_polygon_of_its_corners(tmp_path):
    """labelme 6's "Create Oriented Rectangle" tool: its 4 corners, which labelme's own
    shapes_to_label fills as a polygon (the object was left out, unsupported)."""
    src = tmp_path / "lm6"
    diamond = [[10, 30], [30, 10], [50, 30], [30, 46]]
    _picture(src / "a.jpg", (48, 64))
    _labelme(src / "a.json", "a.jpg", (48, 64), diamond)
    doc = json.loads((src / "a.json").read_text())
    doc["version"] = "6.3.1"
    doc["shapes"][0]["shape_type"] = "oriented_rectangle"
    (src / "a.json").write_text(json.dumps(doc))
    report, masks = _import(tmp_path, src)
    assert report.added == ["a.jpg"] and report.skipped == []
    assert np.array_equal(masks["a.jpg"], _drawn((48, 64), diamond))
