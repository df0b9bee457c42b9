"""Colour-coded masks and the class tables datasets ship (CVAT, CamVid, Roboflow, ADE20K)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fmthelpers import DATA, write_image
from PIL import Image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.base import UNLABELLED, VOID, ImportOptions, read_names_file
from annotator.formats.colour_table import read_class_table
from annotator.formats.masks import decode_mask_png, read_masks
from annotator.formats.voc import read_voc
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

CAMVID = {
    "Sky": (128, 128, 128),
    "Building": (128, 0, 0),
    "Road": (128, 64, 128),
    "Car": (64, 0, 128),
    "Void": (0, 0, 0),
}
LABELMAP = (
    "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:250,50,83::\nroad:128,64,128::\n"
)


def _ids() -> np.ndarray:
    """Class ids 0..3 of CAMVID (4 = Void) in bands, a car in the road."""
    ids = np.zeros((12, 16), np.uint8)
    ids[4:8] = 1
    ids[8:] = 2
    ids[9:11, 2:6] = 3
    ids[0, :3] = 4
    return ids


def _colour(ids: np.ndarray, table: dict[str, tuple[int, int, int]]) -> np.ndarray:
    lut = np.array(list(table.values()), np.uint8)
    return lut[ids]


def _names(item) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The item's labels as names ("VOID"/"UNLABELLED" for the reserved values)."""
    mask = item.labels()
    names = np.array(list(item.names) + ["VOID", "UNLABELLED"], object)
    return names[np.where(mask == VOID, len(item.names), np.where(mask == UNLABELLED, -1, mask))]


def _camvid(tmp_path: Path, table_file: str | None = "label_colors.txt") -> Path:
    """CamVid's layout: images/, labels/x_L.png (RGB), the colour list beside them."""
    root = tmp_path / "camvid"
    write_image(root / "images/x.png", (12, 16))
    (root / "labels").mkdir()
    Image.fromarray(_colour(_ids(), CAMVID)).save(root / "labels/x_L.png")
    if table_file == "label_colors.txt":
        text = "".join(f"{r} {g} {b}\t{n}\n" for n, (r, g, b) in CAMVID.items())
        (root / table_file).write_text(text)
    elif table_file == "class_dict.csv":
        text = "name,r,g,b\n" + "".join(f"{n},{r},{g},{b}\n" for n, (r, g, b) in CAMVID.items())
        (root / table_file).write_text(text)
    return root


def _want() -> np.ndarray:
    names = np.array(["Sky", "Building", "Road", "Car", "VOID"], object)
    return names[_ids()]


# --- class tables ---------------------------------------------------------------------


def test_tables_are_recognised_by_content_and_their_headers_are_no_classes(tmp_path):
    files = {
        "labelmap.txt": LABELMAP,
        "label_colors.txt": "64 128 64\tAnimal\n192 0 128 Archway\n",
        "class_dict.csv": "name,r,g,b\nAnimal,64,128,64\nArchway,192,0,128\n",
        "_classes.csv": "Pixel Value, Class\n0, background\n1, cell\n",
        "objectInfo150.csv": "Idx,Ratio,Train,Val,Name\n2,0.1,1,1,building;edifice\n1,0.2,1,1,wall\n",
    }
    want = {
        "labelmap.txt": (["background", "car", "road"], (0, 1, 2), (0, 0, 0)),
        "label_colors.txt": (["Animal", "Archway"], (0, 1), (64, 128, 64)),
        "class_dict.csv": (["Animal", "Archway"], (0, 1), (64, 128, 64)),
        "_classes.csv": (["background", "cell"], (0, 1), None),
        "objectInfo150.csv": (["wall", "building"], (1, 2), None),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        names, ids, first_colour = want[name]
        assert read_names_file(tmp_path / name) == names, name
        table = read_class_table(tmp_path / name)
        assert table.ids == ids, name
        assert (table.colours[0] if table.colours else None) == first_colour, name


def test_plain_name_lists_are_read_as_before(tmp_path):
    text = "__ignore__\n_background_\n#1\nsky, blue\n\n  car  \n"
    (tmp_path / "labels.txt").write_text(text)
    assert read_names_file(tmp_path / "labels.txt") == [
        "__ignore__",
        "_background_",
        "#1",
        "sky, blue",
        "car",
    ]


def test_a_table_line_of_another_form_is_refused_with_its_number(tmp_path):
    (tmp_path / "labelmap.txt").write_text(LABELMAP + "tree\n")
    with pytest.raises(FormatError, match="line 5 is not 'name:r,g,b:parts:actions'"):
        read_class_table(tmp_path / "labelmap.txt")


# --- colour-coded masks ---------------------------------------------------------------


@pytest.mark.parametrize("table_file", ["label_colors.txt", "class_dict.csv"])
def test_camvid_rgb_masks_are_read_by_the_colour_list_beside_them(tmp_path, table_file):
    root = _camvid(tmp_path, table_file)
    result = read_masks(root / "labels")
    assert result.errors == []
    (item,) = result.items
    assert item.names == ("Sky", "Building", "Road", "Car")  # Void is void, not a class
    assert (_names(item) == _want()).all()


def test_a_palette_png_of_the_colours_is_read_by_colour_not_by_index(tmp_path):
    """What an optimiser (oxipng) or a quantiser makes of an RGB mask: palette order is
    no class order."""
    root = _camvid(tmp_path)
    rgb = Image.open(root / "labels/x_L.png")
    rgb.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE).save(root / "labels/x_L.png")
    assert Image.open(root / "labels/x_L.png").mode == "P"
    (item,) = read_masks(root / "labels").items
    assert (_names(item) == _want()).all()


