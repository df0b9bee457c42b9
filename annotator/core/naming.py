"""Which mask file belongs to which picture, when their names are not the same.

Datasets name the mask of ``cell_012.png`` in many ways: ``cell_012.png`` in a folder of
its own (ISBI, CamVid as shipped here, an Annotator export), but also
``cell_012_mask.png``, ``cell_012_label.png``, ``0001TP_006690_L.png`` (CamVid's own),
``aachen_000000_000019_gtFine_labelIds.png`` beside ``..._leftImg8bit.png``
(Cityscapes). A file's **pair base** is its stem without one such ending, in any case.
A mask whose stem is no picture's is matched to the picture of the same pair base, when
that base names exactly one picture and one mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

#: Endings that say which file of a pair a file is (compared in lower case); the longest
#: that fits is taken off, once.
PAIR_ENDINGS = (
    "_gtfine_labelids",
    "_gtfine_labeltrainids",
    "_labeltrainids",
    "_labelids",
    "_leftimg8bit",
    "_segmentation",
    "_annotations",
    "_annotation",
    "_labels",
    "_label",
    "_masks",
    "_mask",
    "_image",
    "_seg",
    "_img",
    "_gt",
    "-mask",
    "-label",
    "_l",
    "_p",
)

T = TypeVar("T")
U = TypeVar("U")


def pair_base(stem: str) -> str:
    """``stem`` in lower case without its pair ending, if it has one."""
    low = stem.lower()
    for ending in sorted(PAIR_ENDINGS, key=len, reverse=True):
        if low.endswith(ending) and len(low) > len(ending):
            return low[: -len(ending)]
    return low


def pair_masks(images: Mapping[str, T], masks: Mapping[str, U]) -> dict[str, U]:
    """Each picture's mask, by picture stem: the mask of the same stem, else the one mask
    of the same pair base (when the base names one picture left and one mask left)."""
    paired = {stem: masks[stem] for stem in images if stem in masks}
    left_images = [s for s in images if s not in paired]
    left_masks = [s for s in masks if s not in images]
    used: set[str] = set()
    if not left_images or not left_masks:
        return paired
    by_base: dict[str, list[str]] = {}
    for stem in left_masks:
        by_base.setdefault(pair_base(stem), []).append(stem)
    # A mask's base is matched to a picture's whole stem first (t0_img_mask.png is
    # t0_img.png's), then to a picture's own base (x_gtFine_labelIds: x_leftImg8bit).
    for key in (str.lower, pair_base):
        image_keys: dict[str, list[str]] = {}
        for stem in left_images:
            if stem not in paired:
                image_keys.setdefault(key(stem), []).append(stem)
        for base, stems in image_keys.items():
            found = [m for m in by_base.get(base, []) if m not in used]
            if len(stems) == 1 and len(found) == 1:
                paired[stems[0]] = masks[found[0]]
                used.add(found[0])
    return paired
