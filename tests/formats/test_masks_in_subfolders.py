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
