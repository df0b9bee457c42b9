"""Ordinary variations of a dataset the bench is run on (audit of 2026-12-01): folder
names, class lists of "id name" lines, 0/255 masks with a class list."""

import cv2
import numpy as np
import pytest

from annotator.bench.dataset import load_dataset
from annotator.core.errors import AnnotatorError
from annotator.formats.base import VOID
from annotator.formats.colour_table import Labelling, read_class_table


def _write(root, images="images", masks="masks", values=(0, 1, 2), n=2, size=24):
    """``n`` images with masks in stripes of ``values``."""
    (root / images).mkdir(parents=True, exist_ok=True)
    (root / masks).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        mask = np.zeros((size, size), np.uint8)
        for k, v in enumerate(values):
            mask[:, k * size // len(values) :] = v
        image = (mask.astype(np.int32) * 40 + 20 + i).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(root / images / f"im{i}.png"), image)
        cv2.imwrite(str(root / masks / f"im{i}.png"), mask)
    return root


@pytest.mark.parametrize(
    ("images", "masks"),
    [("Images", "Masks"), ("IMAGES", "Labels"), ("image", "label"), ("img", "mask")],
)
def test_image_and_mask_folders_in_any_case_and_singular(tmp_path, images, masks):
    root = _write(tmp_path / "ds", images, masks)
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["im0.png", "im1.png"]
    assert ds.class_names == ("class0", "class1", "class2")


def test_an_empty_mask_folder_beside_a_full_one_is_passed_over(tmp_path):
    root = _write(tmp_path / "ds", "images", "labels")
    (root / "masks").mkdir()  # empty, first in the order looked in
    ds = load_dataset(root)
    assert len(ds.images) == 2
    (root / "masks" / "notes.txt").write_text("no masks here")
    assert len(load_dataset(root).images) == 2
    # Only an empty one: the error names the folder looked in.
    lone = _write(tmp_path / "lone", "images", "other")
    (lone / "masks").mkdir()
    with pytest.raises(AnnotatorError, match=r"has a mask in .*masks .*holds no mask files"):
        load_dataset(lone)


@pytest.mark.parametrize(
    "text",
    [
        "0 cytoplasm\n1 membrane\n2 vesicle\n",
        "0\tcytoplasm\n1\tmembrane\n2\tvesicle\n",
        "0: cytoplasm\n1: membrane\n2: vesicle\n",
        "0,cytoplasm\n1,membrane\n2,vesicle\n",
        "id name\n0 cytoplasm\n1 membrane\n2 vesicle\n",
        "id\tname\n2 vesicle\n0 cytoplasm\n1 membrane\n",
        "# EM classes\nid,name\n0,cytoplasm\n1,membrane\n2,vesicle\n",
        "name\ncytoplasm\nmembrane\nvesicle\n",
        "0 cytoplasm\n1 membrane\n2 vesicle\n255 void\n",
        "0 cytoplasm\n1 membrane\n2 vesicle\n255 ignore\n",
        "id,name\n0,cytoplasm\n1,membrane\n2,vesicle\n255,void\n",  # (255 was a class)
    ],
)
def test_id_name_lines_and_headers_are_read_as_ids_and_names(tmp_path, text):
    path = tmp_path / "classes.txt"
    path.write_text(text)
    table = read_class_table(path)
    assert table.names == ("cytoplasm", "membrane", "vesicle")
    assert table.ids == (0, 1, 2)
    ds = load_dataset(_write(tmp_path / "ds"), path)
    assert ds.class_names == ("cytoplasm", "membrane", "vesicle")
    assert not ds.warnings


