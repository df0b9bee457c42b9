"""Small NIfTI volumes made in the tests (nibabel), in the orientations scanners write."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

#: Array axes along the patient's right, anterior, superior (the canonical order).
RAS = np.diag([0.8, 0.7, 2.5, 1.0])
#: DICOM's order (ITK, SimpleITK write it so): towards the left, posterior, superior.
LPS = np.array([[-0.8, 0, 0, 12.0], [0, -0.7, 0, 30.0], [0, 0, 2.5, -40.0], [0, 0, 0, 1.0]], float)
#: Axes permuted and flipped: array axis 0 runs up (S), 1 forwards (A), 2 to the left.
PERMUTED = np.array(
    [[0, 0, -0.9, 20.0], [0, 0.7, 0, -5.0], [2.5, 0, 0, 7.0], [0, 0, 0, 1.0]], float
)


def save_volume(
    path: Path, voxels: np.ndarray, affine: np.ndarray = RAS, qform: int = 1, sform: int = 2
) -> Path:
    """Write ``voxels`` as a NIfTI-1 file (gzipped for ``.nii.gz``) with ``affine`` as its
    qform and sform, of those codes."""
    import nibabel as nib

    image = nib.Nifti1Image(voxels, affine)
    image.header.set_qform(affine, code=qform)
    image.header.set_sform(affine, code=sform)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)
    return path


def save_scaled(path: Path, stored: np.ndarray, slope: float, inter: float) -> Path:
    """A NIfTI file of the ``stored`` values whose header scales them (``scl_slope``,
    ``scl_inter``), as scanners store CT: nibabel itself would rescale on saving."""
    import nibabel as nib

    data = bytearray(nib.Nifti1Image(stored, RAS).to_bytes())
    struct.pack_into("<ff", data, 112, slope, inter)  # the header's scl_slope, scl_inter
    path.write_bytes(gzip.compress(bytes(data)) if path.name.endswith(".gz") else bytes(data))
    return path


def ct_voxels(shape: tuple[int, int, int] = (24, 20, 6), seed: int = 0) -> np.ndarray:
    """int16 Hounsfield units: air (-1000) around a body of soft tissue, some noise."""
    rng = np.random.default_rng(seed)
    x, y = np.mgrid[: shape[0], : shape[1]]
    body = (x - shape[0] / 2) ** 2 / (shape[0] / 3) ** 2 + (y - shape[1] / 2) ** 2 / (
        shape[1] / 3
    ) ** 2 < 1
    voxels = np.where(body[..., None], 40, -1000) + rng.integers(-20, 20, shape)
    return voxels.astype(np.int16)


def label_voxels(shape: tuple[int, int, int] = (24, 20, 6), seed: int = 1) -> np.ndarray:
    """uint8 class ids 0, 1, 2 at random: every voxel labelled, no flip or turn alike."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, shape).astype(np.uint8)


def radiological(canonical: np.ndarray, k: int) -> np.ndarray:
    """Slice ``k`` of an array in RAS+ order as shown: anterior at the top, the
    patient's right on the image's left."""
    return canonical[::-1, ::-1, k].T
