"""`annotator bench` on datasets shipped as TIFF stacks (EM's usual form: ISBI 2012's
``train-volume.tif`` and ``train-labels.tif``): each slice is a bench image, named as a
project names a stack's slices (ADR 0022), labelled by the page of a label stack of the
same stem or by a mask named as the slice. The bench refused them all before ("a mask
must be a single-channel image")."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from annotator.bench.dataset import load_dataset
from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.core.synthetic import synthetic_cells


def _slices(n: int, size: int = 48) -> tuple[list[np.ndarray], list[np.ndarray]]:
    pictures, masks = [], []
    for i in range(n):
        picture, mask = synthetic_cells(seed=i, size=size, n_cells=3, noise=5)
        mask[mask == 2] = 1  # two classes: background, cell
        pictures.append(picture)
        masks.append(mask)
    return pictures, masks


def _bare_pages(path: Path, arrays: list[np.ndarray]) -> None:
    """Pages written one by one by Pillow: no axes recorded (Bare Pages)."""
    first, *rest = (Image.fromarray(a) for a in arrays)
    first.save(path, save_all=True, append_images=rest)


def _dataset(root: Path, pictures: list[np.ndarray], masks: list[np.ndarray] | None) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    _bare_pages(root / "images/vol.tif", pictures)
    if masks is not None:
        _bare_pages(root / "masks/vol.tif", masks)
    (root / "classes.txt").write_text("background\ncell\n")
    return root


def _bench(root: Path, out: Path, *options: str) -> dict:
    code = main(
        ["bench", str(root), "--classes", str(root / "classes.txt"), "--out", str(out)]
        + ["--device", "cpu", "--seed", "0", *options]
    )
    assert code == 0
    return json.loads((out / "bench.json").read_text())


def test_a_short_stack_and_its_label_stack_are_benched_slice_by_slice(tmp_path, capsys):
    pictures, masks = _slices(4)
    pictures[3] = pictures[0]  # a blank frame twice: two slices, as a project keeps them
    masks[3] = masks[0]
    root = _dataset(tmp_path / "ds", pictures, masks)
    ds = load_dataset(root, root / "classes.txt")
    assert [p.name for p in ds.images] == [f"vol_z00{i}.tif" for i in range(4)]
    for i in range(4):
        assert np.array_equal(ds.truths[f"vol_z00{i}"], masks[i])
    said = "\n".join(ds.warnings)
    assert "vol.tif: its 4 bare pages (no axes recorded) are read as 4 slices" in said
    assert "byte for byte" not in said
    assert "a stack of 4 slices" in ds.note and "the pages of vol.tif" in ds.note

    report = _bench(root, tmp_path / "manual", "--mode", "manual")
    assert [r["name"] for r in report["runs"][0]["images"]] == [p.name for p in ds.images]
    assert all(r["reached_target"] for r in report["runs"][0]["images"])
    err = capsys.readouterr().err
    assert "its 4 bare pages (no axes recorded) are read as 4 slices" in err


@pytest.mark.slow
def test_an_assisted_run_trains_on_slices_and_evaluates_the_others(tmp_path):
    pictures, masks = _slices(3)
    root = _dataset(tmp_path / "ds", pictures, masks)
    report = _bench(
        root, tmp_path / "assisted", "--mode", "assisted", "--train-steps", "5", "--limit", "2"
    )
    run = report["runs"][0]
    assert [r["name"] for r in run["images"]] == ["vol_z000.tif", "vol_z001.tif"]
    assert run["eval_images"] == 1  # the slice not labelled, read from the split
    assert run["final_miou_unlabelled"] is not None


def test_masks_named_as_the_slices_label_a_stack_in_slice_order(tmp_path):
    pictures, masks = _slices(11, size=16)
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    tifffile.imwrite(
        root / "images/vol.tif", np.stack(pictures), imagej=True, metadata={"axes": "ZYX"}
    )
    for i in (10, 2, 0, 1):
        cv2.imwrite(str(root / f"labels/vol_z{i:03d}.png"), masks[i])
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == [f"vol_z{i:03d}.tif" for i in (0, 1, 2, 10)]
    assert np.array_equal(ds.truths["vol_z010"], masks[10])
    assert "7 image(s)" in "\n".join(ds.warnings)  # the slices without a mask


def test_a_label_stack_of_another_slice_count_is_one_line(tmp_path):
    pictures, masks = _slices(3, size=16)
    root = _dataset(tmp_path / "ds", pictures, [*masks, masks[0]])
    with pytest.raises(AnnotatorError) as got:
        load_dataset(root)
    message = str(got.value)
    assert message == (
        f"{root / 'masks/vol.tif'}: a label stack of 4 slices, but its picture stack vol.tif "
        "holds 3; give one label page per slice"
    )
    assert main(["bench", str(root), "--mode", "manual", "--out", str(tmp_path / "o")]) == 1


def test_bare_pages_with_one_mask_stay_one_picture_as_add_reads_them(tmp_path):
    pictures, masks = _slices(3, size=16)
    root = _dataset(tmp_path / "ds", pictures, None)
    cv2.imwrite(str(root / "masks/vol.png"), masks[0])
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["vol.tif"] and ds.slices == {}
    assert any("read as the 3 channels of one picture" in w for w in ds.warnings)
