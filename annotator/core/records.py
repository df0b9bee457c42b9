"""Plain records of what a project holds: its images and its model versions.

They live in ``core`` (not in ``storage``, which builds them from database rows) so that
every layer, the GUI and the CLI included, can pass them around without importing the
project store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

from annotator.core.card import ModelCard
from annotator.core.status import ImageStatus


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ImageRecord:
    """One image as the project knows it."""

    id: int
    name: str
    path: str
    sha1: str
    width: int
    height: int
    channels: int
    bit_depth: int
    status: ImageStatus
    label_source: str
    labelled_pixels: int
    score: float | None
    added_at: str
    updated_at: str

    @property
    def stem(self) -> str:
        """The file name without folder and suffix (used to match masks and exports)."""
        return PurePath(self.name).stem


@dataclass(frozen=True)
class ModelRecord:
    """One published model version: where its checkpoint is and what its card says."""

    version: int
    parent: int | None
    created_at: str
    checkpoint: str
    card: ModelCard
