"""NIfTI volumes (``.nii``, ``.nii.gz``): read as the slices of a Stack, and a label
volume written back in the file's own voxel order (ADR 0034).

A volume's voxels are reoriented to the closest canonical RAS+ order (nibabel's
``io_orientation`` and ``apply_orientation``: array axis 0 towards the patient's right,
1 anterior, 2 superior) and cut in the plane the scan was acquired in (:func:`plane_of`:
through the file's thickest axis, or its third when the voxels are cubes), each slice
shown as radiologists read it, both its axes reversed from the canonical ones:

* **axial** (through S): ``C[::-1, ::-1, k].T``, anterior at the top, the patient's
  right on the image's left;
* **coronal** (through A): ``C[::-1, k, ::-1].T``, superior at the top, the patient's
  right on the image's left;
* **sagittal** (through R): ``C[k, ::-1, ::-1].T``, superior at the top, anterior on the
  image's left;

for the canonical array ``C``. What undoes it exactly is its :func:`geometry` record
(kept in the split's ``source.json``): the file's shape, the orientation transform, the
plane, the voxel spacing, the affine and the file's header, from which
:func:`label_volume_bytes` writes a label volume that lines up voxel for voxel with the
file it came from. A record without a plane (written before planes were chosen) is
axial, as its slices were cut.

Voxel values keep their type (int16 CT with its negative Hounsfield units stays int16);
a header that scales them (``scl_slope``, ``scl_inter`` other than 1 and 0) gives
float32 values, scaled. nibabel is imported inside the functions, as scikit-image is
in ``core.smart``: the numbers are all here, the files are the callers'.
"""

from __future__ import annotations

import base64
import gzip
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from annotator.core import limits
from annotator.core.errors import ImageReadError
from annotator.core.volume_geometry import NIFTI_UNITS, VolumeGeometry

#: The ``format`` of a NIfTI volume's :func:`geometry` record.
NIFTI = "nifti"

#: The planes a volume is cut in, by the canonical (RAS+) axis they are cut through.
PLANES = ("sagittal", "coronal", "axial")

#: Per canonical axis cut through: the canonical axes of the pictures' rows and columns
#: (both run backwards: the module's docstring).
_IN_PLANE = {0: (2, 1), 1: (2, 0), 2: (1, 0)}

#: Per canonical axis cut through: nibabel's axis codes of the pictures' column, row and
#: slice (what :func:`picture_geometry` transforms from).
_PICTURE_CODES = {0: ("P", "I", "R"), 1: ("L", "I", "A"), 2: ("L", "P", "S")}

#: Voxel sides within this part of the thickest count as as thick (a volume of cubes
#: rounded in float32, or a label volume on its picture volume's grid: one plane).
SPACING_TOLERANCE = 1e-2

#: How far two affines may differ, per element, in parts of the smallest voxel side and
#: still be one grid (float32 rounding of a qform is some 1e-6 of it).
AFFINE_TOLERANCE = 1e-3


def is_nifti(path: PurePath | str) -> bool:
    """Whether a file's name is a NIfTI volume's (``.nii`` or ``.nii.gz``, any case)."""
    return str(path).lower().endswith(limits.VOLUME_SUFFIXES)


@dataclass(frozen=True)
class VolumeHeader:
    """What a NIfTI file's header says of the slices it is cut into: their count and
    size (``height`` x ``width``), and the type their pixels are read in."""

    planes: int
    height: int
    width: int
    dtype: np.dtype[Any]


def _load(path: Path) -> Any:
    """The file opened by nibabel (nothing decoded yet); one-line errors."""
    import nibabel as nib

    if not path.is_file():
        raise ImageReadError(path, "no such file")
    try:
        image = nib.load(path, mmap=False)
    except Exception as exc:  # nibabel raises many kinds for broken files
        why = _why(exc)
        if "not a gzip file" in why:  # (a plain .nii named .nii.gz)
            why = "it is not gzip-compressed: if it is a plain .nii file, rename it to .nii"
        raise ImageReadError(path, f"corrupt or unsupported NIfTI file ({why})") from None
    if not isinstance(image, nib.Nifti1Image):  # (Nifti2Image is one)
        raise ImageReadError(path, f"not a NIfTI volume (read as {type(image).__name__})")
    return image


