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
    """The current UTC time as an ISO 8601 string, to the microsecond.

    Times order events: training weighs the images labelled after the parent version
    was made (``updated_at > created_at``). To the second, a save and a publication in
    the same second compared by chance, so two runs of the benchmark could differ.
    Strings written before (to the second) still compare in time order, to the second.
    Show ``[:19]`` to people.
    """
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ImageScore:
    """An image's id and score alone: all that ranking the images to label needs
    (``Project.image_scores``), without reading whole records."""

    id: int
    score: float | None


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
    #: The file's size in bytes and the time it last changed (the later of ``st_mtime_ns``
    #: and ``st_ctime_ns``: a rename moves the latter) when its content was last found to
    #: have ``sha1`` (``None``: unknown); while they are unchanged, loading the image needs
    #: no hashing (``Project.load_image``).
    file_size: int | None = None
    file_mtime_ns: int | None = None

    @property
    def stem(self) -> str:
        """The file name without folder and suffix (used to match masks and exports)."""
        return PurePath(self.name).stem

    def with_score(self, score: float | None) -> ImageRecord:
        """This record with another score: ``dataclasses.replace(self, score=score)``
        without its keyword-by-keyword ``__init__`` nor ``copy.copy``'s reduce protocol
        (20 and 5 against 1 us: the image list takes thousands of scores from one
        ranking)."""
        fields = self.__dict__.copy()
        fields["score"] = score
        new = object.__new__(type(self))
        object.__setattr__(new, "__dict__", fields)
        return new


@dataclass(frozen=True)
class ModelRecord:
    """One published model version: where its checkpoint is and what its card says."""

    version: int
    parent: int | None
    created_at: str
    checkpoint: str
    card: ModelCard
