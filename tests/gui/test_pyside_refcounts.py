"""Guards against a Qt binding that corrupts Python's reference counts.

PySide6 6.12.0 drops a reference to ``None`` each time a ``QVariant`` holding it comes
back to Python (``QComboBox.currentData()``, ``QModelIndex.data()``); after a few
thousand the interpreter aborts ("none_dealloc"). pyproject.toml excludes that release;
this test fails on any release that brings the bug back.
"""

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtWidgets import QComboBox


class _NoneModel(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):  # noqa: B008, N802 (Qt API)
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None


def test_variants_holding_none_and_bools_keep_their_reference_counts(qtbot):
    combo = QComboBox()
    qtbot.addWidget(combo)
    combo.addItem("nothing", None)
    combo.addItem("yes", True)
    for index, value in ((0, None), (1, True)):
        combo.setCurrentIndex(index)
        before = sys.getrefcount(value)
        for _ in range(200):
            combo.currentData()
        assert sys.getrefcount(value) >= before - 5, f"QVariant({value!r}) leaks a reference"
    model = _NoneModel()
    before = sys.getrefcount(None)
    for _ in range(200):
        model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert sys.getrefcount(None) >= before - 5
