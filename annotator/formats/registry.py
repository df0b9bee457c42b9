"""The formats the CLI and the GUI offer, by name, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from annotator.core.errors import FormatError
from annotator.formats import coco, labelme, labelstudio, masks, nnunet, voc, yolo
from annotator.formats.base import (
    ExportDataset,
    ExportOptions,
    ImportOptions,
    Progress,
    ReadResult,
    WriteResult,
)

Reader = Callable[[Path, ImportOptions], ReadResult]
Writer = Callable[[Path, ExportDataset, ExportOptions, "Progress | None"], WriteResult]


@dataclass(frozen=True)
class FormatSpec:
    """One interchange format: its reader and writer (None when not supported), and the
    reserved value its files cannot hold: ``"unlabelled"`` (written as void, VOC's one
    ignore value) or ``"void"`` (left out, so read back unlabelled)."""

    name: str
    reader: Reader | None
    writer: Writer | None
    description: str
    loses: str | None = None

    @property
    def can_import(self) -> bool:
        return self.reader is not None

    @property
    def can_export(self) -> bool:
        return self.writer is not None


FORMATS: dict[str, FormatSpec] = {
    "voc": FormatSpec("voc", voc.read_voc, voc.write_voc, voc.DESCRIPTION, "unlabelled"),
    "masks": FormatSpec("masks", masks.read_masks, masks.write_masks, masks.DESCRIPTION),
    "coco": FormatSpec("coco", coco.read_coco, coco.write_coco, coco.DESCRIPTION, "void"),
    "labelme": FormatSpec(
        "labelme", labelme.read_labelme, labelme.write_labelme, labelme.DESCRIPTION
    ),
    "yolo": FormatSpec("yolo", yolo.read_yolo, yolo.write_yolo, yolo.DESCRIPTION, "void"),
    "nnunet": FormatSpec("nnunet", None, nnunet.write_nnunet, nnunet.DESCRIPTION),
    "labelstudio": FormatSpec(
        "labelstudio", labelstudio.read_labelstudio, None, labelstudio.DESCRIPTION
    ),
}


#: The formats' names as people write them, for the GUI's words (the CLI's are the keys).
TITLES = {
    "voc": "VOC",
    "masks": "masks",
    "coco": "COCO",
    "labelme": "labelme",
    "yolo": "YOLO",
    "nnunet": "nnU-Net",
    "labelstudio": "Label Studio",
}


def format_title(name: str) -> str:
    """A format's name as people write it (``COCO`` for ``coco``)."""
    return TITLES.get(name, name)


def export_formats() -> list[str]:
    return [n for n, f in FORMATS.items() if f.can_export]


def import_formats() -> list[str]:
    return [n for n, f in FORMATS.items() if f.can_import]


def get_format(name: str, *, for_import: bool = False) -> FormatSpec:
    """The spec of a format, or a FormatError listing the choices."""
    spec = FORMATS.get(name.lower())
    choices = import_formats() if for_import else export_formats()
    if spec is None or name.lower() not in choices:
        verb = "import" if for_import else "export"
        raise FormatError(f"unknown {verb} format {name!r}; choose from {', '.join(choices)}")
    return spec
