"""Icons from ``resources/icons/*.svg``, drawn in the colour of the current palette.

The SVGs draw with ``currentColor``; Qt's SVG renderer does not know the widget's text
colour, so the helper substitutes it before rendering. That keeps one set of files
readable on light and dark themes. Icons are cached per name and colour.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from annotator.resources import resource_path

SIZES = (16, 24, 32, 48)


def _text_colour(role: QPalette.ColorGroup = QPalette.ColorGroup.Active) -> str:
    app = QGuiApplication.instance()
    palette = QGuiApplication.palette() if app is not None else QPalette()
    return palette.color(role, QPalette.ColorRole.WindowText).name()


def render_svg(data: bytes, size: int) -> QPixmap:
    """An SVG document as a square, transparent pixmap."""
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        raise ValueError("not a valid SVG document")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return QPixmap.fromImage(image)


def _svg_bytes(name: str, colour: str) -> bytes:
    text = resource_path("icons", f"{name}.svg").read_text(encoding="utf-8")
    return text.replace("currentColor", colour).encode("utf-8")


@lru_cache(maxsize=256)
def _icon(name: str, colour: str, disabled: str) -> QIcon:
    out = QIcon()
    data, greyed = _svg_bytes(name, colour), _svg_bytes(name, disabled)
    for size in SIZES:
        out.addPixmap(render_svg(data, size))
        out.addPixmap(render_svg(greyed, size), QIcon.Mode.Disabled)
    return out


def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` in the palette's text colour, and in its
    disabled text colour when disabled (the style's own greying left the tool buttons
    looking enabled with no project open). Raises ``ResourceError`` for an unknown name,
    so typos fail loudly."""
    return _icon(name, _text_colour(), _text_colour(QPalette.ColorGroup.Disabled))


def app_icon() -> QIcon:
    """The application's icon (window, task bar), from the SVG and the 256 px PNG."""
    out = QIcon(str(resource_path("annotator.png")))
    out.addFile(str(resource_path("annotator.svg")))
    return out


# Which icon each action of gui/actions.py shows (actions without one show text only).
ACTION_ICONS: dict[str, str] = {
    "open": "open",
    "save": "save",
    "undo": "undo",
    "redo": "redo",
    "tool_brush": "brush",
    "tool_eraser": "eraser",
    "tool_fill": "fill",
    "tool_polygon": "polygon",
    "tool_lasso": "lasso",
    "tool_pan": "pan",
    "tool_proposal_brush": "proposal-brush",
    "tool_accept_region": "accept-region",
    "tool_superpixel": "superpixel",
    "tool_grabcut": "grabcut",
    "tool_cleanup": "cleanup",
    "toggle_protection": "protect",
    "toggle_labels": "labels",
    "next_suggested": "next",
    "previous": "image-previous",
    "next": "image-next",
    "mark_done": "done",
    "accept": "accept",
    "toggle_proposal": "propose",
    "train_now": "train",
}


def action_icon(action_name: str) -> QIcon | None:
    """The icon of an action by its name in ``gui/actions.py``, or None if it has none."""
    name = ACTION_ICONS.get(action_name)
    return icon(name) if name is not None else None
