"""A proposal's pixels with no class (nodata, ADR 0029) are drawn transparent."""

from __future__ import annotations

import numpy as np

from annotator.core.proposal import NO_CLASS
from annotator.gui.proposal_layers import TRANSPARENT, proposal_codes


def test_no_class_is_neither_hatched_nor_outlined():
    mask = np.zeros((24, 24), np.uint8)
    mask[:, 12:] = 1
    mask[:8] = NO_CLASS  # the collar of a reprojected tile
    codes = proposal_codes(mask, 2)
    assert (codes[:8] == TRANSPARENT).all()  # old code: stripes of code 1 (255 + 2 wrapped)
    assert (codes[8, :11] == 0).all()  # the class beside it is outlined
    assert (codes[10:, :10] != TRANSPARENT).any()  # and hatched
