"""Where the open image lies when it is a slice of a stack: its slice number, and for a
NIfTI scan the file's voxel under the cursor and its position, for the status bar
(voxel indices as NIfTI viewers give them, the position in RAS as 3D Slicer does; ADR 0034)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotator.core.volumes import VoxelLocator
from annotator.storage.stacks import SliceIndex

if TYPE_CHECKING:
    from annotator.core.records import ImageRecord
    from annotator.storage.project import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlicePlace:
    """Slice ``index`` (from 0, as the slice files are numbered: ``_z012``) of a stack
    of ``planes``; ``locator``: the scan's voxels, for a slice of a NIfTI scan."""

    index: int
    planes: int
    locator: VoxelLocator | None = None

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
    locator = None
    if where.volume is not None:
        try:
            locator = VoxelLocator.of(where.volume)
        except (KeyError, TypeError, ValueError) as exc:  # a damaged record: no voxels
            log.warning("the volume record of %s is damaged: %s", where.stack, exc)
    return SlicePlace(where.index, where.planes, locator)
