"""`annotator bench` on masks saved as RGB: grey ones (the three channels equal) are
class ids, colour-coded ones are read through a class table with colours given as
``--classes`` (the tables `annotator import --format masks` reads), as that import reads
them. The bench refused both before ("a RGB image is not a class-id mask"; "import such
a dataset into a project instead")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.bench.dataset import load_dataset
from annotator.cli import main
from annotator.core.errors import AnnotatorError

LABELMAP = "# label:color_rgb:parts:actions\nbackground:0,0,0::\nmembrane:250,50,83::\n"
LABELMAP += "vesicle:128,64,128::\n"
COLOURS = np.array([(0, 0, 0), (250, 50, 83), (128, 64, 128)], np.uint8)


def _ids(seed: int) -> np.ndarray:
    ids = np.random.default_rng(seed).integers(0, 3, (16, 20)).astype(np.uint8)
    ids.reshape(-1)[:3] = (0, 1, 2)
    return ids


def _dataset(root: Path, masks: dict[str, np.ndarray]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, mask in masks.items():
        picture = np.random.default_rng(len(stem)).integers(0, 255, mask.shape[:2], np.uint8)
        Image.fromarray(picture).save(root / f"images/{stem}.png")
        Image.fromarray(mask).save(root / f"masks/{stem}.png")
    return root


def test_colour_coded_masks_are_read_through_a_table_of_colours(tmp_path):
    ids = _ids(1)
    root = _dataset(tmp_path / "ds", {"a": COLOURS[ids]})
    table = tmp_path / "labelmap.txt"
    table.write_text(LABELMAP)
    ds = load_dataset(root, table)
    assert ds.class_names == ("background", "membrane", "vesicle")
    assert np.array_equal(ds.truths["a"], ids)
    # A palette PNG of the table's colours is read by its colours too.
    palette = Image.fromarray(ids, "P")
    palette.putpalette(COLOURS[[2, 0, 1]].reshape(-1).tolist())  # indices not the ids
    palette.save(root / "masks/a.png")
    assert np.array_equal(load_dataset(root, table).truths["a"], (ids + 2) % 3)


def test_a_colour_the_table_lacks_is_one_line_naming_colour_file_and_pixels(tmp_path, capsys):
    mask = COLOURS[_ids(3)]
    mask[:2, :3] = (1, 2, 3)
    root = _dataset(tmp_path / "ds", {"a": mask})
    table = tmp_path / "labelmap.txt"
    table.write_text(LABELMAP)
    with pytest.raises(AnnotatorError) as got:
        load_dataset(root, table)
    assert str(got.value) == (
        f"{root / 'masks/a.png'}: colour (1,2,3) on 6 pixel(s) is not in labelmap.txt; add it "
        "to the table or correct the mask"
    )
    code = main(["bench", str(root), "--classes", str(table), "--out", str(tmp_path / "o")])
    assert code == 1
    assert capsys.readouterr().err.strip().endswith("add it to the table or correct the mask")


def test_grey_masks_saved_as_rgb_are_class_ids(tmp_path):
    ids = _ids(4)
    ids[0, 0] = 255  # void
    root = _dataset(tmp_path / "ds", {"a": np.dstack([ids] * 3)})
    rgba = np.dstack([ids, ids, ids, np.full(ids.shape, 255, np.uint8)])
    Image.fromarray(_ids(5)).save(root / "images/b.png")
    Image.fromarray(rgba, "RGBA").save(root / "masks/b.png")
    ds = load_dataset(root)
    assert ds.class_names == ("class0", "class1", "class2")
    assert np.array_equal(ds.truths["a"], ids) and np.array_equal(ds.truths["b"], ids)


def test_a_colour_mask_without_a_table_says_to_give_one_with_classes(tmp_path):
    root = _dataset(tmp_path / "ds", {"a": COLOURS[_ids(6)]})
    with pytest.raises(AnnotatorError) as got:
        load_dataset(root)
    assert str(got.value) == (
        f"{root / 'masks/a.png'}: an RGB mask whose channels differ is colour-coded, not "
        "class ids: give the table of its colours with --classes FILE (CVAT labelmap.txt, "
        "CamVid label_colors.txt or class_dict.csv), or save the mask as a grey class-id PNG"
    )
    # A plain class list is still read as ids, and refuses such a mask the same way.
    plain = tmp_path / "classes.txt"
    plain.write_text("background\nmembrane\nvesicle\n")
    with pytest.raises(AnnotatorError, match="give the table of its colours with --classes"):
        load_dataset(root, plain)
