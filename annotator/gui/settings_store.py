"""What the app remembers between runs: recent projects, window layout, tool settings.

A thin, typed wrapper over an INI-format :class:`QSettings` file. The file lives in the
user's configuration folder (``$XDG_CONFIG_HOME/annotator/annotator.ini`` on Linux),
resolved every time a store is made rather than through Qt's process-wide default
paths, which Qt caches on first use: tests point ``XDG_CONFIG_HOME`` at a temporary
folder per test and must never see each other's (or the user's) settings.

Per-project state that belongs to the project itself (the last image) is stored in the
project; what belongs to this user and machine (the class last painted in a project,
window geometry) is stored here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize, QStandardPaths, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from annotator.core.schema import name_key

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow

MAX_RECENT = 10
FILE_NAME = "annotator.ini"
#: A new window takes this share of the screen's free area (its status bar was off a
#: 1366 x 768 screen at the fixed 1280 x 820)...
FIRST_SHARE = 0.9
#: ...up to this size (px): the panels need no more, the image gets the rest anyway.
FIRST_MAX = QSize(1920, 1200)


def config_folder() -> Path:
    """The folder of the settings file (created on the first write by QSettings)."""
    return _xdg("XDG_CONFIG_HOME", QStandardPaths.StandardLocation.GenericConfigLocation)


def data_folder() -> Path:
    """Where the app keeps data of its own, such as the demo project."""
    return _xdg("XDG_DATA_HOME", QStandardPaths.StandardLocation.GenericDataLocation)


def _xdg(variable: str, location: QStandardPaths.StandardLocation) -> Path:
    """Our folder in the XDG folder ``variable`` names: an absolute path only, as the XDG
    spec says (a relative one made the settings and the demo hang on the folder the app
    was started from); else Qt's (which reads the variable the same way)."""
    base = os.environ.get(variable, "")
    if not os.path.isabs(base):
        base = QStandardPaths.writableLocation(location)
    return Path(base) / "annotator"


@dataclass(frozen=True)
class ToolSettings:
    """The canvas settings restored on the next start."""

    tool: str = "brush"
    brush_radius: float = 6.0
    opacity: int = 50  # percent
    proposal_opacity: int = 100  # percent of the proposal layers' own alphas
    outlines: bool = False  # labels drawn as outlines (View > Labels as outlines)


#: How a path whose name is not UTF-8 is kept in the settings file (which holds text
#: only: such a byte came back as U+FFFD, a path that is nowhere).
_BYTES_PREFIX = "bytes:"


def stored_path(path: Path) -> str:
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES_PREFIX + os.fsencode(path).hex()
    return text


def read_path(text: str) -> Path:
    if text.startswith(_BYTES_PREFIX):
        try:
            return Path(os.fsdecode(bytes.fromhex(text[len(_BYTES_PREFIX) :])))
        except ValueError:
            pass
    return Path(text)


def _project_key(path: Path) -> str:
    # Group names in INI files cannot hold slashes; a hash of the path is stable and safe.
    # (the path's bytes as on disk: a folder name that is not UTF-8 has no UTF-8 form)
    digest = hashlib.sha1(os.fsencode(Path(path).absolute())).hexdigest()[:16]
    return f"project_{digest}"


