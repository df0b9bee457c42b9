"""An export's train/val/test split keeps the slices of one stack together."""

from __future__ import annotations

import numpy as np
import tifffile

from annotator.cli import main
from annotator.core.status import ImageStatus
from annotator.services.exchange import split_keys
from annotator.storage.project import Project

RNG = np.random.default_rng(3)
ZYX = {"imagej": True, "metadata": {"axes": "ZYX"}}


def _project_of_stacks(tmp_path):
    """A project of two stacks (8 and 6 slices) and 6 single pictures, all labelled."""
    files = []
    for name, planes in (("cells", 8), ("tissue", 6)):
        tifffile.imwrite(
            tmp_path / f"{name}.tif", RNG.integers(0, 255, (planes, 16, 24), np.uint8), **ZYX
        )
        files.append(str(tmp_path / f"{name}.tif"))
    for i in range(6):
        tifffile.imwrite(tmp_path / f"single{i}.tif", RNG.integers(0, 255, (16, 24), np.uint8))
        files.append(str(tmp_path / f"single{i}.tif"))
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "bg,fg"]) == 0
    assert main(["add", root, *files]) == 0
    with Project.open(tmp_path / "proj") as project:
        for rec in project.images():
            project.save_mask(
                rec.id, RNG.integers(0, 2, (16, 24)).astype(np.uint8), status=ImageStatus.DONE
            )
    return root


def test_the_slices_of_a_stack_are_exported_into_one_split(tmp_path, capsys):
    root = _project_of_stacks(tmp_path)
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        args = ["export", root, str(out), "--format", "masks", "--split", "0.5,0.25,0.25"]
        assert main([*args, "--seed", str(seed), "--stacks"]) == 0
        said = capsys.readouterr().out
        assert "slices of a stack are kept in one split (2 stack(s))" in said
        split_of: dict[str, set[str]] = {}
        count = 0
        for mask in out.glob("*/masks/*.png"):
            count += 1
            stack = mask.stem.split("_z")[0] if "_z" in mask.stem else mask.stem
            split_of.setdefault(stack, set()).add(mask.parent.parent.name)
        assert count == 20
        assert split_of.keys() == {"cells", "tissue", *(f"single{i}" for i in range(6))}
        assert all(len(splits) == 1 for splits in split_of.values()), (seed, split_of)
        # each label stack is written once, in the split of its slices, every page labelled
        for stack, planes in (("cells", 8), ("tissue", 6)):
            written = list(out.glob(f"*/stacks/{stack}.tif"))
            assert [p.parent.parent.name for p in written] == list(split_of[stack])
            assert not (tifffile.imread(written[0]) == 255).all(axis=(1, 2)).any()
            assert len(tifffile.imread(written[0])) == planes


def test_groups_are_weighted_by_their_slices_and_split_by_the_fractions():
    keys = [f"vol_z{i:03d}" for i in range(10)] + [f"img{i}" for i in range(10)]
    groups = {k: "vol" for k in keys[:10]}
    for seed in range(20):
        parts = split_keys(keys, (0.5, 0.5, 0.0), seed, groups)
        with_stack = [name for name, got in parts.items() if "vol_z000" in got]
        assert len(with_stack) == 1 and set(keys[:10]) <= set(parts[with_stack[0]])
        # 20 keys at one half each: the stack's 10 slices fill its split
        assert sorted(len(v) for v in parts.values()) == [10, 10], parts


def test_a_project_without_stacks_splits_as_before_for_the_same_seed():
    # the split of single pictures the export made before stacks were kept together
    keys = [f"img{i}" for i in range(10)]
    assert split_keys(keys, (0.6, 0.2, 0.2), 7, groups={}) == {
        "train": ["img8", "img0", "img7", "img1", "img3", "img6"],
        "val": ["img2", "img4"],
        "test": ["img5", "img9"],
    }
    assert split_keys(keys, (0.6, 0.2, 0.2), 7) == split_keys(keys, (0.6, 0.2, 0.2), 7, {})
