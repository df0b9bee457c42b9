"""Every toolbar control is on screen at the window widths we support (1024 px and up).

A QToolBar that is too short hides what does not fit behind its overflow (») button,
where nobody finds it: at 1024 px the clean-up size, "Fill to edges" and its tolerance
were hidden so, and at an 11 pt font (a common desktop setting) the Model bar's Cancel
up to 1048 px. These tests open the window at each width and font and look at where
each toolbar item really is.
"""

from __future__ import annotations

import pytest
from guihelpers import center, drag
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QToolBar, QToolButton, QWidgetAction

from annotator.gui.main_window import MainWindow

WIDTHS = (1024, 1280, 1366, 1920)
HEIGHT = 700
#: Application fonts (points; None: the platform's, 9 pt offscreen) of desktops we support.
FONTS = (None, 10, 11, 12)

#: What the toolbars offer; a fix that drops one of them is no fix.
TOOLBAR_ACTIONS = {
    "tool_brush",
    "tool_eraser",
    "tool_fill",
    "tool_polygon",
    "tool_lasso",
    "tool_proposal_brush",
    "tool_accept_region",
    "tool_superpixel",
    "tool_grabcut",
    "tool_cleanup",
    "toggle_labels",
    "previous",
    "next",
    "mark_done",
    "next_suggested",
    "accept",
    "accept_class",
    "toggle_proposal",
    "toggle_uncertainty",
    "train_now",
    "cancel_training",
}
TOOLBAR_WIDGETS = (
    "radius_spin",
    "opacity_slider",
    "protection",
    "cleanup_spin",
    "edges_check",
    "tolerance_spin",
)


def _name(action) -> str:
    if isinstance(action, QWidgetAction) and action.defaultWidget() is not None:
        widget = action.defaultWidget()
        text = getattr(widget, "text", None)
        return f"{type(widget).__name__} {text() if callable(text) else ''}".strip()
    return action.text().replace("&", "")


def docked_bars(window: MainWindow) -> list[QToolBar]:
    return [b for b in window.findChildren(QToolBar) if b.isVisible() and not b.isFloating()]


def out_of_sight(window: MainWindow) -> list[str]:
    """Toolbar items the user cannot see: behind the overflow button, or cut off."""
    out = [
        f"{b.objectName()} is hidden" for b in window.findChildren(QToolBar) if not b.isVisible()
    ]
    for bar in docked_bars(window):
        where = bar.objectName()
        if not window.rect().contains(bar.geometry()):
            out.append(f"{where}: the bar itself ({bar.geometry().getRect()}) leaves the window")
        extension = bar.findChild(QToolButton, "qt_toolbar_ext_button")
        if extension is not None and extension.isVisible():
            out.append(f"{where}: the overflow button is shown")
        for action in bar.actions():
            if action.isSeparator() or not action.isVisible():
                continue
            widget = bar.widgetForAction(action)
            if widget is None or not widget.isVisible():
                out.append(f"{where}: {_name(action)} is hidden")
            elif not bar.rect().contains(widget.geometry()):
                out.append(f"{where}: {_name(action)} is cut off at {widget.geometry().getRect()}")
    return out


def rows(window: MainWindow) -> int:
    """How many rows the toolbars docked at the top take."""
    top = Qt.ToolBarArea.TopToolBarArea
    return len({b.y() for b in docked_bars(window) if window.toolBarArea(b) == top})


def settle(qtbot, window: MainWindow, width: int) -> None:
    window.resize(width, HEIGHT)
    qtbot.waitUntil(lambda: window.width() == width)
    for _ in range(3):  # the main window lays its toolbars out in posted events
        QApplication.processEvents()
    qtbot.wait(20)


@pytest.fixture
def ui_font(request):
    """The application font at ``request.param`` points while the test runs (None, or
    not parametrized: the font as it is); the font before is restored afterwards."""
    app = QApplication.instance()
    before = QFont(app.font())
    size = getattr(request, "param", None)
    if size is not None:
        font = QFont(before)
        font.setPointSizeF(size)
        app.setFont(font)
    yield size
    app.setFont(before)


@pytest.fixture
def open_window(qtbot, project_dir, ui_font):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1024, HEIGHT)
    w.show()
    qtbot.waitExposed(w)
    w.open_project(project_dir)
    yield w
    w.close()


