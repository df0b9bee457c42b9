"""Where the voxels of a volume lie: the geometry a volume file (NIfTI) is written with.

A Stack's slices are pictures: each an array of rows and columns, numbered in the
stack's order. A volume file holds one array and an affine (voxel index -> position).
One convention for every volume the project writes (docs/adr/0035):

* picture **column** -> the file's first axis (NIfTI ``i``, x),
* picture **row** -> its second axis (``j``, y),
* **slice** number -> its third axis (``k``, z),

so ``data[i, j, k] == slices[k][j, i]``: the array nibabel returns, transposed, is the
stack as numpy holds it (``(slices, rows, columns)`` is ``data.transpose(2, 1, 0)``), and
SimpleITK's ``GetArrayFromImage`` (what nnU-Net reads NIfTI with) gives exactly that.

A geometry may also say that the file's axes are the picture's in another order or
direction (``orientation``): a stack split from a volume file of its own (a NIfTI
read into slices in picture orientation) is written back in the file's own layout, with
the file's own affine. No I/O here, no nibabel: plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The picture axes in the order of :attr:`VolumeGeometry.orientation`.
PICTURE_AXES = ("column", "row", "slice")

#: Unit names a NIfTI header can record (``xyzt_units``); any other unit is kept as
#: numbers only.
NIFTI_UNITS = ("mm", "micron", "meter")

_IDENTITY_ORIENTATION = ((0, 1), (1, 1), (2, 1))


@dataclass(frozen=True)
class VolumeGeometry:
    """How a volume's voxels lie in space.

    ``affine``: the file's voxel index ``(i, j, k, 1)`` -> position (4 x 4, row by row),
    as nibabel's ``affine``. ``orientation``: for each picture axis (column, row, slice:
    :data:`PICTURE_AXES`) the file axis it becomes and ``1``, or ``-1`` when it runs the
    other way there (nibabel's orientation array, the one ``apply_orientation`` takes);
    the identity for a TIFF stack. ``unit``: of the affine's lengths, one of
    :data:`NIFTI_UNITS` or ``""`` (not recorded). ``source``: where the geometry comes
    from, in words for the export's summary. ``measured``: the sizes are the volume's
    own (False: voxels of 1, since nothing recorded them). ``scan``: the geometry is a
    volume file's own space (a NIfTI scan split into slices), not a size a stack of
    pictures recorded: an export keeps it whatever the other volumes record.
    """

    affine: tuple[tuple[float, float, float, float], ...]
    orientation: tuple[tuple[int, int], ...] = _IDENTITY_ORIENTATION
    unit: str = ""
    source: str = ""
    measured: bool = True
    scan: bool = False

    def __post_init__(self) -> None:
        a = np.asarray(self.affine, dtype=float)
        if a.shape != (4, 4) or not np.isfinite(a).all():
            raise ValueError(f"a volume's affine is 4 x 4 finite numbers, not {self.affine!r}")
        axes = sorted(axis for axis, _ in self.orientation)
        if axes != [0, 1, 2] or any(flip not in (1, -1) for _, flip in self.orientation):
            raise ValueError(f"not an orientation of three axes: {self.orientation!r}")
        if self.unit not in ("", *NIFTI_UNITS):
            raise ValueError(f"unit {self.unit!r}: use one of {', '.join(NIFTI_UNITS)} or ''")

    @classmethod
    def of_voxel_size(
        cls,
        size: Sequence[float] = (1.0, 1.0, 1.0),
        unit: str = "",
        source: str = "",
        measured: bool = True,
    ) -> VolumeGeometry:
        """The geometry of a stack of pictures whose voxels measure ``size`` (column,
        row, slice): the file's axes are the picture's, the first voxel at the origin.

        The affine is ``diag(-x, -y, z)``, what SimpleITK writes for an array of
        identity direction (ITK's LPS+ space in NIfTI's RAS+): read back as a scan
        (``core.volumes``, any viewer), column 0 is on the left and row 0 at the top,
        the pictures as they were. With ``diag(x, y, z)`` they came back turned by 180
        degrees."""
        x, y, z = (float(v) for v in size)
        if not all(math.isfinite(v) and v > 0 for v in (x, y, z)):
            raise ValueError(f"a voxel size is three positive numbers, not {tuple(size)!r}")
        affine = (
            (-x, 0.0, 0.0, 0.0),
            (0.0, -y, 0.0, 0.0),
            (0.0, 0.0, z, 0.0),
            (0.0, 0.0, 0.0, 1.0),
        )
        return cls(affine, _IDENTITY_ORIENTATION, unit, source, measured)

    @classmethod
    def unmeasured(cls, source: str = "") -> VolumeGeometry:
        """Voxels of 1 x 1 x 1, no unit: a volume whose size nothing recorded."""
        return cls.of_voxel_size(source=source, measured=False)

    @property
    def matrix(self) -> np.ndarray:
        """The affine as a 4 x 4 float array."""
        return np.asarray(self.affine, dtype=float)

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """The length of a step along each picture axis (column, row, slice)."""
        lengths = np.linalg.norm(self.matrix[:3, :3], axis=0)  # per file axis
        return tuple(float(lengths[axis]) for axis, _ in self.orientation)  # type: ignore[return-value]

    def describe(self) -> str:
        """``"0.5 x 0.5 x 2 micron"`` (column, row, slice)."""
        size = " x ".join(f"{v:g}" for v in self.voxel_size)
        return f"{size} {self.unit}".strip()


#: A stack no one measured: voxels of 1 x 1 x 1.
UNIT_VOXELS = VolumeGeometry.unmeasured()
