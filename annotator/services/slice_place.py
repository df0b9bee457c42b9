"""Where the open image lies when it is a slice of a stack: its slice number, and for a
NIfTI scan the file's voxel under the cursor and its position, for the status bar
(voxel indices as NIfTI viewers give them, the position in RAS as 3D Slicer does; ADR 0034),
and the shape of its pixels, for the canvas (a display setting: the labels stay a pixel
per voxel)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotator.core.volumes import VoxelLocator, pixel_aspect, pixel_sides
from annotator.storage.stacks import SliceIndex

if TYPE_CHECKING:
    from annotator.core.records import ImageRecord
    from annotator.storage.project import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlicePlace:
    """Slice ``index`` (from 0, as the slice files are numbered: ``_z012``) of a stack
    of ``planes``; ``locator``: the scan's voxels, for a slice of a NIfTI scan;
    ``sides``: its pixels' sides (across, down; the voxel's in the slice's plane)."""

    index: int
    planes: int
    locator: VoxelLocator | None = None
    sides: tuple[float, float] | None = None

    @property
    def pixel_aspect(self) -> tuple[float, float]:
        """How much the canvas stretches the slice across and down so that its pixels
        show at their voxels' shape (0.5 x 1 mm: ``(1, 2)``); ``(1, 1)``: square."""
        return (1.0, 1.0) if self.sides is None else pixel_aspect(*self.sides)

    def voxel_text(self, x: int, y: int) -> str:
        """``"voxel 120, 423, 12  RAS -12.5, 33.0, 80.0 mm"``: the file's voxel index
        (from 0) under pixel (x, y) and its position by the file's affine; "" for a
        slice of a TIFF stack."""
        if self.locator is None:
            return ""
        voxel = self.locator.voxel(self.index, x, y)
        where = ", ".join(f"{v:.1f}" for v in self.locator.position(voxel))
        unit = f" {self.locator.unit}" if self.locator.unit else ""
        return f"voxel {', '.join(map(str, voxel))}  RAS {where}{unit}"


def slice_place(project: Project, record: ImageRecord) -> SlicePlace | None:
    """Where the image ``record`` lies in its stack; None when it is no slice of a split
    stack (or the split's record no longer lists it)."""
    where = SliceIndex(project.root)(project.image_path(record))
    if where is None:
        return None
    locator, sides = None, None
    if where.volume is not None:
        try:
            locator = VoxelLocator.of(where.volume)
            sides = pixel_sides(where.volume)
        except (KeyError, TypeError, ValueError) as exc:  # a damaged record: no voxels
            log.warning("the volume record of %s is damaged: %s", where.stack, exc)
    return SlicePlace(where.index, where.planes, locator, sides)
