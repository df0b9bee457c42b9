"""Per-image labelling status."""

from enum import StrEnum


class ImageStatus(StrEnum):
    """Where an image is in the labelling workflow."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
