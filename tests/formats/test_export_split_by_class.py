"""The export's split is stratified by the classes each image holds: a class in a few
images is spread over train, val and test instead of landing in train by chance."""

from __future__ import annotations

import numpy as np
from fmthelpers import make_project
from PIL import Image

from annotator.cli import main
from annotator.services.exchange import split_keys


def _keys() -> tuple[list[str], dict[str, frozenset[int]]]:
    """30 images: class 0 in all, class 1 in 3, class 2 in 4 (one beside class 1)."""
    keys = [f"img{i:02d}" for i in range(30)]
    classes = {k: {0} for k in keys}
    for k in ("img03", "img17", "img28"):
        classes[k].add(1)
    for k in ("img05", "img11", "img17", "img22"):
        classes[k].add(2)
    return keys, {k: frozenset(v) for k, v in classes.items()}


def test_a_rare_class_is_in_every_split_for_every_seed_and_the_sizes_stay(tmp_path):
    keys, classes = _keys()
    for seed in range(25):
        parts = split_keys(keys, (0.8, 0.1, 0.1), seed, classes=classes)
        assert {k: len(v) for k, v in parts.items()} == {"train": 24, "val": 3, "test": 3}
        assert sorted(k for v in parts.values() for k in v) == keys
        for name, part in parts.items():
            held = set().union(*(classes[k] for k in part))
            assert held == {0, 1, 2}, (seed, name)


def test_the_stratified_split_is_the_same_for_a_seed_and_follows_it():
    keys, classes = _keys()
    first = split_keys(keys, (0.8, 0.1, 0.1), 4, classes=classes)
    assert split_keys(list(reversed(keys)), (0.8, 0.1, 0.1), 4, classes=classes) == first
    others = [split_keys(keys, (0.8, 0.1, 0.1), s, classes=classes) for s in range(5, 10)]
    assert any(o != first for o in others)


def test_the_slices_of_a_stack_stay_together_in_a_stratified_split():
    keys, classes = _keys()
    groups = {k: "stack" for k in keys[:6]}  # img03 and img05 (classes 1 and 2) among them
    for seed in range(10):
        parts = split_keys(keys, (0.6, 0.2, 0.2), seed, groups, classes)
        (home,) = [name for name, part in parts.items() if "img00" in part]
        assert set(keys[:6]) <= set(parts[home])
        for part in parts.values():
            assert 2 in set().union(*(classes[k] for k in part))


def _labels(shape, classes) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for k, c in enumerate(sorted(classes - {0})):
        mask[2 + 3 * k : 4 + 3 * k, 2:6] = c
    return mask


def test_export_spreads_a_rare_class_and_names_those_too_rare(tmp_path, capsys):
    masks = {}
    for i in range(20):
        held = {0} | ({1} if i in (2, 9, 15) else set()) | ({3} if i in (4, 7) else set())
        masks[f"m{i:02d}"] = _labels((16, 16), held)
    make_project(tmp_path, masks, classes=("background", "cell", "nucleus", "rare")).close()
    out = tmp_path / "out"
    args = ["export", str(tmp_path / "project"), str(out), "--format", "masks"]
    assert main([*args, "--split", "0.6,0.2,0.2", "--seed", "5"]) == 0
    said = capsys.readouterr().out
    assert "train: 12, val: 4, test: 4" in said
    for split in ("train", "val", "test"):
        values = set()
        for f in (out / split / "masks").glob("*.png"):
            values |= set(np.unique(np.asarray(Image.open(f))).tolist())
        assert 1 in values, split
    assert "class(es) in too few images to be in every split (a stack counts as one): " in said
    assert "'rare' (2 image(s): " in said and "'cell'" not in said.split("too few")[1]
