"""A stack added that looks like labels, and nnU-Net's further channels, are added as
before but said in one line each (found by an audit of NIfTI volumes: ``annotator add P
labelsTr/`` split label volumes into pictures without a word)."""

from __future__ import annotations

import numpy as np
import tifffile
from niftihelpers import ct_voxels, label_voxels, save_volume
from PIL import Image

from annotator.cli import main

ZYX = {"imagej": True, "metadata": {"axes": "ZYX"}}
LOOKS = "stack(s) that look like labels into pictures"


def _new(tmp_path):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "bg,liver,tumour"]) == 0
    return root


def _add(capsys, root, *paths):
    capsys.readouterr()
    assert main(["add", str(root), *map(str, paths)]) == 0
    return capsys.readouterr()


def test_a_label_volume_added_alone_is_added_and_said_to_look_like_labels(tmp_path, capsys):
    save_volume(tmp_path / "ds" / "labelsTr" / "case.nii.gz", label_voxels())
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "ds" / "labelsTr")
    assert "added 6 image(s)" in said.out  # as PNG masks added alone are
    line = next(x for x in said.err.splitlines() if LOOKS in x)
    assert "(first: labelsTr/case.nii.gz: few whole values, in a mask folder, labelsTr/)" in line
    assert f"annotator import {root} --format masks {tmp_path / 'ds' / 'labelsTr'}" in line
    again = _add(capsys, root, tmp_path / "ds" / "labelsTr")  # nothing added: nothing said
    assert LOOKS not in again.err


def test_a_label_volume_or_stack_named_as_a_mask_added_alone_is_said(tmp_path, capsys):
    save_volume(tmp_path / "a" / "case_seg.nii.gz", label_voxels())
    (tmp_path / "b").mkdir()
    tifffile.imwrite(
        tmp_path / "b" / "cells.tif",
        np.random.default_rng(0).integers(0, 3, (6, 16, 16)).astype(np.uint8),
        **ZYX,
    )
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "a" / "case_seg.nii.gz")
    assert "case_seg.nii.gz: few whole values, named as a mask (_seg))" in said.err
    said = _add(capsys, root, tmp_path / "b")
    assert "(first: b/cells.tif: few whole values)" in said.err


def test_a_fractional_seg_volume_beside_its_scan_is_added_and_said(tmp_path, capsys):
    """Not left out as a mask (its values are no classes), but its name says labels."""
    save_volume(tmp_path / "ds" / "case.nii.gz", ct_voxels())
    soft = np.random.default_rng(0).random((24, 20, 6)).astype(np.float32)
    save_volume(tmp_path / "ds" / "case_seg.nii.gz", soft)
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "ds")
    assert "added 12 image(s)" in said.out
    assert f"split 1 {LOOKS} (first: ds/case_seg.nii.gz: named as a mask (_seg));" in said.err


def test_pictures_are_not_said_to_look_like_labels(tmp_path, capsys):
    save_volume(tmp_path / "ds" / "ct.nii.gz", ct_voxels())
    series = np.random.default_rng(1).integers(0, 255, (6, 32, 32)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "ds" / "em.tif", series, **ZYX)
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "ds")
    assert "added 12 image(s)" in said.out and LOOKS not in said.err


def test_nnunet_further_channels_of_tiff_stacks_are_added_and_said_in_one_line(tmp_path, capsys):
    """(NIfTI cases of a file per channel are one picture per slice instead:
    test_nnunet_channel_files.py; 2-D cases one picture: test_nnunet_2d_cases.py.)"""
    pictures = tmp_path / "ds" / "imagesTr"
    pictures.mkdir(parents=True)
    for i, case in enumerate(("em_001", "em_002")):
        for channel in range(2):
            series = np.full((3, 8, 8), 10 * channel + i + 1, np.uint8)
            tifffile.imwrite(pictures / f"{case}_{channel:04d}.tif", series, **ZYX)
    frames = tmp_path / "ds" / "images"  # a series of frames elsewhere: no channels
    frames.mkdir()
    for k in range(2):
        Image.fromarray(np.full((8, 8), 40 * k + 100, np.uint8)).save(frames / f"frame_{k:04d}.png")
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "ds")
    assert "added 14 image(s)" in said.out  # as before: each file its slices
    lines = [x for x in said.err.splitlines() if "further channels" in x]
    assert lines == [
        "  2 file(s) are further channels of nnU-Net cases (first: "
        "imagesTr/em_001_0001.tif), added as images of their own: only NIfTI volumes of "
        "one grid and pictures of one size are read as the channels of one picture"
    ]
    assert "further channels" not in _add(capsys, root, tmp_path / "ds").err
