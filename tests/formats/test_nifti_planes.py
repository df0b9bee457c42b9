"""NIfTI volumes cut in the plane they were acquired in (ADR 0034): through the file's
thickest axis (its third when the voxels are cubes), shown as radiologists read each
plane. Before, every volume was cut axially: a coronal scan of 0.8 x 0.8 x 3 mm voxels
became axial strips a few voxels high, rows of 3 mm shown as square pixels."""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest
from niftihelpers import LPS, ct_voxels, label_voxels, save_volume

from annotator.cli import main
from annotator.core import volumes
from annotator.formats.nifti import nifti_bytes
from annotator.storage.images import read_image
from annotator.storage.project import Project

#: Coronal slices of 3 mm: array axis 0 towards the patient's left, 1 up, 2 backwards.
CORONAL = np.array(
    [[-0.8, 0, 0, 15.0], [0, 0, -3.0, 40.0], [0, 0.8, 0, -20.0], [0, 0, 0, 1.0]], float
)
#: Sagittal slices of 3 mm: array axis 0 backwards, 1 down, 2 towards the left.
SAGITTAL = np.array(
    [[0, 0, -3.0, 30.0], [-0.8, 0, 0, 12.0], [0, -0.8, 0, 50.0], [0, 0, 0, 1.0]], float
)


def _rotation(degrees_z: float, degrees_x: float) -> np.ndarray:
    z, x = np.radians(degrees_z), np.radians(degrees_x)
    about_z = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    return about_z @ about_x


#: The coronal scan tilted 15 degrees about S and 10 about R: coronal still, the closest.
OBLIQUE = CORONAL.copy()
OBLIQUE[:3, :3] = _rotation(15, 10) @ CORONAL[:3, :3]
#: Cubes of 1 mm, axes permuted: array axis 0 up, 1 forwards, 2 towards the left.
ISOTROPIC = np.array([[0, 0, -1.0, 5.0], [0, 1.0, 0, -5.0], [1.0, 0, 0, 7.0], [0, 0, 0, 1.0]])

SHAPE = (40, 32, 8)
#: Per affine: the plane and the slices' (count, height, width) for a file of SHAPE.
CUTS = {
    "axial": (LPS, "axial", (8, 32, 40)),
    "coronal": (CORONAL, "coronal", (8, 32, 40)),
    "sagittal": (SAGITTAL, "sagittal", (8, 32, 40)),
    "oblique": (OBLIQUE, "coronal", (8, 32, 40)),
    "isotropic": (ISOTROPIC, "sagittal", (8, 40, 32)),
}


def _canonical(path) -> np.ndarray:
    """The file's voxels in RAS+ order (nibabel's closest canonical)."""
    return np.asarray(nib.as_closest_canonical(nib.load(path)).dataobj)


def _shown(c: np.ndarray, plane: str, k: int) -> np.ndarray:
    """Slice ``k`` of canonical voxels ``c`` as ADR 0034 shows the plane."""
    if plane == "axial":  # anterior at the top, the patient's right on the left
        return c[::-1, ::-1, k].T
    if plane == "coronal":  # superior at the top, the patient's right on the left
        return c[::-1, k, ::-1].T
    return c[k, ::-1, ::-1].T  # sagittal: superior at the top, anterior on the left


def _slices(root, stem, n):
    return [read_image(root / "slices" / stem / f"{stem}_z{k:03d}.tif") for k in range(n)]


def _new(tmp_path, classes="bg,liver,tumour"):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", classes]) == 0
    return root


