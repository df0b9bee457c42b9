"""``predict --out DIR`` writes, beside the slices' masks, a label volume per NIfTI scan
predicted (``DIR/volumes/<stem>.nii.gz``): the proposals in the scan's own voxel order
and affine, the slices not predicted unlabelled, all or nothing with the masks."""

from __future__ import annotations

import cv2
import nibabel as nib
import numpy as np
import pytest
from niftihelpers import LPS, ct_voxels, save_volume
from test_predict_out import _Predictor as _Fake

from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.core.proposal import NO_CLASS
from annotator.services import proposals
from annotator.services.projects import create_project, open_project

SHAPE = (12, 10, 5)


def _classes(values: np.ndarray) -> np.ndarray:
    """What the fake model proposes for a voxel of ``values``: a class by the value (so
    every voxel's proposal is its own), no class for air far below -1000."""
    v = np.asarray(values).astype(np.int64)
    out = (v % 3).astype(np.uint8)
    out[v < -1010] = NO_CLASS
    return out


def _Predictor(stop: int | None = None) -> _Fake:  # noqa: N802 (as the class it makes)
    """Proposes :func:`_classes` of each pixel; Ctrl+C (KeyboardInterrupt) at ``stop``."""
    return _Fake(stop, _classes)


@pytest.fixture
def scan(tmp_path):
    voxels = ct_voxels(SHAPE)
    path = save_volume(tmp_path / "scans" / "case_0000.nii.gz", voxels, LPS)
    assert (voxels < -1010).any() and (voxels >= -1010).any()
    with create_project(tmp_path / "P", ["bg", "liver", "tumour"]) as project:
        project.add_images([path])
        assert len(project.images()) == SHAPE[2]
    return tmp_path / "P", path


def _slices(project):
    return sorted(project.images(), key=lambda r: r.name)


def test_a_predicted_scan_gets_its_label_volume_voxel_for_voxel(scan, tmp_path):
    root, path = scan
    out = tmp_path / "out"
    written: list = []
    with open_project(root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(), volumes=written)
    volume = out / "volumes" / "case_0000.nii.gz"
    assert written == [volume]
    made, source = nib.load(volume), nib.load(path)
    assert made.shape == source.shape and made.get_data_dtype() == np.uint8
    np.testing.assert_allclose(made.affine, LPS, atol=1e-5)
    np.testing.assert_allclose(made.affine, source.affine, atol=1e-6)
    labels = np.asarray(made.dataobj)
    # the model's proposal of each voxel of the scan, where the scan has it; no class: 255
    np.testing.assert_array_equal(labels, _classes(np.asarray(source.dataobj)))
    # and the per-slice masks mapped back: axis 2 of an LPS file runs up as the slices
    # do, its axes 0 and 1 (L, P) as the pictures' columns and rows
    for k in range(SHAPE[2]):
        png = cv2.imread(str(out / f"case_0000_z{k:03d}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(labels[:, :, k], png.T)


def test_a_partly_predicted_scan_leaves_the_other_slices_unlabelled(scan, tmp_path):
    root, path = scan
    out = tmp_path / "out"
    with open_project(root) as project:
        some = [r for r in _slices(project) if r.name.endswith(("_z001.tif", "_z003.tif"))]
        proposals.predict_images(project, some, out_dir=out, predictor=_Predictor())
        unlabelled = project.schema.unlabelled
    labels = np.asarray(nib.load(out / "volumes" / "case_0000.nii.gz").dataobj)
    expected = _classes(np.asarray(nib.load(path).dataobj))
    for k in range(SHAPE[2]):
        if k in (1, 3):
            np.testing.assert_array_equal(labels[:, :, k], expected[:, :, k])
        else:
            assert (labels[:, :, k] == unlabelled).all()


def test_an_interrupted_run_writes_no_volume(scan, tmp_path):
    root, _ = scan
    out = tmp_path / "out"
    with open_project(root) as project, pytest.raises(KeyboardInterrupt):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(stop=4))
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_volume_there_is_replaced_only_with_overwrite(scan, tmp_path):
    root, _ = scan
    out = tmp_path / "out"
    (out / "volumes").mkdir(parents=True)
    (out / "volumes" / "case_0000.nii.gz").write_bytes(b"mine")
    with open_project(root) as project:
        with pytest.raises(AnnotatorError, match="volumes/case_0000.nii.gz"):
            proposals.predict_images(project, out_dir=out, predictor=_Predictor())
        assert (out / "volumes" / "case_0000.nii.gz").read_bytes() == b"mine"
        (out / "volumes" / "other.nii.gz").write_bytes(b"kept")
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(), overwrite=True)
    assert nib.load(out / "volumes" / "case_0000.nii.gz").shape == SHAPE
    assert (out / "volumes" / "other.nii.gz").read_bytes() == b"kept"


def test_the_cli_names_the_label_volumes(scan, tmp_path, monkeypatch, capsys):
    root, _ = scan
    monkeypatch.setattr(proposals, "load_predictor", lambda *a, **k: _Predictor())
    out = tmp_path / "out"
    assert main(["predict", str(root), "--out", str(out)]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith(f" and {out}, and 1 label volume(s) of NIfTI scans in {out / 'volumes'}")
    )


def test_pictures_that_are_no_scan_get_no_volume(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((8, 8), 40, np.uint8))
    with create_project(tmp_path / "P", ["bg", "cell"]) as project:
        project.add_images([images])
        proposals.predict_images(project, out_dir=tmp_path / "out", predictor=_Predictor())
    assert not (tmp_path / "out" / "volumes").exists()
