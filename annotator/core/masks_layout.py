"""The class files of Annotator's own masks layout, one writer for both folders that
use it: a masks export (``formats/masks.py``) and Kept Labels (``storage/kept_labels.py``).

``class_names.txt`` lists the classes, line i = class id i; ``dataset.json`` records
the format, the values of void and unlabelled, and the classes again, so that a reader
(the masks import, ``annotator bench``) takes the list as written instead of guessing
its form from its content (``formats/colour_table.py``: ``own_class_list``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

#: The ``"format"`` of the layout's ``dataset.json``.
MASKS_FORMAT = "annotator-masks"
#: The class list, line i = class id i.
CLASS_NAMES = "class_names.txt"
#: The layout's record of its classes and reserved values.
DATASET_JSON = "dataset.json"


def class_files(names: Sequence[str], void: int, unlabelled: int) -> dict[str, bytes]:
    """The two class files of a masks folder of ``names``, by file name."""
    meta = {"format": MASKS_FORMAT, "void": void, "unlabelled": unlabelled, "classes": list(names)}
    text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False) + "\n"
    return {
        CLASS_NAMES: "".join(n + "\n" for n in names).encode("utf-8"),
        DATASET_JSON: text.encode("utf-8"),
    }


def is_masks_meta(meta: Any) -> bool:
    """Whether ``meta``, a ``dataset.json`` read, is this layout's."""
    return isinstance(meta, dict) and meta.get("format") == MASKS_FORMAT