def test_a_coronal_thick_slice_scan_is_cut_in_coronal_slices(tmp_path):
    voxels = ct_voxels(SHAPE)
    # the file's axis 0 runs to the patient's left, 1 up, 2 backwards (slice 5: A index 2)
    voxels[0, 31, 5] = 3000  # the patient's right-most, superior-most voxel
    voxels[3, 30, 5] = 2500  # 3 voxels to the left of it, 1 below
    voxels[39, 0, 5] = 2000  # left-most, inferior-most
    file = save_volume(tmp_path / "cor.nii.gz", voxels, CORONAL)
    root = _new(tmp_path)
    assert main(["add", str(root), str(file)]) == 0
    record = json.loads((root / "slices" / "cor" / "source.json").read_text())["volume"]
    assert record["plane"] == "coronal"
    pictures = _slices(root, "cor", 8)  # 8 slices of 32 x 40, not 32 axial strips of 8 x 40
    assert not (root / "slices" / "cor" / "cor_z008.tif").exists()
    assert all(p.shape == (32, 40) for p in pictures)
    assert pictures[2][0, 0] == 3000  # superior-right: top-left
    assert pictures[2][1, 3] == 2500
    assert pictures[2][31, 39] == 2000  # inferior-left: bottom-right
    canonical = _canonical(file)
    assert all(np.array_equal(p, _shown(canonical, "coronal", k)) for k, p in enumerate(pictures))


def test_a_sagittal_thick_slice_scan_is_cut_in_sagittal_slices(tmp_path):
    voxels = ct_voxels((36, 30, 7))
    # the file's axis 0 runs backwards, 1 down, 2 to the patient's left (slice 4: R index 2)
    voxels[2, 1, 4] = 3000  # 2 voxels behind the front, 1 below the top
    voxels[35, 29, 4] = 2000  # the back, the bottom
    file = save_volume(tmp_path / "sag.nii.gz", voxels, SAGITTAL)
    root = _new(tmp_path)
    assert main(["add", str(root), str(file)]) == 0
    pictures = _slices(root, "sag", 7)
    assert all(p.shape == (30, 36) for p in pictures)
    assert not (root / "slices" / "sag" / "sag_z007.tif").exists()
    assert pictures[2][1, 2] == 3000  # anterior on the left, superior at the top
    assert pictures[2][29, 35] == 2000
    canonical = _canonical(file)
    assert all(np.array_equal(p, _shown(canonical, "sagittal", k)) for k, p in enumerate(pictures))


def test_an_isotropic_scan_is_cut_through_the_files_third_axis(tmp_path):
    """Cubes: no thickest axis; the file's slices as stored (here its third axis runs
    to the patient's left: sagittal)."""
    voxels = ct_voxels((24, 20, 6))
    file = save_volume(tmp_path / "iso.nii.gz", voxels, ISOTROPIC)
    image = nib.load(file)
    pages, record = volumes.read_volume(file)
    assert record["plane"] == "sagittal" and pages.shape == (6, 24, 20)
    assert volumes.volume_header(file).planes == 6
    canonical = _canonical(file)
    assert all(np.array_equal(p, _shown(canonical, "sagittal", k)) for k, p in enumerate(pages))
    # each slice is one of the file's planes, as stored (axis 2 runs left: reversed)
    stored = np.asarray(image.dataobj)
    assert all(np.array_equal(pages[k][::-1, ::-1], stored[:, :, 5 - k]) for k in range(6))


@pytest.mark.parametrize("cut", list(CUTS))
def test_labels_imported_and_exported_are_the_original_voxels_in_every_plane(tmp_path, cut):
    """A label volume is cut as its picture volume (one grid: one plane), lands on its
    slices, and comes back with ``--stacks`` voxel for voxel, with the file's affine."""
    affine, plane, cut_shape = CUTS[cut]
    labels = label_voxels(SHAPE)
    save_volume(tmp_path / "ds" / "imagesTr" / "case_0000.nii.gz", ct_voxels(SHAPE), affine)
    labels_file = save_volume(tmp_path / "ds" / "labelsTr" / "case.nii.gz", labels, affine)
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    canonical = _canonical(labels_file)
    with Project.open(root) as project:
        record = project.image("case_0000_z000.tif")
        assert (record.height, record.width) == cut_shape[1:]
        assert project.image(f"case_0000_z{cut_shape[0] - 1:03d}.tif") is not None
        for k in range(cut_shape[0]):
            mask = project.load_mask(project.image(f"case_0000_z{k:03d}.tif"))
            assert np.array_equal(mask, _shown(canonical, plane, k)), k
    out = tmp_path / "out"
    args = ["export", str(root), str(out), "--format", "masks", "--stacks", "--split", "1"]
    assert main(args) == 0
    written = nib.load(out / "train" / "stacks" / "case_0000.nii.gz")
    original = nib.load(labels_file)
    assert written.shape == SHAPE
    assert np.array_equal(np.asanyarray(written.dataobj), labels)
    assert np.array_equal(written.affine, original.affine)
    assert np.array_equal(written.get_sform(), original.get_sform())
    assert written.header.get_zooms() == original.header.get_zooms()


