"""Hidden files (names beginning with '.') are left out of every import that walks a
folder, as `annotator add` leaves them out: macOS's AppleDouble ``._liver_0.nii.gz``
beside each file of the Decathlon's tarballs stopped the import (exit 2)."""

from __future__ import annotations

import json

import pytest
from fmthelpers import CLASSES, make_project
from niftihelpers import LPS, ct_voxels, label_voxels, save_volume

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.project import Project

#: What macOS writes as ``._x`` beside ``x`` on a drive without its metadata.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02" + bytes(40)


def test_apple_double_files_of_a_decathlon_dataset_are_left_out(tmp_path, capsys):
    ds = tmp_path / "Task03_Liver"
    save_volume(ds / "imagesTr" / "liver_0.nii.gz", ct_voxels(), LPS)
    save_volume(ds / "labelsTr" / "liver_0.nii.gz", label_voxels(), LPS)
    for folder in ("imagesTr", "labelsTr"):
        (ds / folder / "._liver_0.nii.gz").write_bytes(APPLE_DOUBLE)
    (ds / "._dataset.json").write_bytes(APPLE_DOUBLE)
    labels = {"0": "background", "1": "liver", "2": "cancer"}
    (ds / "dataset.json").write_text(json.dumps({"modality": {"0": "CT"}, "labels": labels}))
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "background,liver,cancer"]) == 0
    assert main(["add", str(root), str(ds)]) == 0
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 0
    said = capsys.readouterr()
    assert "imported 6 mask(s)" in said.out
    assert "._liver_0" not in said.out + said.err and "skipped" not in said.out + said.err


@pytest.mark.parametrize("fmt", ["masks", "voc", "yolo", "labelme", "coco"])
def test_hidden_files_beside_a_datasets_files_are_left_out(tmp_path, masks, fmt):
    """``._x`` and ``.x`` copies (junk) of every file of an export: none is read."""
    with make_project(tmp_path, masks) as project:
        export_project(
            project, ExportRequest(fmt, tmp_path / "out", split=(1, 0, 0), keep_background=True)
        )
    for file in [p for p in (tmp_path / "out").rglob("*") if p.is_file()]:
        (file.parent / f"._{file.name}").write_bytes(APPLE_DOUBLE)
        (file.parent / f".{file.name}").write_bytes(APPLE_DOUBLE)
    with Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))) as again:
        report = import_into_project(again, ImportRequest(fmt, tmp_path / "out"))
        assert report.skipped == []
        # (the empty map labels nothing, but in VOC, where unlabelled comes back void)
        assert len(report.imported) == (4 if fmt == "voc" else 3)
        assert not any(r.name.startswith(".") for r in again.images())


def test_a_plain_nifti_file_named_nii_gz_is_refused_saying_to_rename_it(tmp_path, capsys):
    """An uncompressed file named ``.nii.gz``: "not a gzip file" said nothing of the fix."""
    plain = save_volume(tmp_path / "scan.nii", ct_voxels())
    misnamed = tmp_path / "ds" / "scan.nii.gz"
    misnamed.parent.mkdir()
    misnamed.write_bytes(plain.read_bytes())
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "a,b"]) == 0
    assert main(["add", str(root), str(misnamed)]) == 1
    said = capsys.readouterr().err
    assert f"{misnamed}: corrupt or unsupported NIfTI file (it is not gzip-compressed: " in said
    assert "if it is a plain .nii file, rename it to .nii)" in said


@pytest.mark.parametrize("fmt", ["masks", "voc", "yolo", "labelme", "coco"])
def test_files_inside_hidden_folders_are_left_out(tmp_path, masks, fmt):
    """Jupyter's ``.ipynb_checkpoints/`` (a real copy of each file beside it) inside an
    export's folders: the imports read them too (labelme twice each, masks as other
    images' masks) where ``annotator add`` leaves hidden folders out."""
    import shutil

    with make_project(tmp_path, masks) as project:
        export_project(
            project, ExportRequest(fmt, tmp_path / "out", split=(1, 0, 0), keep_background=True)
        )
    for file in [p for p in (tmp_path / "out").rglob("*") if p.is_file()]:
        checkpoints = file.parent / ".ipynb_checkpoints"
        checkpoints.mkdir(exist_ok=True)
        shutil.copy(file, checkpoints / file.name)
    with Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))) as again:
        report = import_into_project(again, ImportRequest(fmt, tmp_path / "out"))
        assert report.skipped == []
        assert len(report.imported) == (4 if fmt == "voc" else 3)
        assert not any("ipynb" in r.name for r in again.images())
