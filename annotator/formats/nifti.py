"""NIfTI files written from pictures and stacks of slices (nibabel).

One function writes every volume (:func:`nifti_bytes`): the slices as the project holds
them (picture orientation: rows, columns) and a :class:`~annotator.core.volume_geometry.VolumeGeometry`
saying where the voxels lie. Pictures and their labels go through it alike, so an image
file and its label file always share their array layout and affine. The axis convention
is the geometry module's: picture column -> x (the file's first axis), row -> y, slice
-> z (docs/adr/0035).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import numpy as np

from annotator.core.errors import FormatError
from annotator.core.volume_geometry import UNIT_VOXELS, VolumeGeometry

#: NIfTI's integer and float types (nibabel writes these); others are widened.
_STORED = {
    np.dtype(t)
    for t in (
        np.uint8,
        np.int8,
        np.uint16,
        np.int16,
        np.uint32,
        np.int32,
        np.uint64,
        np.int64,
        np.float32,
        np.float64,
    )
}

#: gzip level of ``.nii.gz`` (nibabel's own default: fast, most of the gain).
GZIP_LEVEL = 1


def nifti_bytes(
    slices: Sequence[np.ndarray], geometry: VolumeGeometry = UNIT_VOXELS, *, planar: bool = False
) -> bytes:
    """The ``.nii.gz`` bytes of the volume whose slices (each ``(rows, columns)``, one
    channel, all of one size and type) are ``slices``, in order.

    The array stored is ``data[i, j, k] = slices[k][j, i]`` turned as
    ``geometry.orientation`` says (the identity for a TIFF stack), with
    ``geometry.affine`` as both its qform and sform. ``planar``: one slice written as a
    2-D image (two axes: column, row), which nnU-Net reads as a 2-D case.
    """
    from nibabel import Nifti1Image
    from nibabel.orientations import apply_orientation

    if not slices:
        raise FormatError("a volume needs at least one slice")
    shape = slices[0].shape
    if any(s.ndim != 2 or s.shape != shape for s in slices):
        raise FormatError(
            f"the slices of a volume must be single-channel and of one size, not "
            f"{sorted({s.shape for s in slices})}"
        )
    if planar and len(slices) != 1:
        raise FormatError(f"a 2-D NIfTI holds one slice, not {len(slices)}")
    data = np.stack([_stored(s) for s in slices], axis=-1)  # (rows, columns, slices)
    data = data.transpose(1, 0, 2)  # (columns, rows, slices): i, j, k
    if planar:
        data = data[:, :, 0]
    else:
        data = apply_orientation(data, np.asarray(geometry.orientation))
    affine = geometry.matrix
    # (nibabel refuses 64-bit integers unless told the type: NIfTI holds them, and
    # numpy's default integer is one, so a picture written by numpy often is)
    image = Nifti1Image(np.ascontiguousarray(data), affine, dtype=data.dtype)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units(xyz=geometry.unit or "unknown")
    return gzip.compress(image.to_bytes(), compresslevel=GZIP_LEVEL, mtime=0)


def _stored(array: np.ndarray) -> np.ndarray:
    """``array`` in a type NIfTI stores: bool as uint8, float16 as float32."""
    if array.dtype in _STORED:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    raise FormatError(f"NIfTI cannot hold pixels of type {array.dtype}")