def test_a_label_volume_on_its_scans_grid_to_rounding_is_cut_in_the_same_plane(tmp_path):
    """Cubes of 1 mm, the labels' first side 1.0005 (within the grid's tolerance): the
    labels' thickest axis is not the scan's, yet both are cubes, cut through the third
    array axis (here forwards: coronal), and the labels land on the slices."""
    scan = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1]])
    rounded = scan.copy()
    rounded[0, 0] = 1.0005
    labels = label_voxels((24, 20, 6))
    save_volume(tmp_path / "ds" / "case.nii.gz", ct_voxels((24, 20, 6)), scan)
    save_volume(tmp_path / "ds" / "case_seg.nii.gz", labels, rounded)
    assert volumes.read_volume(tmp_path / "ds" / "case_seg.nii.gz")[1]["plane"] == "coronal"
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    canonical = labels.transpose(0, 2, 1)  # the file's axes are R, S, A
    with Project.open(root) as project:
        for k in range(6):  # 6 coronal slices of 20 x 24
            mask = project.load_mask(project.image(f"case_z{k:03d}.tif"))
            assert np.array_equal(mask, _shown(canonical, "coronal", k)), k


def test_a_record_without_a_plane_is_axial_as_it_was_cut(tmp_path):
    """Projects split before planes were chosen: their slices are axial, whatever the
    scan; the record (no ``plane``) still writes them back voxel for voxel."""
    labels = label_voxels(SHAPE)
    file = save_volume(tmp_path / "cor.nii.gz", labels, CORONAL)
    record = dict(volumes.read_volume(file)[1])
    assert record.pop("plane") == "coronal"
    canonical = _canonical(file)
    axial = np.stack([_shown(canonical, "axial", k) for k in range(32)])  # as cut before
    assert volumes.slice_shape(record) == axial.shape == (32, 8, 40)
    assert np.array_equal(volumes.volume_voxels(axial, record), labels)
    written = nib.Nifti1Image.from_bytes(gzip.decompress(volumes.label_volume_bytes(axial, record)))
    assert np.array_equal(np.asarray(written.dataobj), labels)
    geometry = volumes.picture_geometry(record, "cor.nii.gz")
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(list(axial), geometry)))
    assert np.array_equal(np.asarray(image.dataobj), labels)
    with pytest.raises(ValueError, match="plane"):
        volumes.slice_shape({**record, "plane": "oblique"})


@pytest.mark.parametrize("cut", list(CUTS))
def test_picture_geometry_writes_the_slices_in_the_scans_own_voxel_order(tmp_path, cut):
    """What nnU-Net's export writes of a NIfTI stack: the pictures of its slices back in
    the scan's voxel order, under its affine, whatever the plane they were cut in."""
    affine, plane, cut_shape = CUTS[cut]
    voxels = ct_voxels(SHAPE)
    file = save_volume(tmp_path / "scan.nii.gz", voxels, affine)
    pages, record = volumes.read_volume(file)
    assert record["plane"] == plane and pages.shape == cut_shape
    geometry = volumes.picture_geometry(record, "scan.nii.gz")
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(list(pages), geometry)))
    original = nib.load(file)
    assert np.array_equal(np.asarray(image.dataobj), voxels)
    np.testing.assert_allclose(image.affine, original.affine, atol=1e-5)
    spacing = sorted(original.header.get_zooms())
    assert sorted(geometry.voxel_size) == pytest.approx(spacing, abs=1e-5)
    assert geometry.voxel_size[2] == pytest.approx(max(spacing), abs=1e-5)  # (slice)


