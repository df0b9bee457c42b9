"""Datasets the bench misread or refused with a misleading line (hunt of 2026-12-02):
JPEG masks, Annotator's own masks export, split subfolders, an EXIF-turned photo's
mask, ids beyond 8 bits."""

import json

import cv2
import numpy as np
import pytest

from annotator.bench.dataset import load_dataset
from annotator.bench.robot import IGNORE as VOID
from annotator.core.errors import AnnotatorError


def _pair(images, masks, stem, mask, suffix=".png"):
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    seed = sum(map(ord, stem))  # (a picture of each stem: twins are left out)
    picture = (mask.astype(np.int32) * 37 + seed % 50).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(images / f"{stem}.png"), picture)
    cv2.imwrite(str(masks / f"{stem}{suffix}"), mask)


def _stripes(values, size=32):
    mask = np.zeros((size, size), np.uint8)
    for k, v in enumerate(values):
        mask[:, k * size // len(values) :] = v
    return mask


def test_a_jpeg_mask_is_refused_as_lossy(tmp_path):
    root = tmp_path / "ds"
    for i in range(2):
        mask = np.zeros((64, 64), np.uint8)
        mask[10:30, 10:50] = 255
        _pair(root / "images", root / "masks", f"a{i}", mask, ".jpg")
    with pytest.raises(AnnotatorError, match=r"a0\.jpg: a JPEG mask .*must be lossless"):
        load_dataset(root)


def test_a_jpeg_picture_beside_its_png_mask_is_read(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(2):
        mask = _stripes((0, 1))
        cv2.imwrite(str(root / f"x{i}.jpg"), (mask * 200 + 20 + i).astype(np.uint8))
        cv2.imwrite(str(root / f"x{i}_mask.png"), mask)
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["x0.jpg", "x1.jpg"]
    # ... but a JPEG named as a mask is refused
    cv2.imwrite(str(root / "x1_mask.jpg"), _stripes((0, 1)))
    (root / "x1_mask.png").unlink()
    with pytest.raises(AnnotatorError, match=r"x1_mask\.jpg: a JPEG mask"):
        load_dataset(root)


def _export(root, void_pixel=True):
    """An Annotator masks export's layout (formats/masks.py): 3 classes, 254 void."""
    names = ["cytoplasm", "membrane", "vesicle"]
    root.mkdir(parents=True)
    (root / "class_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    meta = {"format": "annotator-masks", "void": 254, "unlabelled": 255, "classes": names}
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    for split, stems in (("train", ["em_01", "em_02"]), ("val", ["em_03"])):
        for stem in stems:
            mask = _stripes((0, 1, 2))
            if void_pixel:
                mask[:4, :4] = 254
            mask[-4:, -4:] = 255
            _pair(root / split / "images", root / split / "masks", stem, mask)
    return root, names


def test_an_annotator_masks_export_is_read_with_its_splits_classes_and_void(tmp_path):
    root, names = _export(tmp_path / "EXP")
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["em_01.png", "em_02.png", "em_03.png"]
    assert ds.class_names == tuple(names)
    truth = ds.truths["em_01"]
    assert (truth[:4, :4] == VOID).all() and (truth[-4:, -4:] == VOID).all()
    assert set(np.unique(truth).tolist()) == {0, 1, 2, VOID}
    assert "split folder" in ds.note and "Annotator masks export" in ds.note


def test_a_split_of_an_export_takes_its_classes_and_void_from_the_export(tmp_path):
    root, names = _export(tmp_path / "EXP")
    for ds in (load_dataset(root / "train"), load_dataset(root, root / "class_names.txt")):
        assert ds.class_names == tuple(names)  # (not class0 .. class254)
        assert (ds.truths["em_01"][:4, :4] == VOID).all()
    assert len(load_dataset(root / "train").images) == 2


def test_split_subfolders_of_images_and_masks_are_read_together(tmp_path):
    root = tmp_path / "SUB"
    for split, stem in (("train", "a"), ("val", "b")):
        _pair(root / "images" / split, root / "masks" / split, stem, _stripes((0, 1, 2)))
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["a.png", "b.png"]
    assert ds.class_names == ("class0", "class1", "class2")


def test_split_subfolders_without_their_masks_say_so(tmp_path):
    root = tmp_path / "SUB"
    _pair(root / "images" / "train", root / "masks" / "other", "a", _stripes((0, 1)))
    with pytest.raises(AnnotatorError, match=r"holds no image files but subfolders \(train\)"):
        load_dataset(root)


def test_a_turned_mask_says_the_picture_may_have_an_exif_orientation(tmp_path):
    root = tmp_path / "EX"
    for i in range(2):
        _pair(root / "images", root / "masks", f"p{i}", np.zeros((96, 128), np.uint8))
        turned = np.zeros((96, 128), np.uint8)
        cv2.imwrite(str(root / "images" / f"p{i}.png"), turned.T.copy())
    with pytest.raises(AnnotatorError, match=r"is 128x96 but .* 96x128 \(the sizes swapped"):
        load_dataset(root)
    from annotator.core.orientation import turned_size_hint  # (shared with the masks import)

    assert turned_size_hint((4, 4), (4, 4), 6) == ""
    assert turned_size_hint((4, 6), (5, 4), 6) == ""


def test_ids_beyond_8_bits_are_refused_with_the_real_limit(tmp_path):
    root = tmp_path / "BIG"
    for i in range(2):
        _pair(root / "images", root / "masks", f"m{i}", _stripes((0, 1)))
    lines = ["0 cytoplasm", "1000 membrane", "2000 vesicle"]
    (root / "ids.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AnnotatorError) as caught:
        load_dataset(root, root / "ids.txt")
    said = str(caught.value)
    assert "id 1000" in said and "below 255" in said
    assert "number the classes from 0" not in said


def test_an_export_split_copied_apart_warns_that_254_may_be_void(tmp_path):
    root, _ = _export(tmp_path / "EXP")
    alone = tmp_path / "alone"
    (root / "train").rename(alone)  # (no dataset.json one level up)
    ds = load_dataset(alone)
    assert any("hold 254" in w and "Annotator masks export" in w for w in ds.warnings)
    # masks whose ids run up to 254 are no such case
    full = tmp_path / "full"
    for i, values in enumerate(((0, 200), (100, 254))):
        _pair(full / "images", full / "masks", f"f{i}", _stripes(values))
    assert not any("hold 254" in w for w in load_dataset(full).warnings)
