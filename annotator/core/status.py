"""Per-image labelling status."""

from enum import StrEnum


class ImageStatus(StrEnum):
    """Where an image is in the labelling workflow."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"


#: The file of a Kept Labels or Rescued Labels folder (a masks dataset the project wrote
#: itself) that names, per mask file (``masks/<file>``), the image it holds the labels
#: of: ``{"image": name, "sha1": SHA-1 of its picture, "status": its status}``. Written
#: by ``storage/kept_labels.py``, read by the masks import (``formats/masks.py``), which
#: then finds each image by its picture and gives it back that status.
KEPT_IMAGES_FILE = "images.json"
#: Its ``"format"``: a file of that name written by anything else is not read.
KEPT_IMAGES_FORMAT = "annotator-kept-labels"
#: The ``"format"`` of the ``images.json`` that ``annotator predict --out`` writes beside
#: its masks (their names are flat: ``a/x.png`` and ``b/x.png`` give ``x.png`` and
#: ``x~2.png``): per mask file, its image's name, picture file and the SHA-1 of its
#: picture, which the masks import reads to find each image (no status: an import makes
#: the images it labels done, as usual).
PREDICTED_IMAGES_FORMAT = "annotator-predicted-masks"


def status_after_save(status: ImageStatus, labelled: bool) -> ImageStatus:
    """The status saving an image's labels gives it (``status``: its status before):
    a new image with a labelled pixel is in progress, and so is a done one whose labels
    were all erased (done with nothing labelled is what marking done refuses: such an
    image trained nothing and N skipped it); any other keeps its status (an image in
    progress whose labels were all erased stays in progress)."""
    if status is ImageStatus.NEW and labelled:
        return ImageStatus.IN_PROGRESS
    if status is ImageStatus.DONE and not labelled:
        return ImageStatus.IN_PROGRESS
    return status