def test_a_palette_png_of_other_colours_without_a_table_is_refused(tmp_path):
    root = _camvid(tmp_path, None)
    rgb = Image.open(root / "labels/x_L.png")
    rgb.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE).save(root / "labels/x_L.png")
    result = read_masks(root / "labels")
    assert result.items == []
    (error,) = [e for _, e in result.errors]
    assert "not VOC's colour map" in error and "--labels FILE" in error
    assert "grey class-id PNG" in error and "\n" not in error


def test_an_rgb_mask_without_a_table_says_which_file_to_give(tmp_path):
    root = _camvid(tmp_path, None)
    (error,) = [e for _, e in read_masks(root / "labels").errors]
    assert "--labels FILE" in error and "labelmap.txt" in error and "label_colors.txt" in error


def test_a_colour_the_table_lacks_is_an_error_naming_it_and_its_pixels(tmp_path):
    root = _camvid(tmp_path)
    rgb = _colour(_ids(), CAMVID)
    rgb[0, 5:8] = (1, 2, 3)
    Image.fromarray(rgb).save(root / "labels/x_L.png")
    (error,) = [e for _, e in read_masks(root / "labels").errors]
    assert "colour (1,2,3) on 3 pixel(s) is not in label_colors.txt" in error


def test_a_colour_two_classes_share_is_refused_where_a_mask_uses_it(tmp_path):
    root = _camvid(tmp_path, None)
    (root / "class_dict.csv").write_text("name,r,g,b\nunlabeled,0,0,0\nego vehicle,0,0,0\n")
    rgb = np.zeros((12, 16, 3), np.uint8)
    Image.fromarray(rgb).save(root / "labels/x_L.png")
    (error,) = [e for _, e in read_masks(root / "labels").errors]
    assert "colour (0,0,0) on 192 pixel(s) is listed for several classes" in error


def test_rgba_masks_are_read_when_opaque_and_refused_when_see_through(tmp_path):
    root = _camvid(tmp_path)
    rgba = np.dstack([_colour(_ids(), CAMVID), np.full((12, 16), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "labels/x_L.png")
    (item,) = read_masks(root / "labels").items
    assert (_names(item) == _want()).all()
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, "RGBA").save(root / "labels/x_L.png")
    (error,) = [e for _, e in read_masks(root / "labels").errors]
    assert "1 pixel(s) of this RGBA mask are see-through" in error


def test_camvid_import_into_a_project_puts_each_colour_in_its_class(tmp_path):
    root = _camvid(tmp_path)
    schema = LabelSchema.from_names(["Sky", "Building", "Road", "Car"])
    with Project.create(tmp_path / "p", schema) as project:
        project.add_images([root / "images"])
        report = import_into_project(project, ImportRequest("masks", root / "labels"))
        assert report.skipped == [] and report.classes_added == []
        mask = project.load_mask(project.image("x.png"))
    want = _ids().astype(np.int64)
    want[want == 4] = project.schema.void
    assert np.array_equal(mask, want)


# --- VOC layouts ----------------------------------------------------------------------


def _voc(tmp_path: Path, mask: np.ndarray, table: str | None) -> Path:
    root = tmp_path / "voc"
    write_image(root / "JPEGImages/a.jpg", mask.shape[:2])
    (root / "SegmentationClass").mkdir()
    Image.fromarray(mask).save(root / "SegmentationClass/a.png")
    if table is not None:
        (root / "labelmap.txt").write_text(table)
    return root


def test_cvat_segmentation_masks_are_read_by_their_labelmap(tmp_path):
    ids = np.zeros((6, 8), np.uint8)
    ids[2:4] = 1
    ids[4:] = 2
    colours = np.array([(0, 0, 0), (250, 50, 83), (128, 64, 128)], np.uint8)
    root = _voc(tmp_path, colours[ids], LABELMAP)
    (item,) = read_voc(root).items
    assert item.names == ("background", "car", "road")
    assert np.array_equal(item.labels(), ids)  # black is the labelmap's background


def test_a_labelmap_given_for_class_id_masks_maps_its_names_in_order(tmp_path):
    """The audit's r4: the header line and the colours were classes, ids shifted."""
    ids = np.zeros((30, 40), np.uint8)
    ids[10:] = 1
    ids[20:] = 2
    root = _voc(tmp_path, ids, None)
    (tmp_path / "labelmap.txt").write_text(LABELMAP)
    result = read_voc(root, ImportOptions(labels_file=tmp_path / "labelmap.txt"))
    assert result.declared == ["background", "car", "road"]
    assert np.array_equal(result.items[0].labels(), ids)


def test_roboflow_classes_csv_beside_the_masks_gives_each_value_its_name(tmp_path):
    src = tmp_path / "train"
    write_image(src / "x.jpg", (4, 6))
    mask = np.array([[0, 1, 1, 0, 0, 1]] * 4, np.uint8)
    Image.fromarray(mask).save(src / "x_mask.png")
    (src / "_classes.csv").write_text("Pixel Value, Class\n0, background\n1, cell\n")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["cell", "background"])) as p:
        p.add_images([src / "x.jpg"])
        report = import_into_project(p, ImportRequest("masks", src))
        assert report.skipped == [] and report.classes_added == []
        got = p.load_mask(p.image("x.jpg"))
    assert np.array_equal(got, 1 - mask)  # by name: the project's cell is 0