def _why(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


def _spatial_shape(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The three spatial lengths of a file of ``shape``: a 2-D file is one slice, a
    4-D or 5-D one whose further lengths are all 1 is 3-D; any other is refused."""
    if len(shape) < 2:
        raise ImageReadError(path, f"a {len(shape)}-D NIfTI file holds no picture")
    extra = shape[3:]
    if any(n != 1 for n in extra):
        what = "time points or channels" if len(extra) == 1 else "time points and channels"
        size = "x".join(map(str, shape))
        raise ImageReadError(
            path,
            f"a {len(shape)}-D NIfTI volume ({size}: {'x'.join(map(str, extra))} {what}) is "
            "not read; save each as a 3-D file (fslsplit, or nibabel's four_to_three) and "
            "add those",
        )
    x, y = shape[0], shape[1]
    z = shape[2] if len(shape) > 2 else 1
    if min(x, y, z) <= 0:
        raise ImageReadError(path, f"a NIfTI volume of no voxels ({'x'.join(map(str, shape))})")
    return int(x), int(y), int(z)


def _slope_inter(image: Any) -> tuple[float, float] | None:
    """The header's scaling of the stored values (``scl_slope``, ``scl_inter``: nibabel
    moves them from the header it loads to the image's data), or None when it scales
    nothing."""
    slope = float(getattr(image.dataobj, "slope", 1.0))
    inter = float(getattr(image.dataobj, "inter", 0.0))
    return None if (slope, inter) == (1.0, 0.0) else (slope, inter)


def _value_type(path: Path, image: Any) -> np.dtype[Any]:
    """The type the slices' pixels are read in: the stored one (native byte order), or
    float32 when the header scales the values."""
    stored = np.dtype(image.header.get_data_dtype())
    if stored.fields is not None or stored.kind not in "uif":
        kind = "RGB" if stored.fields is not None else str(stored)
        raise ImageReadError(
            path, f"NIfTI voxels of type {kind} are not read; save the volume as grey values"
        )
    if _slope_inter(image) is not None:
        return np.dtype(np.float32)
    return stored.newbyteorder("=")


def volume_header(path: str | PurePath) -> VolumeHeader:
    """The slices the NIfTI file at ``path`` is cut into, from its header alone;
    :class:`ImageReadError` for a file that is damaged, of more than three dimensions
    that are not 1, of a voxel type not read (RGB, complex), or beyond the limits of a
    slice's pixels (``ANNOTATOR_MAX_PIXELS``) and of a stack's bytes
    (:data:`~annotator.core.limits.MAX_STACK_BYTES`)."""
    p = Path(path)
    image = _load(p)
    return _header_of(p, image)


def _header_of(path: Path, image: Any) -> VolumeHeader:
    x, y, z = _spatial_shape(path, tuple(int(n) for n in image.shape))
    dtype = _value_type(path, image)
    ornt = _orientation(image.affine)
    planes, height, width = _cut_shape((x, y, z), ornt, plane_of((x, y, z), image.affine, ornt))
    limit = limits.max_pixels()
    if width * height > limit:
        raise ImageReadError(
            path,
            f"its slices are {width}x{height} = {width * height:,} pixels, more than the limit "
            f"of {limit:,}; set ANNOTATOR_MAX_PIXELS to allow it",
        )
    size = x * y * z * dtype.itemsize
    if size > limits.MAX_STACK_BYTES:
        raise ImageReadError(
            path,
            f"the volume of {planes} slices is {size / 2**30:.1f} GiB, more than the "
            f"{limits.MAX_STACK_BYTES / 2**30:.0f} GiB split here at once; save it in parts "
            "(fslroi, or nibabel's slicer) and add those",
        )
    return VolumeHeader(planes, height, width, dtype)


def plane_of(shape: tuple[int, int, int], affine: np.ndarray, ornt: np.ndarray) -> int:
    """The canonical (RAS+) axis a volume of array ``shape`` and ``affine`` (``ornt``:
    its :func:`_orientation`) is cut through: that of the plane it was acquired in. The
    file's array axis of one plane when it has one (a 2-D file: the third); else its
    thickest (the largest voxel side of the affine, those within
    :data:`SPACING_TOLERANCE` of it as thick), the third of those when it is one of them
    (cubes: the file's slices as stored), else the last. 0: sagittal, 1: coronal, 2:
    axial (:data:`PLANES`). A label volume on its picture volume's grid (the same shape,
    the affine within :data:`AFFINE_TOLERANCE`) is so cut in the same plane."""
    flat = [axis for axis in range(3) if shape[axis] == 1]
    if flat:
        candidates = flat
    else:
        sides = np.linalg.norm(np.asarray(affine, dtype=float)[:3, :3], axis=0)
        thickest = float(sides.max())
        candidates = [a for a in range(3) if sides[a] >= thickest * (1 - SPACING_TOLERANCE)]
    axis = 2 if 2 in candidates else candidates[-1]
    return int(ornt[axis][0])


def _cut_shape(shape: tuple[int, int, int], ornt: np.ndarray, plane: int) -> tuple[int, int, int]:
    """``(slices, height, width)`` of a volume of array ``shape`` reoriented by ``ornt``
    and cut through canonical axis ``plane``."""
    canonical = [0, 0, 0]
    for axis, (to, _) in enumerate(ornt):
        canonical[int(to)] = shape[axis]
    rows, columns = _IN_PLANE[plane]
    return canonical[plane], canonical[rows], canonical[columns]


def _orientation(affine: np.ndarray) -> np.ndarray:
    """nibabel's ``io_orientation`` of ``affine``: per array axis, the RAS+ axis it runs
    along and whether it runs backwards (-1)."""
    from nibabel.orientations import io_orientation

    return np.asarray(io_orientation(affine), dtype=np.int64)


def read_volume(path: str | PurePath) -> tuple[np.ndarray, dict[str, Any]]:
    """The slices of the NIfTI volume at ``path`` as one ``(slices, height, width)``
    array in the pictures' orientation (see the module's docstring), in the voxels' own
    type (float32 when the header scales them), and its :func:`geometry` record.
    :class:`ImageReadError` in one line when it cannot be read (:func:`volume_header`;
    a file cut short too)."""
    from nibabel.orientations import apply_orientation

    p = Path(path)
    image = _load(p)
    header = _header_of(p, image)
    shape = _spatial_shape(p, tuple(int(n) for n in image.shape))
    try:
        stored = np.asarray(image.dataobj.get_unscaled())
    except Exception as exc:  # a gzip stream or a file cut short, a header that lies
        raise ImageReadError(p, f"corrupt or truncated NIfTI file ({_why(exc)})") from None
    if stored.size != shape[0] * shape[1] * shape[2]:
        raise ImageReadError(
            p, "corrupt or truncated NIfTI file (fewer voxels than its header says)"
        )
    voxels = stored.reshape(shape)
    scaling = _slope_inter(image)
    if scaling is not None:
        slope, inter = scaling
        voxels = voxels.astype(np.float32) * np.float32(slope) + np.float32(inter)
    else:
        voxels = voxels.astype(header.dtype, copy=False)  # (native byte order)
    ornt = _orientation(image.affine)
    plane = plane_of(shape, image.affine, ornt)
    canonical = apply_orientation(voxels, ornt)
    pages = canonical.transpose(plane, *_IN_PLANE[plane])[:, ::-1, ::-1]
    return np.ascontiguousarray(pages), geometry(image, ornt)


def geometry(image: Any, ornt: np.ndarray | None = None) -> dict[str, Any]:
    """What undoes the slicing of a NIfTI ``image`` (nibabel's) exactly, as JSON: the
    file's shape, the orientation transform (per array axis: the RAS+ axis and the
    direction), the plane it is cut in (:data:`PLANES`, :func:`plane_of`), the voxel
    spacing (of the array's axes, in the file's units), the affine, and the header
    itself (base64), with its qform, sform and their codes."""
    import nibabel as nib

    if ornt is None:
        ornt = _orientation(image.affine)
    header = image.header
    shape = [int(n) for n in image.shape]
    spatial = (shape + [1, 1])[:3]
    plane = plane_of((spatial[0], spatial[1], spatial[2]), image.affine, ornt)
    return {
        "format": NIFTI,
        "nifti": 2 if isinstance(image, nib.Nifti2Image) else 1,
        "shape": shape,
        "orientation": [[int(a), int(f)] for a, f in ornt],
        "plane": PLANES[plane],
        "spacing": [float(z) for z in header.get_zooms()[:3]],
        "affine": [[float(v) for v in row] for row in image.affine],
        "header": base64.b64encode(header.binaryblock).decode("ascii"),
    }


def volume_geometry(path: str | PurePath) -> dict[str, Any]:
    """The :func:`geometry` record of the NIfTI file at ``path``, from its header."""
    p = Path(path)
    image = _load(p)
    _header_of(p, image)
    return geometry(image)


def slice_shape(record: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(slices, height, width)`` of the pictures of a volume's :func:`geometry`."""
    return _cut_shape(_record_shape(record), _record_orientation(record), _record_plane(record))


def _record_plane(record: Mapping[str, Any]) -> int:
    """The canonical axis a volume's :func:`geometry` record says it is cut through: 2
    (axial) when it names none, as every record written before planes were chosen."""
    plane = record.get("plane", "axial")
    if plane not in PLANES:
        raise ValueError(f"a plane of {', '.join(PLANES)}, not {plane!r}")
    return PLANES.index(plane)


def _record_shape(record: Mapping[str, Any]) -> tuple[int, int, int]:
    shape = [int(n) for n in record["shape"]]
    shape = shape[:3] + [1] * (3 - min(len(shape), 3))
    return shape[0], shape[1], shape[2]


def _record_orientation(record: Mapping[str, Any]) -> np.ndarray:
    ornt = np.asarray(record["orientation"], dtype=np.int64)
    if ornt.shape != (3, 2):
        raise ValueError(f"an orientation of three axes, not {ornt.tolist()}")
    return ornt


def pixel_sides(record: Mapping[str, Any]) -> tuple[float, float]:
    """The sides ``(across, down)`` of a slice's pixels: the voxel sides (the lengths of
    the affine's columns, in the file's units) along the pictures' columns and rows, of
    a volume's :func:`geometry` record. ValueError or KeyError when it is damaged."""
    ornt = _record_orientation(record)
    rows, columns = _IN_PLANE[_record_plane(record)]
    affine = np.asarray(record["affine"], dtype=float).reshape(4, 4)
    sides = np.linalg.norm(affine[:3, :3], axis=0)
    along = {int(to): axis for axis, (to, _) in enumerate(ornt)}
    return float(sides[along[columns]]), float(sides[along[rows]])


def pixel_aspect(across: float, down: float) -> tuple[float, float]:
    """How much to stretch a picture of pixels ``across`` x ``down`` (their sides) so
    that they are shown at their shape: ``(1, down / across)`` for pixels taller than
    wide, ``(across / down, 1)`` wider than tall, ``(1, 1)`` for square ones (sides
    within :data:`SPACING_TOLERANCE`, as :func:`plane_of` counts them alike) and for
    sides that are no lengths (0, negative, not finite)."""
    if not (math.isfinite(across) and math.isfinite(down) and across > 0 and down > 0):
        return 1.0, 1.0
    if min(across, down) >= max(across, down) * (1 - SPACING_TOLERANCE):
        return 1.0, 1.0
    return (1.0, down / across) if down > across else (across / down, 1.0)


def volume_voxels(pages: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """The inverse of :func:`read_volume`: ``(slices, height, width)`` pictures (labels)
    of a volume back in its file's voxel order and shape (that of its :func:`geometry`
    ``record``). ValueError when the pages are not of the volume's size."""
    from nibabel.orientations import apply_orientation, axcodes2ornt, ornt_transform

    if pages.shape != slice_shape(record):
        raise ValueError(
            f"{'x'.join(map(str, pages.shape))} pages for a volume of "
            f"{'x'.join(map(str, slice_shape(record)))}"
        )
    plane = _record_plane(record)
    canonical = pages[:, ::-1, ::-1].transpose(np.argsort([plane, *_IN_PLANE[plane]]))
    back = ornt_transform(axcodes2ornt(("R", "A", "S")), _record_orientation(record))
    voxels = apply_orientation(canonical, back)
    return np.ascontiguousarray(voxels).reshape([int(n) for n in record["shape"]])


def picture_geometry(record: Mapping[str, Any], name: str = "") -> VolumeGeometry:
    """The :class:`~annotator.core.volume_geometry.VolumeGeometry` that writes the pictures of a
    volume's slices (``core.volume_geometry``'s convention: column, row, slice) back in its file's
    voxel order, with its affine and unit: a volume written from them (nnU-Net's case
    of a NIfTI scan) lies where the scan does. ``name``: the file, for the summary.
    ValueError or KeyError when ``record`` is damaged."""
    import nibabel as nib
    from nibabel.orientations import axcodes2ornt, ornt_transform

    # read_volume's column i, row j, slice k run along these (axial: L, P, S)
    codes = _PICTURE_CODES[_record_plane(record)]
    ornt = ornt_transform(axcodes2ornt(codes), _record_orientation(record))
    kind = nib.Nifti2Header if record.get("nifti") == 2 else nib.Nifti1Header
    unit = kind(binaryblock=base64.b64decode(record["header"])).get_xyzt_units()[0]
    a = np.asarray(record["affine"], dtype=float).reshape(4, 4)
    rows = [(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in a]
    return VolumeGeometry(
        (rows[0], rows[1], rows[2], rows[3]),
        tuple((int(a), int(f)) for a, f in ornt),
        unit if unit in NIFTI_UNITS else "",
        f"the header of {name}" if name else "the NIfTI header",
    )


@dataclass(frozen=True)
class VoxelLocator:
    """Where a pixel of a volume's slice lies in its file: the voxel index ``(i, j, k)``
    of the file's own array, and the position its affine gives it (NIfTI's RAS+, in
    ``unit``; "" when the header records none), as 3D Slicer shows them.
    Made once per volume by :meth:`of` (``record``: the volume's :func:`geometry`)."""

    geometry: VolumeGeometry
    shape: tuple[int, int, int]

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> VoxelLocator:
        """ValueError or KeyError when ``record`` is damaged."""
        return cls(picture_geometry(record), _record_shape(record))

    def voxel(self, slice_index: int, x: int, y: int) -> tuple[int, int, int]:
        """The file's voxel index of pixel (``x``, ``y``) of slice ``slice_index``."""
        ijk = [0, 0, 0]
        for value, (axis, direction) in zip(
            (x, y, slice_index), self.geometry.orientation, strict=True
        ):
            ijk[axis] = value if direction > 0 else self.shape[axis] - 1 - value
        return ijk[0], ijk[1], ijk[2]

    def position(self, voxel: tuple[int, int, int]) -> tuple[float, float, float]:
        """The affine's position of ``voxel`` (the scanner's RAS+ coordinates)."""
        x, y, z, _ = self.geometry.matrix @ np.array([*voxel, 1.0])
        return float(x), float(y), float(z)

    @property
    def unit(self) -> str:
        return self.geometry.unit


def label_volume_bytes(pages: np.ndarray, record: Mapping[str, Any]) -> bytes:
    """A gzipped NIfTI file (``.nii.gz``) of the labels ``pages`` (``(slices, height,
    width)``, uint8 or uint16: page ``k`` the labels of the volume's slice ``k``) of the
    volume whose :func:`geometry` is ``record``: its voxels in the original file's order
    and shape, with the original header (its qform, sform and their codes, the spacing),
    the labels' own type, no scaling, the intent "label". What a masks export writes
    for a NIfTI stack, and what another exporter of label volumes calls."""
    import nibabel as nib

    if pages.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"labels of type {pages.dtype}, not uint8 or uint16")
    voxels = volume_voxels(pages, record)
    two = record.get("nifti") == 2
    kind = nib.Nifti2Header if two else nib.Nifti1Header
    header = kind(binaryblock=base64.b64decode(record["header"]))
    header.set_data_dtype(voxels.dtype)
    header.set_slope_inter(1.0, 0.0)
    header["cal_min"], header["cal_max"] = 0, 0
    header.set_intent("label")
    image = (nib.Nifti2Image if two else nib.Nifti1Image)(voxels, None, header=header)
    return gzip.compress(image.to_bytes(), compresslevel=6, mtime=0)


def grid_problem(
    labels: Path,
    their: Mapping[str, Any],
    picture: Path,
    its: Mapping[str, Any],
    outcome: str = "its labels were not imported",
    whose: str = "its picture volume",
) -> str | None:
    """Why the label volume ``labels`` (its :func:`geometry`: ``their``) cannot be read
    onto the slices of the picture volume ``picture`` (``its``), in one line ending in
    ``outcome`` (what became of the labels): another shape, or an affine farther than
    :data:`AFFINE_TOLERANCE` of the smallest voxel side; None when they are one grid.
    ``whose``: what ``picture`` is to ``labels`` (a case's first channel file)."""
    shape, other = _record_shape(their), _record_shape(its)
    if shape != other:
        return (
            f"{labels}: {'x'.join(map(str, shape))} voxels, but {whose} {picture} "
            f"is {'x'.join(map(str, other))}; {outcome}"
        )
    a, b = np.asarray(their["affine"], float), np.asarray(its["affine"], float)
    sides = np.linalg.norm(b[:3, :3], axis=0)
    tolerance = AFFINE_TOLERANCE * float(sides.min()) if sides.min() > 0 else AFFINE_TOLERANCE
    if not np.allclose(a, b, rtol=0.0, atol=tolerance):
        return (
            f"{labels}: its affine is not that of {whose} {picture} (the voxels "
            f"lie elsewhere, by up to {float(np.abs(a - b).max()):.3g}); {outcome}: resample "
            f"them onto the grid of {whose} first"
        )
    return None