@pytest.mark.parametrize("cut", list(CUTS))
def test_the_voxel_of_a_slices_pixel_is_the_files_own(tmp_path, cut):
    """The status bar's voxel (i, j, k) and position of a pixel of a slice: the voxel of
    the file that the pixel shows, and the affine's position of it, in every plane."""
    affine, _plane, _shape = CUTS[cut]
    voxels = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)  # each one its own
    file = save_volume(tmp_path / "scan.nii.gz", voxels, affine)
    pages, record = volumes.read_volume(file)
    locator = volumes.VoxelLocator.of(record)
    assert locator.unit == ""  # (nibabel writes no unit: "unknown")
    rng = np.random.default_rng(0)
    for _ in range(40):
        k, y, x = (int(rng.integers(n)) for n in pages.shape)
        i, j, kk = locator.voxel(k, x, y)
        assert voxels[i, j, kk] == pages[k, y, x]
        position = nib.load(file).affine @ np.array([i, j, kk, 1.0])
        assert locator.position((i, j, kk)) == pytest.approx(tuple(position[:3]), abs=1e-4)


@pytest.mark.parametrize("cut", ["coronal", "sagittal"])
def test_an_nnunet_export_of_a_coronal_or_sagittal_scan_lies_on_the_scan(tmp_path, cut):
    affine = CUTS[cut][0]
    scan = save_volume(tmp_path / "ds" / "imagesTr" / "s_0000.nii.gz", ct_voxels(SHAPE), affine)
    labels = save_volume(tmp_path / "ds" / "labelsTr" / "s.nii.gz", label_voxels(SHAPE), affine)
    root = _new(tmp_path, "background,liver,tumour")  # (nnU-Net's label 0: as the files')
    assert main(["add", str(root), str(tmp_path / "ds" / "imagesTr")]) == 0
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    out = tmp_path / "Dataset003_S"
    assert main(["export", str(root), str(out), "--format", "nnunet"]) == 0
    for written, source in (("imagesTr/s_0000.nii.gz", scan), ("labelsTr/s.nii.gz", labels)):
        image, original = nib.load(out / written), nib.load(source)
        assert np.array_equal(np.asarray(image.dataobj), np.asarray(original.dataobj))
        np.testing.assert_allclose(image.affine, original.affine, atol=1e-5)


def test_a_label_volume_cut_in_another_plane_than_its_scan_is_refused(tmp_path, capsys):
    """Found by the plane change's builder: voxel sides at the tie of the plane rule
    (1 / 1 / 0.99 mm against 1.0005 / 1 / 0.99, one grid within the import's tolerance)
    cut the scan axial and its labels coronal; a cube of voxels then took the labels onto
    the wrong voxels with no error."""
    scan = np.diag([1.0, 1.0, 0.99, 1.0])
    labels = np.diag([1.0005, 1.0, 0.99, 1.0])
    save_volume(tmp_path / "ds" / "cube.nii.gz", ct_voxels((12, 12, 12)), scan)
    save_volume(tmp_path / "ds" / "cube_seg.nii.gz", label_voxels((12, 12, 12)), labels)
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "background,liver,tumour"]) == 0
    assert main(["add", str(project), str(tmp_path / "ds")]) == 0
    capsys.readouterr()
    assert main(["import", str(project), "--format", "masks", str(tmp_path / "ds")]) != 0
    err = capsys.readouterr().err
    assert "cut it coronal where the pictures are cut axial" in err
    with Project.open(project) as p:
        assert all(p.load_mask(r) is None for r in p.images())