class SettingsStore:
    """Recent projects, window geometry and state, tool settings, class per project."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else config_folder() / FILE_NAME
        self._q = QSettings(str(self.path), QSettings.Format.IniFormat)
        self._private: tempfile.TemporaryDirectory[str] | None = None

    def detach(self) -> None:
        """Go on with a private copy of the settings: what this run changes (the last
        project, the recent list, the window's size) is forgotten when it ends. For the
        runs of scripts (``--screenshot``, ``--quit-after-paint``), which rewrote what the
        user's next start reopened."""
        if self._private is not None:
            return
        self._q.sync()
        self._private = tempfile.TemporaryDirectory(prefix="annotator-settings-")
        copy = Path(self._private.name) / FILE_NAME
        if self.path.is_file():
            shutil.copyfile(self.path, copy)
        self.path = copy
        self._q = QSettings(str(copy), QSettings.Format.IniFormat)

    def sync(self) -> None:
        """Write pending changes to disk now (QSettings otherwise writes lazily)."""
        self._q.sync()

    # --- recent projects -------------------------------------------------------------------
    def recent_projects(self) -> list[Path]:
        """Recently opened project folders, newest first, those that exist now (one on
        a disk not mounted now stays in the list for when it is again)."""
        return [p for p in self._stored_recent() if p.is_dir()]

    def _stored_recent(self) -> list[Path]:
        raw: Any = self._q.value("recent/projects", [])
        # A hand-edited or foreign file may hold anything here (a number, bytes): only
        # strings are paths, the rest is left out rather than stopping the app.
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list | tuple) else []
        return [read_path(p) for p in items if isinstance(p, str) and p]

    def add_recent(self, path: Path) -> None:
        """Put ``path`` first in the recent list (once), keeping at most MAX_RECENT.
        Paths are stored resolved: ``/a/../b/p`` and ``/b/p`` are one project."""
        folder = stored_path(Path(path).resolve())
        items = [stored_path(p) for p in self._stored_recent()]
        items = [p for p in items if p != folder]
        self._q.setValue("recent/projects", [folder, *items][:MAX_RECENT])
        self._q.sync()

    def clear_recent(self) -> None:
        """Empty the recent list (the projects on disks not mounted now too)."""
        self._q.setValue("recent/projects", [])
        self._q.sync()

    def remove_recent(self, path: Path) -> None:
        folder = stored_path(Path(path).resolve())
        items = [stored_path(p) for p in self._stored_recent()]
        self._q.setValue("recent/projects", [p for p in items if p != folder])
        self._q.sync()

    def last_project(self) -> Path | None:
        """The project open when the app last quit (None after closing it by hand)."""
        value = self._q.value("recent/last_open", "")
        path = read_path(value) if isinstance(value, str) and value else None
        return path if path is not None and path.is_dir() else None

    def last_project_away(self) -> bool:
        """Whether the project open when the app last quit is not there now (a disk not
        mounted: kept for when it is back)."""
        value = self._q.value("recent/last_open", "")
        return isinstance(value, str) and bool(value) and not read_path(value).is_dir()

    def set_last_project(self, path: Path | None) -> None:
        self._q.setValue(
            "recent/last_open", "" if path is None else stored_path(Path(path).absolute())
        )

    # --- window ------------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self._q.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self._q.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    # --- tools -------------------------------------------------------------------------------
    def tool_settings(self) -> ToolSettings | None:
        """The saved tool settings; None before the first save (keep the app's defaults)."""
        if not self._q.contains("tools/tool"):
            return None
        default = ToolSettings()
        tool = str(self._q.value("tools/tool", default.tool))
        try:
            radius_value: Any = self._q.value("tools/brush_radius", default.brush_radius)
            opacity_value: Any = self._q.value("tools/opacity", default.opacity)
            proposal_value: Any = self._q.value("tools/proposal_opacity", default.proposal_opacity)
            radius, opacity = float(radius_value), int(opacity_value)
            proposal = int(proposal_value)
        except (TypeError, ValueError):  # a hand-edited file: fall back, never crash
            return default
        outlines_value: Any = self._q.value("tools/outlines", default.outlines)
        outlines = str(outlines_value).lower() in ("true", "1")  # (INI stores text)
        return ToolSettings(
            tool,
            max(0.0, radius),
            min(max(opacity, 0), 100),
            min(max(proposal, 0), 100),
            outlines,
        )

    def save_tool_settings(self, settings: ToolSettings) -> None:
        self._q.setValue("tools/tool", settings.tool)
        self._q.setValue("tools/brush_radius", float(settings.brush_radius))
        self._q.setValue("tools/opacity", int(settings.opacity))
        self._q.setValue("tools/proposal_opacity", int(settings.proposal_opacity))
        self._q.setValue("tools/outlines", bool(settings.outlines))

    # --- per project ---------------------------------------------------------------------------
    def project_class(self, project: Path) -> tuple[int, str | None, str | None] | None:
        """The label value last painted in ``project`` on this machine, the name of its
        class then ("" for void) and the generation of the project's class ids then (""
        for none); each None when not recorded (an older version's)."""
        key = _project_key(project)
        value: Any = self._q.value(f"{key}/class")
        name: Any = self._q.value(f"{key}/class_name")
        ids: Any = self._q.value(f"{key}/class_ids")
        try:
            return (
                None
                if value is None
                else (
                    int(value),
                    None if name is None else str(name),
                    None if ids is None else str(ids),
                )
            )
        except (TypeError, ValueError):
            return None

    def set_project_class(self, project: Path, value: int, name: str, ids: str = "") -> None:
        """Remember the class painted in ``project``: its value, its name and the
        generation of the class ids (``Project.class_ids_generation``): ids move when a
        class is taken out or moved, also by the CLI, and the name finds it again;
        renamed, the id still does while the generation is the same."""
        key = _project_key(project)
        self._q.setValue(f"{key}/class", int(value))
        self._q.setValue(f"{key}/class_name", name)
        self._q.setValue(f"{key}/class_ids", ids)


# --- the window's side: what is saved on quit and restored on start -------------------------