def test_ade20k_object_info_ids_start_at_one_and_zero_is_void(tmp_path):
    src = tmp_path / "annotations"
    src.mkdir()
    mask = np.array([[0, 1, 2, 3]], np.uint8)
    Image.fromarray(mask).save(src / "ADE_train_00000001.png")
    info = tmp_path / "objectInfo150.csv"
    info.write_text(
        "Idx,Ratio,Train,Val,Name\n1,0.1,1,1,wall\n2,0.1,1,1,building;edifice\n3,0.1,1,1,sky\n"
    )
    (item,) = read_masks(src, ImportOptions(labels_file=info)).items
    assert item.names == ("wall", "building", "sky")
    assert item.labels().tolist() == [[VOID, 0, 1, 2]]


def test_voc_and_labelme2voc_palette_masks_still_read_as_ids(tmp_path):
    root = tmp_path / "voc"
    (root / "SegmentationClass").mkdir(parents=True)
    shutil.copy(DATA / "labelme_semantic/2011_000003_voc.png", root / "SegmentationClass")
    shutil.copy(DATA / "labelme_semantic/labels.txt", root / "labels.txt")  # found by itself
    (item,) = read_voc(root).items
    raw = decode_mask_png(root / "SegmentationClass/2011_000003_voc.png")
    assert item.names is not None and item.names[:2] == ("_background_", "aeroplane")
    assert np.array_equal(item.labels()[raw != 255], raw[raw != 255])
    assert (item.labels()[raw == 255] == VOID).all()


def test_a_classes_txt_beside_the_masks_gives_each_value_its_name(tmp_path):
    """CamVid's sample keeps its class list as classes.txt: it was not looked for, and a
    project listing the classes in another order got 68 % of its pixels relabelled."""
    src = tmp_path / "data"
    write_image(src / "images/x.png", (4, 6))
    (src / "masks").mkdir()
    mask = np.array([[0, 1, 2, 2, 1, 0]] * 4, np.uint8)
    Image.fromarray(mask).save(src / "masks/x.png")
    (src / "classes.txt").write_text("sky\nroad\ncar\n")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["car", "road", "sky"])) as p:
        p.add_images([src / "images"])
        report = import_into_project(p, ImportRequest("masks", src))
        assert report.skipped == [] and report.classes_added == []
        assert report.notes == [
            f"classes read from {src / 'classes.txt'}: the masks' values are mapped by name"
        ]
        got = p.load_mask(p.image("x.png"))
    assert np.array_equal(got, 2 - mask)


def test_the_summary_says_which_table_was_applied_or_that_none_was_found(tmp_path):
    """A table in the folder above the masks is used as documented; the summary names
    it, so one of another dataset shows. Without any, it says the values were ids."""
    src = tmp_path / "par"
    write_image(src / "img.png", (4, 6))
    (src / "run1").mkdir()
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(src / "run1/img.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["background", "cell"])) as p:
        p.add_images([src / "img.png"])
        report = import_into_project(p, ImportRequest("masks", src / "run1"))
        assert len(report.notes) == 1 and report.notes[0].startswith("no class list found")
        assert "taken as the project's class ids" in report.notes[0]
        (src / "labels.txt").write_text("cell\nbackground\n")
        report = import_into_project(p, ImportRequest("masks", src / "run1"))
        assert report.notes[0] == (  # named by its whole path, said to lie above
            f"classes read from {(src / 'labels.txt').resolve()} (above {src / 'run1'}; give "
            "--labels FILE to use another): the masks' values are mapped by name"
        )
        given = import_into_project(
            p, ImportRequest("masks", src / "run1", labels_file=src / "labels.txt")
        )
        assert given.notes == []
