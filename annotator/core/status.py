"""Per-image labelling status."""

from enum import StrEnum


class ImageStatus(StrEnum):
    """Where an image is in the labelling workflow."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"


def status_after_save(status: ImageStatus, labelled: bool) -> ImageStatus:
    """The status saving an image's labels gives it (``status``: its status before):
    a new image with a labelled pixel is in progress; any other keeps its status (an
    image in progress whose labels were all erased stays in progress)."""
    if status is ImageStatus.NEW and labelled:
        return ImageStatus.IN_PROGRESS
    return status