def first_size(available: QRect) -> QSize:
    """The size of a window opened for the first time on a screen whose free area (less
    task bars and docks) is ``available``: :data:`FIRST_SHARE` of it, at most
    :data:`FIRST_MAX`."""
    return QSize(
        min(FIRST_MAX.width(), int(available.width() * FIRST_SHARE)),
        min(FIRST_MAX.height(), int(available.height() * FIRST_SHARE)),
    )


def place_first(window: QWidget) -> None:
    """Size ``window`` for its screen (:func:`first_size`) and centre it there."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    available = screen.availableGeometry()
    window.resize(first_size(available))
    frame = window.frameGeometry()
    frame.moveCenter(available.center())
    window.move(frame.topLeft())


def keep_on_screen(window: QWidget) -> None:
    """Fit ``window`` (a geometry restored from another screen: bigger, or a monitor
    gone) into the free area of the screen it is on, or the main one: shrunk to it
    and moved inside it, title bar and status bar included."""
    if window.isMaximized() or window.isFullScreen():
        return
    frame = window.frameGeometry()
    screen = QGuiApplication.screenAt(frame.center()) or QGuiApplication.primaryScreen()
    if screen is None:
        return
    available = screen.availableGeometry()
    inner = window.geometry()
    extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
    width = min(inner.width(), available.width() - extra_w)
    height = min(inner.height(), available.height() - extra_h)
    if (width, height) != (inner.width(), inner.height()):
        window.resize(width, height)
        frame = window.frameGeometry()
    x = max(available.left(), min(frame.left(), available.right() + 1 - frame.width()))
    y = max(available.top(), min(frame.top(), available.bottom() + 1 - frame.height()))
    if (x, y) != (frame.left(), frame.top()):
        window.move(x, y)


def restore_window(window: MainWindow, store: SettingsStore) -> None:
    """Window geometry (kept on the screen as it is now) and docks, and the tool
    settings of the last run."""
    geometry, state = store.window_geometry(), store.window_state()
    if geometry is not None and window.restoreGeometry(geometry):
        keep_on_screen(window)
    if state is not None:
        window.restoreState(state)
    tools = store.tool_settings()
    if tools is not None:
        if tools.tool in window.canvas.tools:
            window.canvas.set_tool(tools.tool)
        window.canvas.set_brush_radius(tools.brush_radius)
        window.opacity_slider.setValue(tools.opacity)
        window.proposal_opacity_slider.setValue(tools.proposal_opacity)
        window.actions_["toggle_outlines"].setChecked(tools.outlines)


def restore_project_class(window: MainWindow, store: SettingsStore, root: Path) -> None:
    """Select the class last painted in the project at ``root`` (if it still exists: by
    its name, whatever its id now)."""
    remembered = store.project_class(root)
    if remembered is None or window.session is None:
        return
    value, name, ids = remembered
    schema = window.session.schema
    if name:  # (a class; "" is void)
        same_ids = ids is not None and ids == (window.session.project.class_ids_generation() or "")
        named = next((c.id for c in schema.classes if name_key(c.name) == name_key(name)), None)
        value = named if named is not None else value if same_ids else -1  # (renamed)
    elif name == "":
        value = schema.void
    rows = window.class_panel.list
    for row in range(rows.count()):
        if rows.item(row).data(Qt.ItemDataRole.UserRole) == value:
            rows.setCurrentRow(row)
            return


def painted_name(window: MainWindow) -> tuple[str, str]:
    """The name of the class the canvas paints ("" for void or none), and the
    generation of the project's class ids ("" when none is recorded)."""
    value = window.canvas.current_value
    if window.session is None:
        return "", ""
    classes = window.session.schema.classes
    try:  # (a read of the database: one that fails now must not stop a close's rescue)
        ids = window.session.project.class_ids_generation() or ""
    except Exception:  # noqa: BLE001
        ids = ""
    return (classes[value].name if 0 <= value < len(classes) else ""), ids


def remember_window(window: MainWindow, store: SettingsStore) -> None:
    """Save what :func:`restore_window` and :func:`restore_project_class` read, and
    which project was open (None: the next start shows the first-run dialog)."""
    store.save_window(window.saveGeometry(), window.saveState())
    canvas = window.canvas
    tool = next((n for n, t in canvas.tools.items() if t is canvas.tool), "brush")
    store.save_tool_settings(
        ToolSettings(
            tool,
            canvas.brush_radius,
            window.opacity_slider.value(),
            window.proposal_opacity_slider.value(),
            window.actions_["toggle_outlines"].isChecked(),
        )
    )
    root = window.session.project.root if window.session is not None else None
    # (a last project that is away now stays, its disk perhaps only not mounted; one that
    # is there and could not be opened is forgotten, not refused again at every start)
    if root is not None or window.opened_a_project or not store.last_project_away():
        store.set_last_project(root)
    if root is not None:
        store.set_project_class(root, canvas.current_value, *painted_name(window))
    store.sync()