@pytest.mark.parametrize("ui_font", FONTS, indirect=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_no_toolbar_control_is_pushed_into_the_overflow_menu(qtbot, open_window, width):
    settle(qtbot, open_window, width)
    assert open_window.width() == width
    assert out_of_sight(open_window) == []


@pytest.mark.parametrize("ui_font", FONTS[1:], indirect=True)
def test_nothing_overflows_at_any_width_from_1024_to_1920_px(qtbot, open_window, ui_font):
    # (At 11 pt the Model bar hid Cancel from 1024 to 1048 px: between the widths above.)
    assert QApplication.font().pointSizeF() == ui_font
    hidden = {}
    for width in range(1024, 1921, 8):
        settle(qtbot, open_window, width)
        if out := out_of_sight(open_window):
            hidden[width] = out
    assert hidden == {}


@pytest.mark.parametrize("ui_font", FONTS, indirect=True)
def test_at_1024_px_nothing_overflows_when_the_button_says_not_done(qtbot, open_window):
    center(open_window.canvas)
    drag(open_window.canvas, [(10, 10), (20, 10)])  # an image with nothing labelled is not done
    open_window.mark_done()  # "Done" becomes the wider "Not done"
    assert open_window.actions_["mark_done"].iconText() == "Not done"
    settle(qtbot, open_window, 1024)
    assert out_of_sight(open_window) == []


def test_every_control_is_still_in_a_toolbar(open_window):
    in_bars = {a for b in open_window.findChildren(QToolBar) for a in b.actions()}
    names = {name for name, a in open_window.actions_.items() if a in in_bars}
    assert names >= TOOLBAR_ACTIONS
    widgets = {
        b.widgetForAction(a) for b in open_window.findChildren(QToolBar) for a in b.actions()
    }
    for name in TOOLBAR_WIDGETS:
        assert getattr(open_window, name) in widgets, name


def test_the_toolbars_reflow_as_the_window_is_resized(qtbot, open_window):
    for width in (1920, 1024, 1366, 1024, 1920):
        settle(qtbot, open_window, width)
        assert out_of_sight(open_window) == [], width
    assert rows(open_window) == 2  # wide: no row more than needed


def test_a_wide_window_keeps_the_toolbars_on_two_rows(qtbot, open_window):
    settle(qtbot, open_window, 1920)
    assert rows(open_window) == 2


@pytest.mark.parametrize(("saved", "now"), [(1024, 1920), (1920, 1024)])
def test_the_layout_saved_on_quit_fits_the_next_window(qtbot, project_dir, saved, now):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.open_project(project_dir)
    settle(qtbot, first, saved)
    first.close()  # saves the window's geometry and toolbar layout

    again = MainWindow()  # restores them
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    settle(qtbot, again, now)
    assert out_of_sight(again) == []
    if now >= 1920:
        assert rows(again) == 2
    again.close()


@pytest.mark.parametrize("width", (1024, 1920))
def test_an_options_bar_left_on_the_model_row_comes_back_under_the_tools(qtbot, open_window, width):
    # What restoring a layout saved before the options had a bar of their own does: Qt
    # puts a bar the saved layout lacks at the end of the last row, beside the model's.
    options = open_window.findChild(QToolBar, "toolbar_options")
    tools = open_window.findChild(QToolBar, "toolbar_tools")
    settle(qtbot, open_window, 1366)
    open_window.addToolBar(Qt.ToolBarArea.TopToolBarArea, options)
    qtbot.waitUntil(lambda: options.y() > tools.y())
    settle(qtbot, open_window, width)
    assert out_of_sight(open_window) == []
    assert options.y() == (tools.y() if width >= 1920 else tools.geometry().bottom() + 1)
    assert rows(open_window) == (2 if width >= 1920 else 3)


def test_a_bar_the_user_docked_elsewhere_stays_there(qtbot, open_window):
    options = open_window.findChild(QToolBar, "toolbar_options")
    open_window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, options)
    for width in (1024, 1920):
        settle(qtbot, open_window, width)
        assert open_window.toolBarArea(options) == Qt.ToolBarArea.BottomToolBarArea
        assert out_of_sight(open_window) == []
