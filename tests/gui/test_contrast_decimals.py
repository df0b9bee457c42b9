"""The contrast dialog's boxes show a float picture's window as it is: one decimal
showed reflectance windows of 0.150/0.202/0.250 as 0.1/0.2/0.3 (and set them so)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.gui.contrast import ContrastDialog

#: The audit's reflectance picture: nodata -9999 in the channels' range, windows ~0.15..0.25.
AUDIT_WINDOWS = [
    (-9999.0, 0.14978893168270577),
    (-9999.0, 0.20159405268728717),
    (-9999.0, 0.250071714669466),
]
AUDIT_RANGES = [(-9999.0, 0.176), (-9999.0, 0.238), (-9999.0, 0.286)]


def _shown(spin) -> float:
    return float(spin.text().replace(",", "."))


@pytest.mark.parametrize(
    ("windows", "ranges"),
    [
        (AUDIT_WINDOWS, AUDIT_RANGES),
        # float32 reflectances, a range of 0..1 (each end a float32's nearest double)
        (
            [
                tuple(float(np.float32(v)) for v in w)
                for w in ((0.05, 0.150), (0.1, 0.202), (0.0, 0.250))
            ],
            [(0.0, 1.0)] * 3,
        ),
        ([(0.00012, 0.00345)], [(0.0, 0.004)]),  # a small range
        ([(1000.0, 1400.0)], [(0.0, 65535.0)]),  # 16 bit
    ],
)
def test_the_boxes_show_the_window(qtbot, windows, ranges):
    dialog = ContrastDialog()
    qtbot.addWidget(dialog)
    dialog.set_windows(windows, ranges)
    for (_, low, high), window in zip(dialog.rows, windows, strict=False):
        for spin, value in zip((low, high), window, strict=True):
            assert _shown(spin) == pytest.approx(value, rel=1e-4, abs=1e-12), spin.text()
            assert spin.value() == pytest.approx(value, rel=1e-4, abs=1e-12)
    for got, want in zip(dialog.windows(), windows, strict=True):
        assert got == pytest.approx(want, rel=1e-4)


def test_a_window_of_round_values_gets_no_needless_decimals():
    from annotator.gui.contrast import spin_decimals

    assert spin_decimals((float(np.float32(0.15)), float(np.float32(0.25))), (0.0, 1.0)) == 3
    assert spin_decimals((0.0, 255.0), (0.0, 255.0)) == 1
    assert spin_decimals((-9999.0, 0.14978893168270577), (-9999.0, 0.176)) == 4
