"""With no project open the tool buttons are disabled and look it: the style's own greying
of the icons was so faint that an audit took them for enabled beside "No project open"."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from annotator.gui.main_window import MainWindow


def _darkest(icon: QIcon, mode: QIcon.Mode) -> int:
    """The lowest lightness among the icon's drawn pixels (0 black .. 255 white)."""
    image = icon.pixmap(QSize(24, 24), mode).toImage()
    seen = [
        QColor(image.pixel(x, y)).lightness()
        for y in range(image.height())
        for x in range(image.width())
        if QColor.fromRgba(image.pixel(x, y)).alpha() > 200
    ]
    return min(seen)


def test_with_no_project_the_tool_buttons_are_disabled_and_drawn_greyed(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    try:
        assert "No project open" in w.canvas.placeholder.text()
        tools = [w.actions_[f"tool_{tool}"] for tool in w.canvas.tools]
        assert tools and not any(a.isEnabled() for a in tools)
        # view preferences stay at hand
        assert w.radius_spin.isEnabled() and w.opacity_slider.isEnabled()
        assert w.actions_["toggle_labels"].isEnabled()
        greyed = QApplication.palette().color(
            QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText
        )
        for action in tools:
            icon = action.icon()
            assert _darkest(icon, QIcon.Mode.Normal) < 80  # drawn in the text colour
            # in the palette's disabled text colour (its darker details a little darker),
            # not a faint greying of black
            darkest = _darkest(icon, QIcon.Mode.Disabled)
            assert darkest >= greyed.lightness() * 0.7, (action.text(), darkest)
    finally:
        w.close()
