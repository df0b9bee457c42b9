"""A mask folder given to a masks import is searched below too (masks/a/x.png,
masks/b/x.png): it said "no PNG or TIFF masks found", though its parent imported."""

from __future__ import annotations

import numpy as np
from fmthelpers import write_image
from PIL import Image

from annotator.formats.masks import read_masks


def _dataset(root):
    for i, sub in enumerate(("a", "b")):
        write_image(root / "images" / sub / "x.png", (6, 5), seed=i)
        (root / "masks" / sub).mkdir(parents=True)
        Image.fromarray(np.full((6, 5), i, np.uint8)).save(root / "masks" / sub / "x.png")


def test_a_mask_folder_with_subfolders_is_read_below(tmp_path):
    _dataset(tmp_path / "two")
    result = read_masks(tmp_path / "two" / "masks")
    assert not result.errors
    found = {i.source.relative_to(tmp_path / "two").as_posix() for i in result.items}
    assert found == {"masks/a/x.png", "masks/b/x.png"}
    # the same masks as importing the parent
    parent = read_masks(tmp_path / "two")
    assert {i.source for i in parent.items} == {i.source for i in result.items}


def test_pictures_below_a_mask_folder_are_not_read_as_masks(tmp_path):
    root = tmp_path / "masks"
    write_image(root / "images" / "y.png", (6, 5))  # a picture folder inside
    for sub in ("a", "c"):
        (root / sub).mkdir(parents=True)
        Image.fromarray(np.ones((6, 5), np.uint8)).save(root / sub / "z.png")
    found = {i.source.relative_to(root).as_posix() for i in read_masks(root).items}
    assert found == {"a/z.png", "c/z.png"}


def test_files_named_as_masks_below_a_mask_folder_are_still_all_that_is_read(tmp_path):
    """Cityscapes' gtFine/<split>/<city>/ (named masks) reads as before: only those."""
    root = tmp_path / "gtFine" / "val" / "city"
    root.mkdir(parents=True)
    Image.fromarray(np.ones((6, 5), np.uint8)).save(root / "x_gtFine_labelIds.png")
    Image.fromarray(np.ones((6, 5), np.uint8)).save(root / "notes.png")
    found = {i.source.name for i in read_masks(tmp_path / "gtFine").items}
    assert found == {"x_gtFine_labelIds.png"}


def test_voc_instance_masks_beside_its_class_masks_are_left_out(tmp_path):
    """Found by a new-user audit: a masks import of a VOC folder read SegmentationObject/
    (instance ids) beside SegmentationClass/ and skipped each of its masks as not class
    ids of the project, noisily, ending with exit code 2."""
    root = tmp_path / "VOC2012"
    write_image(root / "JPEGImages" / "x.jpg", (6, 5))
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "SegmentationObject").mkdir()
    Image.fromarray(np.ones((6, 5), np.uint8)).save(root / "SegmentationClass" / "x.png")
    Image.fromarray(np.full((6, 5), 7, np.uint8)).save(root / "SegmentationObject" / "x.png")
    found = {i.source.relative_to(root).as_posix() for i in read_masks(root).items}
    assert found == {"SegmentationClass/x.png"}
    # alone, an instance folder is still what the import reads (and its checks judge)
    alone = tmp_path / "objects"
    write_image(alone / "JPEGImages" / "x.jpg", (6, 5))
    (alone / "SegmentationObject").mkdir()
    Image.fromarray(np.ones((6, 5), np.uint8)).save(alone / "SegmentationObject" / "x.png")
    assert len(read_masks(alone).items) == 1


def test_a_class_list_beside_a_mask_folder_found_below_is_read(tmp_path):
    """VOCdevkit/VOC2012/class_names.txt beside its SegmentationClass/: importing
    VOCdevkit read the masks but not the list (only the folder given and the one above
    were looked in), and took the values as the project's ids."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    write_image(root / "JPEGImages" / "x.jpg", (6, 5))
    (root / "SegmentationClass").mkdir(parents=True)
    Image.fromarray(np.ones((6, 5), np.uint8)).save(root / "SegmentationClass" / "x.png")
    (root / "class_names.txt").write_text("background\naeroplane\n")
    result = read_masks(tmp_path / "VOCdevkit")
    assert result.declared == ["background", "aeroplane"]
    assert any(f"classes read from {root / 'class_names.txt'}" in n for n in result.notes)