def test_a_void_line_is_the_void_value_for_the_masks_import_too(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("0 background\n1 membrane\n255 void\n")
    table = read_class_table(path)
    assert table.names == ("background", "membrane") and table.void_ids == (255,)
    labelling = Labelling(table)
    assert labelling.names == ("background", "membrane")
    raw = np.array([[0, 1, 255]], np.uint8)
    assert labelling.from_ids(raw, path, {}).tolist() == [[0, 1, VOID]]
    # A class list whose names merely look like numbers stays a list of names.
    plain = tmp_path / "plain.txt"
    plain.write_text("0\n1\n2\n")
    assert read_class_table(plain).names == ("0", "1", "2")
    twice = tmp_path / "twice.txt"
    twice.write_text("0 a\n1 b\n1 c\n")
    with pytest.raises(Exception, match="id 1 is listed twice"):
        read_class_table(twice)


def test_ids_from_one_are_read_by_id_with_0_void_and_said(tmp_path):
    """``1 cytoplasm``..``3 vesicle`` with masks 1..3: the line was the name and value 3
    "not a class id (0..2)"."""
    path = tmp_path / "classes.txt"
    path.write_text("1 cytoplasm\n2 membrane\n3 vesicle\n")
    root = _write(tmp_path / "ds", values=(1, 2, 3))
    ds = load_dataset(root, path)
    assert ds.class_names == ("cytoplasm", "membrane", "vesicle")
    assert sorted(np.unique(ds.truths["im0"]).tolist()) == [0, 1, 2]
    assert "1 -> cytoplasm" in ds.note and "0 (not listed) -> void" in ds.note
    assert not ds.warnings
    # Where the masks hold 0, its share is said with the fix.
    zero = _write(tmp_path / "zero", values=(0, 1, 2, 3))
    ds0 = load_dataset(zero, path)
    assert (ds0.truths["im0"][:, :6] == 255).all()
    assert any(
        "25.0% of the masks' pixels are 0" in w and "'0 background'" in w for w in ds0.warnings
    )
    # A value the list lacks is refused, naming the list's ids.
    over = _write(tmp_path / "over", values=(1, 2, 4))
    with pytest.raises(AnnotatorError, match=r"value 4 is not an id of .*classes.txt"):
        load_dataset(over, path)
    # A plain list with masks 1..n: the error says how to write the list.
    names = tmp_path / "names.txt"
    names.write_text("cytoplasm\nmembrane\nvesicle\n")
    with pytest.raises(AnnotatorError, match=r"run 1..3: .*'1 cytoplasm'"):
        load_dataset(root, names)


def test_0_255_masks_with_a_two_name_list_read_255_as_class_1(tmp_path):
    """With --classes they were read as class 0 and void ("measures nothing"); without,
    255 -> 1: now the same either way."""
    root = _write(tmp_path / "ds", values=(0, 255))
    (root / "classes.txt").write_text("background\nmembrane\n")
    with_list = load_dataset(root, root / "classes.txt")
    without = load_dataset(root)
    assert with_list.class_names == ("background", "membrane")
    for k in ("im0", "im1"):
        np.testing.assert_array_equal(with_list.truths[k], without.truths[k])
        assert sorted(np.unique(with_list.truths[k]).tolist()) == [0, 1]
    assert "255 -> 1 (membrane)" in with_list.note
    assert not any("measures nothing" in w for w in with_list.warnings)
    # A list that names 255 void keeps it void (and the run is said to measure nothing).
    (root / "void.txt").write_text("0 background\n1 membrane\n255 void\n")
    kept = load_dataset(root, root / "void.txt")
    assert (kept.truths["im0"] == 255).any()
    assert any("measures nothing" in w for w in kept.warnings)


def test_much_void_beside_a_class_in_no_mask_is_said_with_its_share(tmp_path):
    root = _write(tmp_path / "ds", values=(0, 1, 255))
    (root / "classes.txt").write_text("cytoplasm\nmembrane\nvesicle\n")
    ds = load_dataset(root, root / "classes.txt")
    warning = next(w for w in ds.warnings if "appear in no mask: vesicle" in w)
    assert "255 (void) covers 33% of the masks' pixels" in warning
    assert "write it as its class id" in warning
    # A little void (under 5 %) is not blamed.
    small = _write(tmp_path / "small", values=(0, 1))
    for p in (small / "masks").iterdir():
        m = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        m[0, :3] = 255
        cv2.imwrite(str(p), m)
    ds2 = load_dataset(small, root / "classes.txt")
    assert any("appear in no mask" in w and "255" not in w for w in ds2.warnings)


def test_a_path_that_is_no_folder_is_said_so_not_the_layout(tmp_path):
    """A typo gave the layout's explanation, as if the folder were there but wrong."""
    with pytest.raises(AnnotatorError, match=r"typo: no such folder; give the dataset's folder"):
        load_dataset(tmp_path / "typo")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(AnnotatorError, match=r"file.png: not a folder"):
        load_dataset(tmp_path / "file.png")


def test_the_class_table_in_the_datasets_folder_names_the_classes(tmp_path):
    """(synthetic_em.py's own classes.txt was read only with --classes: class0..class2.)"""
    root = _write(tmp_path / "ds")
    (root / "classes.txt").write_text("cytoplasm\nmembrane\nvesicle\n")
    ds = load_dataset(root)
    assert ds.class_names == ("cytoplasm", "membrane", "vesicle")
    assert ds.note.startswith("class names from classes.txt in the dataset's folder")
    assert not ds.warnings


def test_a_class_table_in_the_folder_that_does_not_fit_is_said_and_left_out(tmp_path):
    root = _write(tmp_path / "ds", values=(1, 2, 3))  # 0 unused: ids to 3
    (root / "classes.txt").write_text("cytoplasm\nmembrane\nvesicle\n")  # ids 0..2
    ds = load_dataset(root)
    assert ds.class_names == ("class0", "class1", "class2", "class3")
    (said,) = [w for w in ds.warnings if "classes.txt was not read" in w]
    assert said.endswith("give --classes FILE")


@pytest.mark.parametrize("listed", [False, True])
def test_masks_all_void_are_refused_with_a_class_list_too(tmp_path, listed):
    """The refusal once said to give --classes; with them the run reported every image
    at target in 0 actions (accuracy 1.0), measuring nothing."""
    root = _write(tmp_path / "ds", values=(255,))
    names = root / "classes.txt"
    names.write_text("background\nmembrane\n")
    with pytest.raises(AnnotatorError) as refused:
        load_dataset(root, names if listed else None)
    message = str(refused.value)
    assert "every mask is void (255) only: there is nothing to label" in message
    assert "--classes" not in message
    assert "write it as its class id" in message
    assert ("as listed in" in message) is listed


@pytest.mark.parametrize("photometric", ["palette", "miniswhite"])
def test_tiff_masks_are_read_by_their_stored_ids_whatever_their_look(tmp_path, photometric):
    """A TIFF picture is read as viewers show it (a palette's colours, MINISWHITE
    turned); a TIFF mask's values are its class ids, read as stored."""
    import tifffile

    root = _write(tmp_path / "ds", n=1)
    ids = cv2.imread(str(root / "masks/im0.png"), cv2.IMREAD_UNCHANGED)
    (root / "masks/im0.png").unlink()
    extra = {}
    if photometric == "palette":
        table = np.zeros((3, 256), np.uint16)
        table[:, 1], table[:, 2] = [65535, 0, 0], [0, 65535, 0]
        extra["colormap"] = table
    tifffile.imwrite(root / "masks/im0.tif", ids, photometric=photometric, **extra)
    ds = load_dataset(root)
    assert np.array_equal(ds.truths["im0"], ids)
