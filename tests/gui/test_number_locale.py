"""Number boxes under a locale whose decimal point is a comma: Qt took a typed '.' for
a thousands separator (a fill tolerance of 12.5 became 125, a round budget of 45.5 s
455 s), and an English locale did the same with ','."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtTest import QTest

from annotator.gui.number_boxes import DecimalBox, WholeBox


@pytest.fixture(params=[("German", "Germany"), ("English", "UnitedStates")])
def locale(request):
    before = QLocale()
    language, country = request.param
    QLocale.setDefault(QLocale(QLocale.Language[language], QLocale.Country[country]))
    yield
    QLocale.setDefault(before)


@pytest.mark.parametrize("typed", ["12.5", "12,5"])
def test_a_decimal_box_reads_either_point_as_the_decimal_point(qtbot, locale, typed):
    box = DecimalBox()
    qtbot.addWidget(box)
    box.setRange(0, 1000)
    box.setDecimals(2)
    box.lineEdit().selectAll()
    QTest.keyClicks(box, typed)
    box.interpretText()
    assert box.value() == 12.5


def test_a_whole_box_takes_no_point(qtbot, locale):
    box = WholeBox()
    qtbot.addWidget(box)
    box.setRange(0, 100000)
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "1.5")
    box.interpretText()
    assert box.value() == 15  # the point refused, not read as a thousands separator
    assert "." not in box.text()


def test_the_windows_number_boxes_are_such_boxes(window):
    from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

    for box in window.findChildren(QDoubleSpinBox):
        assert isinstance(box, DecimalBox), box.objectName()
    for box in window.findChildren(QSpinBox):
        assert isinstance(box, WholeBox), box.objectName()
