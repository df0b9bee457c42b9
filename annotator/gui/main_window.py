"""The main window: wires the panels, the canvas and the session together.

It holds no labelling logic: edits live in :mod:`annotator.core`, the open image and
saving in :class:`annotator.services.session.AnnotationSession`, pointer handling in the
canvas and its tools. Autosave: every committed edit (a stroke on release, a fill, an
accept, an undo) restarts a one-second timer, but the save never waits more than three
seconds after the first edit not yet saved, so steady painting is saved too; when it
fires the session hands a snapshot to its background writer. Mouse moves only repaint
(docs/adr/0008). Switching image hands the labels left to that writer without waiting
(the session keeps them until written, and rescues them if it cannot); closing the
window saves synchronously, so quitting never asks and never loses a stroke.

The active-learning loop (proposal layers, accept, training rounds, the model panel,
"next suggested") lives in :class:`annotator.gui.loop_controller.LoopController`. The two
do not import each other's internals: the window hands the loop a :class:`_LoopWorkspace`
(the open image and the canvas, nothing more), the dispatcher and the loop's actions, and
connects the loop's signals (``message``, ``scores_changed``, ``open_requested``); it tells
the loop when a project or image opens, an edit is committed, or an image is done.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSlider,
    QToolBar,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from annotator.core.channels import applies, shown
from annotator.core.contrast import Window, channel_count, per_channel
from annotator.core.errors import AnnotatorError, first_line
from annotator.core.folders import printable
from annotator.core.labelmap import Tolerance, tolerance_scales
from annotator.core.naming import one_line
from annotator.core.nodata import source_dtype
from annotator.core.proposal import Proposal
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.about_dialog import AboutDialog
from annotator.gui.actions import SPECS, make_actions
from annotator.gui.canvas import Z_LAYERS, LabelCanvas, radius_step
from annotator.gui.channels_dialog import ChannelsDialog
from annotator.gui.class_panel import ClassPanel
from annotator.gui.class_picker import ClassPicker
from annotator.gui.contrast import ContrastDialog, shared_elsewhere, shared_text
from annotator.gui.dispatch import GuiDispatcher
from annotator.gui.file_menu import FileMenu
from annotator.gui.first_run import ask_project_folder
from annotator.gui.help_dialog import ShortcutsDialog
from annotator.gui.image_list import ImageListPanel
from annotator.gui.layers import colour_table
from annotator.gui.loop_controller import LoopController
from annotator.gui.model_panel import classes_changed_text
from annotator.gui.number_boxes import DecimalBox, WholeBox, let_shortcuts_through, share_shortcuts
from annotator.gui.progress_task import box_sentence, loop_held, plain, run_with_progress
from annotator.gui.save_news import close_session, save_failure_box, save_failure_line
from annotator.gui.settings_store import (
    SettingsStore,
    data_folder,
    painted_name,
    place_first,
    remember_window,
    restore_project_class,
    restore_window,
)
from annotator.gui.smart_tools import ProtectionCombo, SmartSupport, cancelled_text, clean_up
from annotator.gui.status_activity import StatusActivity
from annotator.gui.status_labels import ElidedLabel, MessageBar, ReadoutLabel
from annotator.gui.tools import FILL_SAMPLE, along
from annotator.services import image_status
from annotator.services.document import Document
from annotator.services.project_lock import LockInfo, ProjectLocked
from annotator.services.projects import open_project, recovered_note, recovered_short
from annotator.services.session import AnnotationSession, LabelsKept
from annotator.services.shared_contrast import (
    ContrastWindows,
    keep_shared_windows,
    shared_windows,
)
from annotator.services.slice_place import SlicePlace, slice_place

if TYPE_CHECKING:
    from annotator.services.training_rounds import RoundOutcome
    from annotator.storage.project import Project

log = logging.getLogger(__name__)
#: Autosave runs this long after the last committed edit (a quiet moment)...
AUTOSAVE_DELAY_MS = 1000
#: ...and at the latest this long after the first edit not yet saved, however steadily
#: the user paints (a save of a 48-megapixel map costs the GUI thread about 10-20 ms).
AUTOSAVE_MAX_DELAY_MS = 3000
#: After a failed save (a full disk, a database locked by another program) the labels
#: are saved again this long later, and again until a save works: a user who frees
#: space and paints nothing more is saved too, not only at the next edit.
SAVE_RETRY_MS = 5000
#: How long keeping the window for every image in the project waits for another
#: program's write lock (s): the GUI waits meanwhile, and it applies anyway.
SHARED_KEEP_TIMEOUT_S = 1.0
DOCK_WIDTH = 270  # the side panels' width in a new window (px)
TOLERANCE_TIP = (
    "Tolerance of the edge-stopped fill, in the image's own intensity units "
    "(carried to an image of another bit depth in proportion to its range)"
)
_EMPTY_SCHEMA = LabelSchema()
#: What acts on the open image only: disabled while none is open (with the tools: the
#: class under the cursor, the whole image's clean-up, the zoom).
IMAGE_ACTIONS = (
    "pick_class",
    "cleanup_image",
    "fit",
    "zoom_in",
    "zoom_out",
    "zoom_1",
)
#: What picks a class of the project, or shows its model's proposal: disabled while
#: none is open (X, P and U did nothing there).
PROJECT_ACTIONS = (
    "choose_class",
    "paint_void",
    "toggle_protection",
    "toggle_proposal",
    "toggle_uncertainty",
    "proposal_fainter",
    "proposal_stronger",
)


def _failure_title(exc: AnnotatorError) -> str:
    """A box's title for an image that did not open: what happened (the labels of the
    image open not saved, so it stays open), else "Cannot open image"."""
    return exc.title if isinstance(exc, LabelsKept) else "Cannot open image"


def locked_text(path: Path, holder: LockInfo | None) -> str:
    """Why the project at ``path`` does not open while another process writes it (the
    holder, when known), in the app's words: the CLI's refusal names the read-only
    commands that run beside a writer, which the app has no use for."""
    who = f" ({holder.describe()})" if holder is not None else ""
    return (
        f"{Path(path).resolve()}: project is open in another process{who}; close it there "
        "first, then open it again"
    )


def pixel_value_text(value: np.ndarray | np.generic) -> str:
    """A pixel's raw value for the status bar, every channel: integers as they are,
    floats to 6 significant digits (``nan`` and ``inf`` too)."""
    channels = np.atleast_1d(np.asarray(value))
    if channels.dtype.kind in "iub":
        return ", ".join(str(int(c)) for c in channels)
    return ", ".join(f"{float(c):.6g}" for c in channels)


#: How long the window waits for a save on its own thread before it waits behind a
#: progress dialog (:meth:`MainWindow.save_before`).
SAVE_WAIT_S = 0.25


class MainWindow(QMainWindow):
    """The labelling window. ``session`` is None until a project is opened."""

    #: Pictures of at least this many pixels are decoded on a worker thread (ADR 0016):
    #: an 8000 x 6000 PNG takes 1-2 s to decode; a 2000 x 2000 one about 0.1 s.
    background_open_pixels = 4_000_000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Annotator")
        place_first(self)  # (a geometry saved on quit is restored below, kept on screen)
        self.session: AnnotationSession | None = None
        self._owned_project: Project | None = None
        self._dispatch = GuiDispatcher(self)
        self._hidden: frozenset[int] = frozenset()
        # Contrast windows chosen per image while the project is open (by image id), one
        # per channel shown; and the window for every image of a kind (kept in the
        # project: docs/adr/0036), which those of its kind give way to.
        self._windows: dict[int, ContrastWindows] = {}
        self._shared: ContrastWindows | None = None
        self._cursor: tuple[int, int] | None = None  # the pixel under the mouse, last seen
        self._notice = ""  # the last tool notice shown (cleared by a gesture that changed pixels)
        self._carried = ""  # what ending a gesture dropped, for the messages of the key's own work
        #: The open image's place in its stack (None: no slice), for the status bar.
        self._slice_place: SlicePlace | None = None
        self._opacity = 0.5
        self.class_picker: ClassPicker | None = None  # made the first time C is pressed
        self.settings = SettingsStore()
        #: Whether a project was shown in this run: if not, quitting leaves the last
        #: project the settings name as it was (its disk may only be away for now).
        self.opened_a_project = False

        self.canvas = LabelCanvas(self)
        self.setCentralWidget(self.canvas)
        self.image_list = ImageListPanel()
        self.class_panel = ClassPanel()
        images_dock = self._dock("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        classes_dock = self._dock(
            "Classes", self.class_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.contrast_dialog = ContrastDialog(self)
        self.channels_dialog = ChannelsDialog(self)
        self.actions_ = make_actions(self)
        self.loop = LoopController(_LoopWorkspace(self), self._dispatch, self.actions_, self)
        # The model panel scrolls on a short screen instead of squeezing its chart.
        model_scroll = QScrollArea()
        model_scroll.setWidget(self.loop.panel)
        model_scroll.setWidgetResizable(True)
        model_scroll.setFrameShape(QFrame.Shape.NoFrame)
        model_dock = self._dock("Model", model_scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        # The image gets the room: side panels at their working width (a saved layout,
        # restored below, wins). Left to Qt, the right column took 460 px of 1024.
        self.resizeDocks(
            [images_dock, classes_dock, model_dock],
            [DOCK_WIDTH, DOCK_WIDTH, DOCK_WIDTH],
            Qt.Orientation.Horizontal,
        )
        # The class list scrolls in little room; the Model panel's rows need theirs (at
        # 240 : 400 its last row was cut on a 1600 x 1000 screen, the list half empty).
        self.resizeDocks([classes_dock, model_dock], [180, 470], Qt.Orientation.Vertical)
        self.canvas.smart = SmartSupport(
            self._dispatch,
            self._proposal_of,
            lambda text: self.statusBar().showMessage(text, 5000),
            lambda: None if self.document is None else self.document.image_id,
            progress=lambda text: self.activity.say(text),  # (beside, not over, results)
        )

        self.autosave_delay_ms = AUTOSAVE_DELAY_MS
        self.autosave_max_delay_ms = AUTOSAVE_MAX_DELAY_MS
        self.save_retry_ms = SAVE_RETRY_MS
        self._unsaved_since: float | None = None  # the first commit not yet saved
        self._save_failing = False  # a save failed, none worked since: said once
        #: The app is being ended from outside (SIGTERM, a logout): nothing may ask.
        self.ending_from_outside = False
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.save_now)

        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._connect()
        self._connect_loop()
        self.file_menu = FileMenu(self)
        self.file_menu.install()
        self.activity.connect_loop(self.loop)
        let_shortcuts_through(self, self.canvas)
        share_shortcuts(self.contrast_dialog, self, self.actions_.values())
        self._update_enabled()
        restore_window(self, self.settings)

    # --- construction ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_menus_and_toolbar(self) -> None:
        a = self.actions_
        menus: dict[str, object] = {}
        for spec in SPECS:
            if spec.menu not in menus:
                menus[spec.menu] = self.menuBar().addMenu(spec.menu)
            elif spec.group:
                menus[spec.menu].addSeparator()  # type: ignore[attr-defined]
            menus[spec.menu].addAction(a[spec.name])  # type: ignore[attr-defined]
        self.tool_group = QActionGroup(self)
        for name in self.canvas.tools:
            self.tool_group.addAction(a[f"tool_{name}"])
        a["tool_brush"].setChecked(True)
        a["toggle_labels"].setChecked(True)

        # Three bars: the tools with the brush and the overlay; the options of the tools
        # (protection, clean-up size, edge-stopped fill); the images and the model. The
        # first two share a row where the window is wide enough and the options take a
        # row of their own where it is not (at 1024 px they hid behind the » button).
        bar = QToolBar("Tools", self)
        bar.setObjectName("toolbar_tools")
        for name in self.canvas.tools:
            bar.addAction(a[f"tool_{name}"])
        bar.addSeparator()
        bar.addWidget(_toolbar_label("Radius"))
        self.radius_spin = DecimalBox()
        self.radius_spin.setRange(0, 500)
        self.radius_spin.setDecimals(0)
        self.radius_spin.setValue(self.canvas.brush_radius)
        self.radius_spin.setToolTip(
            "Brush radius in image pixels ([ and ], or Shift+wheel over the image)"
        )
        bar.addWidget(self.radius_spin)
        bar.addWidget(_toolbar_label("Opacity"))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(self._opacity * 100))
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Opacity of the label overlay (, and .)")
        bar.addWidget(self.opacity_slider)
        bar.addAction(a["toggle_labels"])

        options = self._options_bar = QToolBar("Tool options", self)
        options.setObjectName("toolbar_options")
        self.protection = ProtectionCombo()
        options.addWidget(self.protection)
        options.addSeparator()
        self.cleanup_spin = WholeBox()
        self.cleanup_spin.setRange(1, 1_000_000)
        self.cleanup_spin.setValue(self.canvas.cleanup_area)
        self.cleanup_spin.setPrefix("clean-up ≤ ")
        self.cleanup_spin.setSuffix(" px")
        self.cleanup_spin.setToolTip("Largest hole or speck the clean-up tool (K) removes")
        options.addWidget(self.cleanup_spin)
        options.addSeparator()
        self.edges_check = QCheckBox("Fill to edges")
        self.edges_check.setToolTip(
            "Fill only pixels whose intensity is close to that around the click (the mean "
            f"of the {FILL_SAMPLE} x {FILL_SAMPLE} pixels there, within the tolerance beside)"
        )
        options.addWidget(self.edges_check)
        self.tolerance_spin = DecimalBox()
        self.tolerance_spin.setRange(0, 65535)
        self.tolerance_spin.setValue(20)
        self.tolerance_spin.setToolTip(TOLERANCE_TIP)
        #: The tolerance in 8-bit grey levels, and the factor to the open image's units
        #: (``core.labelmap.tolerance_scales``, the simulated annotator's rule): 30 of an
        #: 8-bit image is about 350 of a 16-bit one of values 1000..4000, not 30.
        self._tolerance_8bit = self.tolerance_spin.value()
        self._tolerance_scale = 1.0
        #: A picture whose channels have contrast windows of their own (16-bit RGB): the
        #: box is in 8-bit levels and each channel's tolerance is its factor times it
        #: (None: the box is in the image's units).
        self._channel_scales: tuple[float, ...] | None = None
        self._tolerance_fit: tuple[object, ...] = (1.0, None, False)
        self.tolerance_spin.setEnabled(False)  # until "Fill to edges" is ticked
        self.edges_check.toggled.connect(self.tolerance_spin.setEnabled)
        options.addWidget(self.tolerance_spin)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, options)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.toolbar_rows = ToolBarRows(self, bar, options)
        # Images and the model: moving on, and what the model proposes. (The navigation
        # sat at the end of the tools bar, hidden behind its overflow even at 1400 px.)
        loop_bar = QToolBar("Model", self)
        loop_bar.setObjectName("toolbar_model")
        # Words beside the icons: icon-only buttons next to text-only ones read as one.
        loop_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for i, group in enumerate(
            (
                ("previous", "next", "mark_done", "next_suggested"),
                ("accept", "accept_class"),
                ("toggle_proposal", "toggle_uncertainty"),
                ("train_now", "cancel_training"),
            )
        ):
            if i:
                loop_bar.addSeparator()
            for name in group:
                loop_bar.addAction(a[name])
        # Previous and Next are arrows alone (their tips name them and their keys): with
        # words the bar needed 1049 px at an 11 pt font, and hid Cancel in a 1024 px window.
        for name in ("previous", "next"):
            button = loop_bar.widgetForAction(a[name])
            assert isinstance(button, QToolButton)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self._add_proposal_opacity(loop_bar)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, loop_bar)

        for i in range(10):  # 1-9, then 0 for the tenth class
            shortcut = QShortcut(QKeySequence(str((i + 1) % 10)), self)
            shortcut.activated.connect(lambda i=i: self._class_key(i))

    def _class_key(self, index: int) -> None:
        """The keys 1-9 and 0: choose that class, or say there is none (it was silent)."""
        session = self.session
        if session is None:
            return
        count = len(session.schema)
        if index < count:
            self.class_panel.select_index(index)
            return
        self.statusBar().showMessage(
            f"No class {index + 1}: the project has {count} class{'' if count == 1 else 'es'} "
            f"({'1' if count == 1 else f'1-{count}'})",
            5000,
        )

    def _add_proposal_opacity(self, loop_bar: QToolBar) -> None:
        """The opacity of the proposal and the uncertainty map: a slider in the menu of
        the Proposal button (its arrow), with the keys < and >. The Model bar has no
        room for a slider of its own at 1024 px, nor the tools bar beside the tool
        options at 1280 px."""
        a = self.actions_
        self.proposal_opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.proposal_opacity_slider.setRange(0, 100)
        self.proposal_opacity_slider.setValue(100)
        self.proposal_opacity_slider.setMinimumWidth(140)
        self.proposal_opacity_slider.setToolTip(
            "Opacity of the proposal (hatching and outlines) and of the uncertainty map (< and >)"
        )
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(QLabel("Opacity"))
        layout.addWidget(self.proposal_opacity_slider)
        menu = QMenu(self)
        slider_action = QWidgetAction(menu)
        slider_action.setDefaultWidget(row)
        menu.addAction(slider_action)
        menu.addAction(a["proposal_fainter"])
        menu.addAction(a["proposal_stronger"])
        button = loop_bar.widgetForAction(a["toggle_proposal"])
        assert isinstance(button, QToolButton)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)

    def _build_status_bar(self) -> None:
        # Its messages keep room beside the labels (at 1280 px they were cut mid-word).
        self.setStatusBar(MessageBar(self))
        self.activity = StatusActivity(self.statusBar())
        # Numbers are never cut (as wide as their widest since the image opened); names
        # (classes) are cut with "…" at a bounded width, whole in their tooltips.
        self.pos_label = ReadoutLabel()
        self.pos_label.setToolTip(
            "The pixel under the cursor: column x, row y (from 0), and z, the slice of its "
            "stack (the slice file's number)"
        )
        # A NIfTI scan's voxel under the cursor and where it lies, on one of its slices.
        self.voxel_label = ReadoutLabel()
        self.voxel_label.setToolTip(
            "The voxel of the scan's file under the cursor (i, j, k, from 0) and its "
            "position by the file's affine (RAS: towards the patient's right, anterior, "
            "superior), as 3D Slicer gives them"
        )
        self.voxel_label.setContentsMargins(0, 0, 12, 0)
        self.voxel_label.hide()
        self.value_label = ReadoutLabel()
        self.class_label = ElidedLabel(
            "The class of the pixel under the cursor", widest=160, narrowest=90
        )
        # The proposal's class and uncertainty under the cursor, while one is shown.
        self.proposal_label = ElidedLabel(
            "The proposal under the cursor: its class and uncertainty", widest=220, narrowest=110
        )
        self.proposal_label.setContentsMargins(0, 0, 12, 0)  # (the zoom follows)
        self.zoom_label = ReadoutLabel()
        self.protect_label = ElidedLabel("Protected painting (X toggles)", widest=180, narrowest=90)
        self.protect_label.setContentsMargins(0, 0, 12, 0)
        self.statusBar().addPermanentWidget(self.protect_label)
        # The window for every image, while one is on (View > Contrast).
        self.contrast_label = ElidedLabel(
            "Every image of this kind is shown with one contrast window (View > Contrast: "
            'untick "Use for every image" or press Automatic to drop it)',
            widest=200,
        )
        self.contrast_label.setContentsMargins(0, 0, 12, 0)
        self.contrast_label.hide()
        self.statusBar().addPermanentWidget(self.contrast_label)
        for w in (self.pos_label, self.value_label, self.class_label):
            w.setContentsMargins(0, 0, 12, 0)  # (a gap to the next, not 110 px each)
        #: What the status bar says of the pixel under the cursor (blank off the image).
        self._cursor_labels = (
            self.pos_label,
            self.voxel_label,
            self.value_label,
            self.class_label,
            self.proposal_label,
        )
        for w in (*self._cursor_labels, self.zoom_label):
            self.statusBar().addPermanentWidget(w)
        self.proposal_label.hide()

    def _connect(self) -> None:
        a, c = self.actions_, self.canvas
        a["open"].triggered.connect(self.ask_open_project)
        a["save"].triggered.connect(self.save_now)
        a["quit"].triggered.connect(self.close)
        a["undo"].triggered.connect(self.undo)
        a["redo"].triggered.connect(self.redo)
        for name in c.tools:
            a[f"tool_{name}"].triggered.connect(lambda _=False, n=name: c.set_tool(n))
        a["brush_smaller"].triggered.connect(
            lambda: c.set_brush_radius(radius_step(c.brush_radius, bigger=False))
        )
        a["brush_bigger"].triggered.connect(
            lambda: c.set_brush_radius(radius_step(c.brush_radius, bigger=True))
        )
        a["pick_class"].triggered.connect(self._pick_under_pointer)
        c.pick_requested.connect(self.pick_class)
        c.painting.connect(self._painting_with)
        a["toggle_labels"].toggled.connect(c.set_labels_visible)
        a["toggle_outlines"].toggled.connect(c.overlay.set_outline)
        a["labels_fainter"].triggered.connect(lambda: self._step(self.opacity_slider, -1))
        a["labels_stronger"].triggered.connect(lambda: self._step(self.opacity_slider, 1))
        a["proposal_fainter"].triggered.connect(
            lambda: self._step(self.proposal_opacity_slider, -1)
        )
        a["proposal_stronger"].triggered.connect(
            lambda: self._step(self.proposal_opacity_slider, 1)
        )
        a["choose_class"].triggered.connect(self.choose_class)
        a["paint_void"].triggered.connect(self._paint_void)
        a["fit"].triggered.connect(c.fit_to_window)
        a["zoom_in"].triggered.connect(lambda: c.zoom_step(1.25))  # around the pointer
        a["zoom_out"].triggered.connect(lambda: c.zoom_step(0.8))
        a["zoom_1"].triggered.connect(lambda: c.set_zoom(1.0))
        a["contrast"].triggered.connect(self.show_contrast)
        a["channels"].triggered.connect(self.show_channels)
        a["next"].triggered.connect(lambda: self.go(1))
        a["previous"].triggered.connect(lambda: self.go(-1))
        a["mark_done"].triggered.connect(self.mark_done)
        a["shortcuts"].triggered.connect(self.show_shortcuts)
        a["about"].triggered.connect(self.show_about)
        c.tool_changed.connect(lambda n: a[f"tool_{n}"].setChecked(True))
        c.brush_radius_changed.connect(self.radius_spin.setValue)
        c.cursor_moved.connect(self._show_cursor)
        c.notice.connect(self._tool_notice)
        c.zoom_changed.connect(lambda z: self.zoom_label.setText(f"zoom {z * 100:.0f}%"))
        self.radius_spin.valueChanged.connect(c.set_brush_radius)
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        self.proposal_opacity_slider.valueChanged.connect(
            lambda percent: self.loop.layers.set_opacity(percent / 100.0)
        )
        self.protection.currentIndexChanged.connect(self._protection_changed)
        a["toggle_protection"].triggered.connect(self.protection.toggle)
        self.cleanup_spin.valueChanged.connect(c.set_cleanup_area)
        a["cleanup_image"].triggered.connect(self._clean_up_image)
        self.edges_check.toggled.connect(self._update_tolerance)
        self.tolerance_spin.valueChanged.connect(self._tolerance_edited)
        self.image_list.image_activated.connect(self.open_image)
        self.image_list.remove_requested.connect(self.remove_images)
        self.class_panel.value_selected.connect(c.set_current_value)
        self.class_panel.visibility_changed.connect(self._set_hidden)
        self.class_panel.add_requested.connect(
            lambda n, col: self._edit_schema("add_class", n, col or None)
        )
        self.class_panel.rename_requested.connect(
            lambda i, n: self._edit_schema("rename_class", i, n)
        )
        self.class_panel.recolour_requested.connect(
            lambda i, col: self._edit_schema("recolour_class", i, col)
        )
        self.class_panel.remove_requested.connect(lambda i: self.take_out_class(i, None))
        self.class_panel.merge_requested.connect(self.take_out_class)
        self.class_panel.move_requested.connect(self.move_class)
        self.contrast_dialog.windows_changed.connect(self._set_windows)
        self.contrast_dialog.reset.connect(lambda: self._set_windows(None))
        self.contrast_dialog.shared_toggled.connect(self._share_windows)
        self.channels_dialog.chosen.connect(self.choose_channels)

    def _connect_loop(self) -> None:
        """All wiring of the loop controller: its layers, actions and signals."""
        a, loop = self.actions_, self.loop
        self.canvas.add_layer(loop.layers.uncertainty_item, Z_LAYERS)
        self.canvas.add_layer(loop.layers.proposal_item, Z_LAYERS + 1)
        a["accept"].triggered.connect(lambda: loop.accept(False))
        a["accept_class"].triggered.connect(lambda: loop.accept(True))
        a["train_now"].triggered.connect(lambda: loop.train_now())
        a["train_scratch"].triggered.connect(lambda: loop.train_now(from_scratch=True))
        a["cancel_training"].triggered.connect(loop.cancel_training)
        a["next_suggested"].triggered.connect(loop.open_next_suggested)
        a["import_model"].triggered.connect(lambda: loop.import_model())
        a["export_model"].triggered.connect(lambda: loop.export_model())
        self.class_panel.visibility_changed.connect(lambda _hidden: loop.recolour())
        a["toggle_labels"].toggled.connect(lambda _shown: loop.view_changed())
        self.canvas.tool_changed.connect(lambda _name: loop.view_changed())
        loop.message.connect(self._loop_said)
        loop.long_note.connect(self.activity.note)
        loop.round_finished.connect(self._round_finished)
        loop.scores_changed.connect(self.image_list.update_scores)
        loop.ranked.connect(self.image_list.resort)  # rows hold still until then
        loop.open_requested.connect(self.open_image)
        loop.proposal_shown.connect(lambda *_: self._refresh_cursor())
        for name in ("toggle_proposal", "toggle_uncertainty"):
            a[name].toggled.connect(lambda _shown: self._refresh_cursor())
            a[name].triggered.connect(lambda shown, n=name: self._say_nothing_shown(n, shown))

    # --- project ---------------------------------------------------------------------------------
    @property
    def document(self) -> Document | None:
        return None if self.session is None else self.session.document

    @property
    def dispatcher(self) -> GuiDispatcher:
        """Runs callbacks of worker threads on the GUI thread."""
        return self._dispatch

    def class_panel_hidden(self) -> frozenset[int]:
        """The label values the user hid in the class panel."""
        return self._hidden

    def ask_open_project(self) -> None:
        folder = ask_project_folder(self)  # refuses a folder that is not a project
        if folder is not None:
            self.open_project(folder)

    def open_project(self, path: Path) -> str | None:
        """Open the project folder at ``path`` (closing the current one first). Returns
        None once it is open, else why it is not (said in a box first)."""
        try:
            project = open_project(path)
        except ProjectLocked as exc:  # (the CLI's refusal names its read-only commands)
            said = locked_text(path, exc.holder)
            QMessageBox.warning(self, "Cannot open project", box_sentence(said))
            return said
        except AnnotatorError as exc:
            QMessageBox.warning(self, "Cannot open project", box_sentence(str(exc)))
            return str(exc)
        try:
            project.schema  # noqa: B018 (fail now on a damaged class table)
        except AnnotatorError as exc:
            project.close()  # its lock too: another process may open it once repaired
            QMessageBox.warning(self, "Cannot open project", box_sentence(str(exc)))
            return str(exc)
        try:
            self.set_project(project)
        except BaseException as exc:
            # (a damaged setting or record of the project: the window must not stay half
            # switched to it, holding its lock until the process ends)
            self._owned_project = project
            with contextlib.suppress(Exception):
                self.close_project()
            project.close()
            if not isinstance(exc, AnnotatorError):
                raise  # a bug: the error report says it
            QMessageBox.warning(self, "Cannot open project", box_sentence(str(exc)))
            return str(exc)
        self._owned_project = project
        self.file_menu.project_opened(project.root)
        restore_project_class(self, self.settings, project.root)
        if (note := recovered_note(project)) is not None:  # what the opening recovered
            self.activity.note(recovered_short(project) or note, note, 15000)
            project.stopped_imports_said()
        return None

    def set_project(self, project: Project) -> None:
        """Show ``project`` (the caller keeps ownership unless opened by the window)."""
        self.close_project()
        self.opened_a_project = True  # (what the next start opens is then this run's)
        self.session = AnnotationSession(
            project,
            dispatch=self._dispatch,
            on_save_error=self._save_failed,
            rescue_dir=data_folder() / "rescued",
        )
        self.session.add_saved_listener(self._refresh_record)
        self.session.add_saved_listener(self.activity.saved)
        self.setWindowTitle(f"Annotator — {printable(project.root.name)}")
        self._hidden = frozenset()  # hidden ids were the last project's classes
        self._windows = {}
        self._show_shared(shared_windows(project))
        self.class_panel.note.hide()  # the last project's class change is not news here
        self.class_panel.list.setCurrentRow(-1)  # the last project's row means another class
        self.show_schema(project.schema)
        self.canvas.set_current_value(self.class_panel.current_value() or 0)
        self.image_list.set_records(project.images())
        self.loop.set_project(project)
        first = self.session.last_image_id()
        if first is not None:
            self.open_image(first)
        self._update_enabled()

    def close_project(self) -> None:
        """Save everything and close the session (and the project if the window opened it)."""
        self._stop_autosave()
        self.loop.close()  # cancel a round and join it (bounded) before the project closes
        if self.session is not None:
            self.canvas.finish_gesture()
            # (the class painted in it, for when it is opened again: not only on quit)
            self.settings.set_project_class(
                self.session.project.root, self.canvas.current_value, *painted_name(self)
            )
            # (labels the project cannot take: rescued, or the user asked)
            close_session(self, self.session, asking=not self.ending_from_outside)
            self.session = None
        if self.canvas.smart is not None:
            self.canvas.smart.forget()  # image ids mean other pictures in another project
        self._show_shared(None)  # (the project's own, shown again when it is opened)
        self.canvas.set_document(None, None, colour_table(_EMPTY_SCHEMA, 0))
        if self._owned_project is not None:
            self._owned_project.close()
            self._owned_project = None
        self.setWindowTitle("Annotator")
        self._update_enabled()

    def _round_finished(self, outcome: RoundOutcome) -> None:
        """A version trained with the classes as they are: the class panel's note on
        their change (what the next round would do) is done with."""
        if outcome.status == "published" and outcome.model is not None:
            self.class_panel.model_caught_up(outcome.model.card.classes)

    # --- images ---------------------------------------------------------------------------------
    def open_image(self, image_id: int) -> None:
        """Open ``image_id``: at once, or, for a big picture, once a worker thread has
        decoded it (ADR 0016); the current image stays open and editable meanwhile."""
        if self.session is None:
            return
        session, doc = self.session, self.document
        if session.reading is not None:  # a big picture is on its way
            if image_id == session.reading:
                return  # asked again (N twice, a second click): it is coming
            if doc is not None and image_id == doc.image_id:
                session.cancel_read()  # back to the image still open: keep it as it is
                self.image_list.set_current(image_id)
                self.activity.image_opened(doc.record.name)
                return
        try:
            record = session.project.image(image_id)
        except AnnotatorError as exc:
            self._open_failed(str(exc))
            return
        self.activity.loading(record.name)
        if record.width * record.height >= self.background_open_pixels:
            session.read_soon(image_id, self._open, self._read_failed)
            self.image_list.set_current(image_id)  # where the user is going
            self._update_enabled()  # an empty canvas says "Loading…"
        else:
            self._open(image_id, None)

    def save_before(self, title: str) -> None:
        """Hand the open image's labels to the saver and wait until they are written:
        what needs them on disk (a status, a class change, an import) then waits no
        more. Writing the map of a big image takes seconds, for which the window froze:
        past a quarter of a second the wait goes on off the GUI thread, behind a progress
        dialog (``title``) shown at once, so that no key or click reaches the window
        meanwhile (a PgDown taken during the wait made Ctrl+D mark the next image). A
        failure is the next synchronous save's to say."""
        session = self.session
        if session is None:
            return
        session.save()
        if not session.writing or session.wait_written(SAVE_WAIT_S):
            return
        doc = self.document
        label = f"Saving the labels of {doc.record.name}…" if doc else "Saving labels…"
        run_with_progress(
            self, title, label, lambda _p: session.wait_written(), cancellable=False, at_once=True
        )

    def close_image(self, *, keep_histories: bool = False) -> bool:
        """Save and close the open image (an import may rewrite its labels); the canvas
        shows nothing until an image is opened again, so no edit goes to a closed one.
        ``keep_histories``: see :meth:`Session.close_document`.

        False when its labels could not be saved (said in a box): the image stays open,
        and the caller must not go on as if it were closed."""
        if self.session is None:
            return True
        self.canvas.finish_gesture()
        self._stop_autosave()
        self.save_before("Save")
        try:
            self.session.close_document(keep_histories=keep_histories)
        except AnnotatorError as exc:
            self.schedule_autosave()  # kept open, and saved again
            QMessageBox.warning(self, "Labels not saved", box_sentence(str(exc)))
            return False
        self.canvas.set_document(None, None, self._table())
        self.loop.layers.clear()
        self._update_enabled()
        return True

    def _read_failed(self, _image_id: int, exc: AnnotatorError) -> None:
        self._open_failed(str(exc), _failure_title(exc))

    def _open(self, image_id: int, pixels: np.ndarray | None) -> None:
        """Open ``image_id`` (its ``pixels`` when a worker decoded them) and show it."""
        if self.session is None:
            return
        dropped = self.end_gesture()  # (what it dropped, a polygon not closed, stays said)
        self._stop_autosave()
        try:
            doc = self.session.open_image(image_id, pixels)
        except AnnotatorError as exc:
            self._open_failed(str(exc), _failure_title(exc))
            return
        except Exception as exc:  # (memory, a bug): the canvas must not keep a closed image
            log.exception("opening image %s failed", image_id)
            self._open_failed(f"cannot open the image ({type(exc).__name__}: {exc})")
            return
        doc.add_commit_listener(self._labels_committed)
        # The window for every image of its kind, else the one chosen when it was last open.
        shared, own = self._shared, self._windows.get(image_id)
        windows = shared if shared is not None and shared.fits(doc) else own
        if windows is not None and windows.fits(doc):
            doc.set_windows(windows.windows)
        self._slice_place = place = slice_place(self.session.project, doc.record)
        aspect = place.pixel_aspect if place is not None else (1.0, 1.0)
        self.canvas.set_document(doc, doc.display_image(), self._table(), aspect)
        self._fit_tolerance(doc.image)
        if self.canvas.smart is not None:
            self.canvas.smart.keep_only(image_id)
        self._show_cursor(-1, -1)  # the old image's pixel; blank until the mouse moves
        for readout in (self.pos_label, self.voxel_label, self.value_label):
            readout.forget_width()  # (this image's numbers may be narrower)
        if self.contrast_dialog.isVisible():
            self._show_window_of(doc)  # the dialog speaks of the image shown
        self.image_list.set_current(image_id)
        self.loop.image_opened(doc)
        self.activity.image_opened(doc.record.name)
        if not dropped:  # (else that line stays: the name is in the list and the title)
            self.statusBar().showMessage(
                f"{one_line(doc.record.name)}  {doc.record.width}x{doc.record.height}", 3000
            )
        self._update_enabled()

    def _open_failed(self, message: str, title: str = "Cannot open image") -> None:
        """Show what the session has open after an image failed to open: the image that
        was open before (the session keeps it when the new file cannot be read), or none
        (so no edit goes to a document that is no longer saved)."""
        doc = self.document
        if doc is None:
            self.canvas.set_document(None, None, self._table())
            self.loop.layers.clear()
            self.activity.say("No image open")
        else:
            self.schedule_autosave()  # the edits made before the attempt are kept
            self.activity.say(f"{doc.record.name} open")
        self.image_list.set_current(None if doc is None else doc.image_id)
        self._update_enabled()
        QMessageBox.warning(self, title, box_sentence(message))

    def go(self, step: int) -> None:
        """Open the next (``step`` 1) or previous (-1) image of the filtered list."""
        if self.session is None:
            return
        target = self.session.neighbour(step, self.image_list.visible_ids())
        if target is not None:
            self.open_image(target)

    def end_gesture(self) -> str:
        """End the gesture in progress (:meth:`Canvas.finish_gesture`); return the line
        it said of what it dropped (a polygon not closed), "" if none, for the caller's
        own message to carry: shown over it, that line was gone at once (Ctrl+D, A,
        Shift+K mid-polygon threw the vertices away without a word)."""
        self._notice = ""
        self.canvas.finish_gesture()
        return self._notice

    def _say(self, text: str, ms: int, dropped: str = "") -> None:
        """``text`` in the status bar, with ``dropped`` (see :meth:`end_gesture`) after it."""
        if dropped:
            text, ms = along(text, dropped), max(ms, 10000)
        self.statusBar().showMessage(text, ms)

    def _loop_said(self, text: str, ms: int) -> None:
        self._say(text, ms, self._carried)

    def mark_done(self) -> None:
        if self.session is None or self.document is None:
            return
        dropped = self.end_gesture()
        doc = self.document
        if doc.record.status is not ImageStatus.DONE and not doc.label_map.labelled_count():
            # A done image without a label map is left out of exports and training:
            # marking it done would only hide it from "next suggested".
            self._say(f"{doc.record.name} {image_status.NO_LABELS}", 5000, dropped)
            return
        self.save_before("Mark done")
        if self.document is not doc:  # (a big picture's background read landed meanwhile)
            self._say(f"{doc.record.name} was left while its labels were saved: not marked", 5000)
            return
        if self.session.labels_not_written(doc.image_id):  # (the failure is said in a box)
            # Marked done anyway, its labels not on disk: a round and an export would
            # read the older ones; and trying again here froze the window for the save.
            self._say(f"{doc.record.name} not marked: its labels could not be saved", 10000)
            return
        try:
            record = self.session.mark_done()
        except AnnotatorError as exc:  # a database locked by another program, say
            self.schedule_autosave()
            QMessageBox.warning(self, "Status not changed", box_sentence(str(exc)))
            return
        if record is not None:
            self._update_enabled()  # the action now says the other way
            self.image_list.update_record(record)
            self._say(f"{record.name}: {record.status.value.replace('_', ' ')}", 3000, dropped)
            self._carried = dropped  # (the loop's word on a round, said next, carries it too)
            try:
                self.loop.image_done(record)
            finally:
                self._carried = ""

    # --- edits -------------------------------------------------------------------------------------
    def undo(self) -> None:
        """Undo the last step; during a gesture, the gesture's own last part instead (a
        drag is aborted, an outline loses its last vertex); while a GrabCut or clean-up
        is still being computed, that instead (:meth:`_cancel_landings`)."""
        if self.document is None or self.canvas.undo_in_gesture():
            return
        if self._cancel_landings("Undo"):
            return
        self.canvas.finish_gesture()
        self.document.undo()

    def redo(self) -> None:
        """Redo the step undone last; while a GrabCut or clean-up is still being
        computed, cancel it instead (:meth:`_cancel_landings`)."""
        doc = self.document
        if doc is None or (doc.history.can_redo and self._cancel_landings("Redo")):
            return
        doc.redo()

    def _cancel_landings(self, by: str) -> bool:
        """Cancel the GrabCut and clean-up results of the open image still to land, and
        say so; whether there were any. Landing after the undo or redo (``by``) as a new
        step, such a result cleared the redo: the step undone could never come back."""
        smart, doc = self.canvas.smart, self.document
        if smart is None or doc is None:
            return False
        kinds = smart.cancel_landings(doc.image_id)
        if kinds:
            self.statusBar().showMessage(cancelled_text(kinds, by), 10000)
        return bool(kinds)

    def _tool_notice(self, text: str) -> None:
        """A tool's line of why its gesture did nothing (the status bar, 10 s)."""
        self._notice = text
        self.statusBar().showMessage(text, 10000)

    def _labels_committed(self) -> None:
        """Once per committed gesture (never per mouse move): save soon, tell the loop,
        list the image's status (in progress once labelled) without waiting for the save.
        A tool's "Nothing changed" of an earlier gesture no longer holds: it goes."""
        if self._notice and self.statusBar().currentMessage() == self._notice:
            self.statusBar().clearMessage()
        self._notice = ""
        self.schedule_autosave()
        self.loop.labels_committed()
        self._update_enabled()
        self._refresh_cursor()
        self._list_open_status()

    def _list_open_status(self) -> None:
        """Show the open image in the list with the status its next save stores."""
        doc, session = self.document, self.session
        if doc is None or session is None:
            return
        shown, status = self.image_list.record(doc.image_id), session.listed_status()
        if shown is not None and status is not None and shown.status is not status:
            self.image_list.update_record(replace(shown, status=status))

    def _refresh_cursor(self) -> None:
        """Read the pixel under a cursor that did not move again: its label (or image,
        or class name) may have changed under it."""
        if self._cursor is not None:
            self._show_cursor(*self._cursor)

    def schedule_autosave(self) -> None:
        """(Re)start the autosave timer: the save runs :attr:`autosave_delay_ms` after
        the last commit, and is on disk at the latest :attr:`autosave_max_delay_ms` after
        the first commit not yet saved (a user who never pauses is saved too): handed
        over that much earlier as the image's last write took."""
        now = time.monotonic()
        if self._unsaved_since is None:
            self._unsaved_since = now
        # The bound is to the disk: the hand-off comes as much earlier as the last write
        # of this image took (a 4096 x 4096 map: 0.3-1.4 s), up to half the bound.
        writing_ms = 1000 * self.session.write_seconds() if self.session is not None else 0.0
        bound_ms = self.autosave_max_delay_ms - min(writing_ms, self.autosave_max_delay_ms / 2)
        left_ms = bound_ms - (now - self._unsaved_since) * 1000
        self.autosave_timer.start(int(max(0.0, min(self.autosave_delay_ms, left_ms))))

    def _stop_autosave(self) -> None:
        """No autosave pending: the caller saves synchronously now."""
        self.autosave_timer.stop()
        self._unsaved_since = None

    def save_now(self) -> None:
        """Hand the current labels to the background writer (no wait). During a gesture
        (a brush held down) the edits committed before it are saved; the gesture's own
        pixels are saved once it is committed (its commit schedules the next save)."""
        if self.session is not None:
            self._stop_autosave()
            if self.session.save():
                self.activity.saving()

    def save_and_wait(self) -> None:
        """Save the open image's labels, a stroke in progress included, and wait until
        they are on disk (a session ending: logout, shutdown). The image stays open."""
        if self.session is None:
            return
        self.canvas.finish_gesture()
        self._stop_autosave()
        self.session.save(wait=True)

    def _refresh_record(self, image_id: int) -> None:
        if self._save_failing:  # (the failure's line would stay up for 10 s)
            listed = self.image_list.record(image_id)
            name = listed.name if listed is not None else f"image {image_id}"
            self.statusBar().showMessage(f"Saving works again: {name} saved", 5000)
        self._save_failing = False
        session = self.session
        if session is not None:
            record = session.project.image(image_id)
            doc = self.document
            if doc is not None and doc.image_id == image_id:  # edits since that save count
                status = session.listed_status()
                if status is not None and status is not record.status:
                    record = replace(record, status=status)
                # (a done image whose labels were all erased is saved in progress:
                # Ctrl+D then marks it done again, and says so)
                self._update_enabled()
            self.image_list.update_record(record)

    def _save_failed(self, image_id: int, exc: Exception) -> None:
        """An autosave failed: tried again every :attr:`save_retry_ms` until a save
        works (no edit needed); said in the status bar each time, and in a box once until
        a save works again (a database locked for a minute fails a save every few
        seconds)."""
        retry_s = max(1, round(self.save_retry_ms / 1000))
        if self.session is not None and not (
            self.autosave_timer.isActive()
            and self.autosave_timer.remainingTime() <= self.save_retry_ms
        ):  # (an edit's autosave due sooner tries first; a failure of it comes back here)
            self.autosave_timer.start(self.save_retry_ms)
        listed = self.image_list.record(image_id)
        name = listed.name if listed is not None else f"image {image_id}"
        self.statusBar().showMessage(save_failure_line(name, exc, retry_s), 10000)
        if self._save_failing or self.ending_from_outside:
            return
        self._save_failing = True
        left = self.document is None or self.document.image_id != image_id
        title, text = save_failure_box(name, exc, left, retry_s)
        QMessageBox.warning(self, title, plain(text))

    # --- display ---------------------------------------------------------------------------------------
    def _table(self) -> np.ndarray:
        if self.session is None:
            return colour_table(_EMPTY_SCHEMA, 0)
        doc = self.document
        size = 256 if doc is None or doc.label_map.dtype == np.uint8 else 65536
        return colour_table(self.session.schema, self._opacity, self._hidden, size)

    def _step(self, slider: QSlider, steps: int) -> None:
        """Move an opacity slider ``steps`` tenths, and say where it is now."""
        slider.setValue(slider.value() + 10 * steps)
        what = "Labels" if slider is self.opacity_slider else "Proposal and uncertainty"
        self.statusBar().showMessage(f"{what}: opacity {slider.value()} %", 2000)

    def _set_opacity(self, percent: int) -> None:
        self._opacity = percent / 100.0
        self.canvas.set_colour_table(self._table())

    def set_hidden(self, hidden: frozenset[int]) -> None:
        """Hide the classes of these label values (the panel shows it from the next
        :meth:`show_schema`)."""
        self._set_hidden(hidden)

    def _set_hidden(self, hidden: frozenset[int]) -> None:
        self._hidden = hidden
        self.canvas.set_colour_table(self._table())

    def _edit_schema(self, method: str, *args: object) -> None:
        if self.session is None:
            return
        old = self.session.schema
        # A rename stops the proposal worker first: a request running into the renamed
        # classes before the loop hears of them failed, a warning in the log.
        held = loop_held(self) if method == "rename_class" else contextlib.nullcontext()
        with held:
            try:
                schema = getattr(self.session, method)(*args)
            except AnnotatorError as exc:
                QMessageBox.warning(self, "Class not changed", box_sentence(str(exc)))
                return
            self.show_schema(schema)
        service = self.loop.service
        active = service.active_record if service is not None else None
        model = active.card.class_names if active is not None else None
        self.statusBar().showMessage(self.class_panel.explain_change(old, schema, model), 10000)

    def take_out_class(self, class_id: int, into: int | None) -> None:
        """Remove a class (``into`` None) or merge it into ``into``: every label map is
        rewritten (``gui.class_changes``)."""
        from annotator.gui.class_changes import take_out

        take_out(self, class_id, into)

    def remove_images(self, ids: list[int]) -> None:
        """Ask, then remove these images from the project (``gui.image_removal``)."""
        from annotator.gui.image_removal import remove

        remove(self, ids)

    def move_class(self, class_id: int, to: int) -> None:
        """Give class ``class_id`` the id ``to``, the classes between shifting one place:
        every label map is rewritten (``gui.class_changes``)."""
        from annotator.gui.class_changes import move

        move(self, class_id, to)

    def show_schema(self, schema: LabelSchema) -> None:
        """Show the classes everywhere they appear: the class panel, the "Paint over"
        choices (and what the canvas protects: the choice may have fallen back), the
        status bar's words for it, and the overlay's colours."""
        self.class_panel.set_schema(schema, self._hidden)
        self.protection.set_classes(schema.names, schema.unlabelled)
        self._protection_changed()
        if self.session is not None:
            self.canvas.set_colour_table(self._table())
            self.loop.schema_changed(schema)
        self._refresh_cursor()  # a renamed class

    def show_contrast(self) -> None:
        doc = self.document
        if doc is None:
            return
        self._show_window_of(doc)
        self.contrast_dialog.show()
        self.contrast_dialog.raise_()

    def _show_window_of(self, doc: Document) -> None:
        """Put the windows the image is shown with into the contrast dialog, one per
        channel shown: the window for every image, its own, or the automatic ones (8-bit
        pictures are shown as they are, 0-255); CT presets for a picture like CT."""
        dialog, shared = self.contrast_dialog, self._shared
        choice = doc.channel_choice
        chosen = shown(choice) if applies(channel_count(doc.image), choice) else ()
        fits = shared is not None and shared.fits(doc)
        note = "" if shared is None or fits else shared_elsewhere(shared)
        dialog.set_presets(doc.looks_like_ct)
        dialog.set_shared(fits, note)
        dialog.set_windows(doc.windows or doc.auto_windows, doc.channel_ranges, chosen)

    def show_channels(self) -> None:
        doc = self.document
        if doc is None:
            return
        self.channels_dialog.set_picture(channel_count(doc.image), doc.channel_choice)
        self.channels_dialog.show()
        self.channels_dialog.raise_()

    def choose_channels(self, choice: tuple[int, ...]) -> None:
        """Store the project's channel choice and redraw the picture with it; the
        contrast windows go back to the automatic ones of the channels now shown."""
        doc, session = self.document, self.session
        if doc is None or session is None:
            return
        try:
            session.choose_channels(choice)
        except AnnotatorError as exc:
            QMessageBox.warning(self, "Channels not changed", box_sentence(str(exc)))
            return
        self._windows.clear()  # (windows of other channels)
        self._show_shared(None)  # (the session dropped it from the project)
        if self.canvas.smart is not None:  # superpixels of the channels shown before
            self.canvas.smart.forget()
        self.canvas.set_display_image(doc.display_image())
        if self.contrast_dialog.isVisible():
            self._show_window_of(doc)
        self.channels_dialog.set_picture(channel_count(doc.image), doc.channel_choice)
        self.loop.channels_changed()

    def _set_windows(self, windows: tuple[Window, ...] | None) -> None:
        """Show the open image with ``windows`` (the dialog's), or with the automatic ones
        (None: Automatic, which drops the window for every image it is shown with)."""
        doc = self.document
        if doc is None:
            return
        shared = self._shared is not None and self._shared.fits(doc)
        before = doc.windows
        doc.set_windows(windows)
        self._smart_sees(doc, before)
        if windows is None:
            self._windows.pop(doc.image_id, None)
            if shared:
                self._keep_shared(None)
        elif shared:  # (a preset chosen too)
            self._keep_shared(ContrastWindows.of(doc, windows))
        else:
            self._windows[doc.image_id] = ContrastWindows.of(doc, windows)
        self.canvas.set_display_image(doc.display_image())
        if windows is None:
            self._show_window_of(doc)

    def _share_windows(self, on: bool) -> None:
        """ "Use for every image" ticked: the window the open image is shown with becomes
        the one every image of its kind is shown with (their own windows give way);
        unticked: each image of the kind is shown with its automatic window again."""
        doc = self.document
        if doc is None:
            return
        before = doc.windows
        if on:
            shared = ContrastWindows.of(doc, doc.windows or doc.auto_windows)
            doc.set_windows(shared.windows)
            self._windows = {i: w for i, w in self._windows.items() if w.kind != shared.kind}
            self._keep_shared(shared)
        else:
            doc.set_windows(None)
            self._keep_shared(None)
        self._smart_sees(doc, before)
        self.canvas.set_display_image(doc.display_image())
        self._show_window_of(doc)

    def _smart_sees(self, doc: Document, before: tuple[Window, ...] | None) -> None:
        """The smart tools see the picture through the window it is shown with (ADR
        0036): one changed from ``before`` drops the image's superpixels, computed again
        through it, off the GUI thread, at the next press of the brush."""
        if self.canvas.smart is not None and doc.windows != before:
            self.canvas.smart.forget(doc.image_id)

    def _keep_shared(self, shared: ContrastWindows | None) -> None:
        """Make ``shared`` the window for every image (None: none) and keep it in the
        project; one that cannot be kept there (another program holds the project's
        write lock) applies while the project is open, and the status bar says so."""
        self._show_shared(shared)
        if self.session is None:
            return
        try:
            keep_shared_windows(self.session.project, shared, timeout=SHARED_KEEP_TIMEOUT_S)
        except (AnnotatorError, OSError, sqlite3.Error) as exc:
            log.warning("could not keep the contrast window for every image: %s", exc)
            self.statusBar().showMessage(
                "The contrast window for every image could not be kept in the project "
                f"({first_line(exc)}); it applies until the project is closed",
                10000,
            )

    def _show_shared(self, shared: ContrastWindows | None) -> None:
        """Take ``shared`` as the window for every image, and say it in the status bar."""
        self._shared = shared
        self.contrast_label.setText("" if shared is None else shared_text(shared))
        self.contrast_label.setVisible(shared is not None)

    def _proposal_of(self, image_id: int) -> Proposal | None:
        layers = self.loop.layers
        return layers.proposal if layers.image_id == image_id else None

    def _protection_changed(self) -> None:
        self.canvas.set_protected_value(self.protection.value(), self.protection.describe())
        self.protect_label.setText(self.protection.describe())
        self.loop.view_changed()

    def _clean_up_image(self) -> None:
        doc = self.document
        if doc is None:
            return
        dropped = self.end_gesture()  # a stroke held meanwhile ends as its own step
        clean_up(self.canvas, say=lambda text: self._say(text, 5000, dropped))

    def _tolerance_edited(self) -> None:
        self._tolerance_8bit = self.tolerance_spin.value() / self._tolerance_scale
        self._update_tolerance()

    def _fit_tolerance(self, image: np.ndarray) -> None:
        """Show the fill's tolerance in the units of ``image``, just opened: the same
        share of its range as the user set (8-bit images: the value set; a float picture
        keeps its fraction). A picture whose channels have windows of their own (16-bit
        RGB) takes it in 8-bit levels, each channel scaled by its window (ADR 0027)."""
        scales = tolerance_scales(image, max_pixels=1 << 20)
        channels = scales if per_channel(image) else None
        scale = 1.0 if channels is not None else scales[0]
        stored = source_dtype(image)  # (an 8-bit picture with nodata pixels: uint8)
        floats = stored.kind == "f" and channels is None
        fit = (scale, channels, floats)
        if fit == self._tolerance_fit:
            return
        self._tolerance_fit, self._tolerance_scale, self._channel_scales = fit, scale, channels
        spin = self.tolerance_spin
        spin.blockSignals(True)
        # A float picture's tolerance is a fraction (0.37 of values 0.25..5): shown with
        # two digits of one 8-bit level, never rounded to 0.
        spin.setDecimals(max(2, math.ceil(-math.log10(scale)) + 2) if floats else 2)
        spin.setSingleStep(scale if floats else 1.0)
        top = float(np.iinfo(stored).max) if stored.kind in "ui" else 65535.0
        spin.setMaximum(255.0 if channels is not None else max(top, 255.0 * scale))
        value = self._tolerance_8bit * scale
        spin.setValue(value if scale == 1.0 or floats else round(value))
        spin.setToolTip(
            "Tolerance of the edge-stopped fill, in 8-bit levels of each channel's contrast "
            "window (this picture's channels have ranges of their own)"
            if channels is not None
            else TOLERANCE_TIP
        )
        spin.blockSignals(False)
        self._update_tolerance()

    def _update_tolerance(self) -> None:
        value = self.tolerance_spin.value()
        tolerance: Tolerance | None = None
        if self.edges_check.isChecked():
            scales = self._channel_scales
            tolerance = value if scales is None else tuple(value * s for s in scales)
        self.canvas.set_fill_tolerance(tolerance)

    def _show_cursor(self, x: int, y: int) -> None:
        self._cursor = (x, y)
        doc = self.document
        if doc is None or not (0 <= y < doc.label_map.height and 0 <= x < doc.label_map.width):
            for w in self._cursor_labels:
                w.setText("")
            self.proposal_label.hide()
            self.voxel_label.hide()
            return
        place = self._slice_place
        self.pos_label.setText(f"x {x}  y {y}" + (f"  z {place.index}" if place else ""))
        self.voxel_label.setText(place.voxel_text(x, y) if place else "")
        self.voxel_label.setVisible(bool(place and place.locator))
        self.value_label.setText("value " + pixel_value_text(doc.image[y, x]))
        self.class_label.setText(f"class {self._label_name(int(doc.label_map.array[y, x]))}")
        self._show_proposal_at(x, y)

    def _show_proposal_at(self, x: int, y: int) -> None:
        """The proposal's class and uncertainty at pixel (x, y) of the open image, while
        its layer or the uncertainty map is shown; nothing otherwise."""
        doc, label = self.document, self.proposal_label
        proposal = None if doc is None else self._proposal_of(doc.image_id)
        a = self.actions_
        shown = a["toggle_proposal"].isChecked() or a["toggle_uncertainty"].isChecked()
        if (
            proposal is None
            or not shown
            or not (0 <= y < proposal.shape[0] and 0 <= x < proposal.shape[1])
        ):
            label.setText("")
            label.hide()
            return
        name = self._label_name(int(proposal.mask[y, x]))
        label.setText(f"proposal {name}, uncertainty {float(proposal.uncertainty[y, x]):.2f}")
        label.show()

    def _label_name(self, label: int) -> str:
        """A label value in words: its class's name, "unlabelled", "void" or "#k"."""
        doc = self.document
        schema = self.session.schema if self.session else None
        if doc is not None and label == doc.label_map.unlabelled:
            return "unlabelled"
        if schema is not None and label == schema.void:
            return "void"
        if schema is not None and 0 <= label < len(schema):
            return schema.classes[label].name
        return f"#{label}"

    def pick_class(self, x: int, y: int) -> None:
        """The eyedropper (I, Alt+click): the label of pixel (x, y) becomes the one to
        paint with (a class, or void); an unlabelled pixel changes nothing. Said in the
        status bar either way."""
        doc, session = self.document, self.session
        if doc is None or session is None:
            return
        lm = doc.label_map
        current = self._label_name(self.canvas.current_value)
        if not (0 <= y < lm.height and 0 <= x < lm.width):
            text = "Nothing to pick there: point at a pixel of the image"
        else:
            label = int(lm.array[y, x])
            if label == lm.unlabelled:
                text = f"The pixel under the cursor is unlabelled: still painting “{current}”"
            elif label != session.schema.void and label >= len(session.schema):
                text = f"Label {label} is no class of this project: still painting “{current}”"
            else:
                self.class_panel.select_value(label)
                text = f"Picked “{self._label_name(label)}” from the image: painting with it"
        self.statusBar().showMessage(text, 6000)

    def choose_class(self) -> None:
        """Tools > Choose class from a list (C): the quick picker at the pointer (at the
        image's centre when the pointer is elsewhere)."""
        session = self.session
        if session is None:
            return
        if self.class_picker is None:
            self.class_picker = ClassPicker(self)
            self.class_picker.picked.connect(self._class_chosen)
        canvas = self.canvas
        pixel = canvas.pixel_under_pointer()
        if pixel is None:
            where = canvas.mapToGlobal(canvas.rect().center())
        else:
            at = canvas.mapFromScene(pixel[0] + 0.5, pixel[1] + 0.5)
            where = canvas.viewport().mapToGlobal(at)
        self.class_picker.open_at(session.schema, canvas.current_value, where)

    def _class_chosen(self, value: int) -> None:
        self.class_panel.select_value(value)
        self.statusBar().showMessage(f"Painting with “{self._label_name(value)}”", 4000)

    def _paint_void(self) -> None:
        """Tools > Paint void (V): void becomes the label to paint with."""
        if self.session is not None:
            self._class_chosen(self.session.schema.void)

    def _say_nothing_shown(self, name: str, shown: bool) -> None:
        """R or U turned the proposal or the uncertainty map on where there is none to
        show: say why in the status bar, as A and the proposal brush do."""
        doc = self.document
        if not shown or doc is None:
            return
        layers = self.loop.layers
        if layers.proposal is not None and layers.image_id == doc.image_id:
            return
        what = "uncertainty map" if name == "toggle_uncertainty" else "proposal"
        service = self.loop.service
        stale = self.loop.stale_version()
        if service is None or service.active_record is None:
            text = (
                f"No {what} to show: no model yet. Paint some pixels of each class, then "
                "Train now (Ctrl+T)."
            )
        elif stale is not None:
            text = f"No {what} to show: " + classes_changed_text(stale.version)
        else:
            version = service.active_version
            text = f"No {what} of this image yet: it shows once model v{version} has made it."
        self.statusBar().showMessage(text, 6000)

    def _pick_under_pointer(self) -> None:
        """Tools > Pick class (I): the class under the pointer, if it is over the image."""
        pixel = self.canvas.pixel_under_pointer()
        if pixel is None:
            if self.document is not None:
                self.statusBar().showMessage(
                    "Point at the image, then press I: it picks the class under the cursor",
                    6000,
                )
            return
        self.pick_class(*pixel)

    def _painting_with(self, value: int) -> None:
        """A gesture begins that paints ``value``: the labels hidden (H), or a class the
        user hid, are shown again (it painted unseen, as if nothing happened), and the
        status bar says so."""
        if self.session is None:
            return
        said = []
        labels = self.actions_["toggle_labels"]
        if not labels.isChecked():
            labels.setChecked(True)  # (the canvas and the proposal's layer follow)
            said.append("The labels were hidden: shown again to paint (H hides them)")
        if value in self._hidden:
            self.class_panel.show_value(value)
            self._set_hidden(self._hidden - {value})
            self.loop.recolour()
            said.append(
                f"“{self._label_name(value)}” was hidden: shown again to paint with it "
                "(untick it under Classes to hide it)"
            )
        if said:
            self.statusBar().showMessage("; ".join(said), 10000)

    def _update_enabled(self) -> None:
        doc = self.document
        has_doc = doc is not None
        a = self.actions_
        a["undo"].setEnabled(doc is not None and doc.history.can_undo)
        a["redo"].setEnabled(doc is not None and doc.history.can_redo)
        for name in (
            "next",
            "previous",
            "mark_done",
            "contrast",
            "channels",
            "save",
            *IMAGE_ACTIONS,
            *(f"tool_{tool}" for tool in self.canvas.tools),
        ):
            a[name].setEnabled(has_doc)
        for name in PROJECT_ACTIONS:
            a[name].setEnabled(self.session is not None)
        # Ctrl+D toggles: say which way it goes for the image open
        done = doc is not None and doc.record.status is ImageStatus.DONE
        a["mark_done"].setText("Mark not &done" if done else "Mark &done")
        a["mark_done"].setIconText("Not done" if done else "Done")  # (TOOLBAR_TEXT)
        self.class_panel.setEnabled(self.session is not None)
        self._options_bar.setEnabled(has_doc)  # (the tools' options, as the tools)
        self.canvas.set_placeholder(self._next_step())
        self.loop.update_enabled()
        if hasattr(self, "file_menu"):
            self.file_menu.update_enabled()

    def _next_step(self) -> str:
        """What the empty canvas tells the user to do ("" when an image is open)."""
        session = self.session
        if session is None:
            return (
                "No project open.\n\nFile > New project (Ctrl+N) makes one from a folder of "
                "images; File > Open project (Ctrl+O) opens one; File > Welcome offers the "
                "demo project."
            )
        if self.document is not None:
            return ""
        if session.reading is not None:
            return "Loading…"
        if not sum(session.project.status_counts().values()):
            return (
                "This project has no images yet.\n\nFile > Add image files (Ctrl+Shift+O) "
                "or Add image folder."
            )
        return "No image open: pick one in the Images list."

    def show_shortcuts(self) -> None:
        """The overview of every action's keys, read from the menus (non-modal); the one
        open already is raised (F1 twice opened a second window over the first)."""
        open_one = getattr(self, "shortcuts_dialog", None)
        if open_one is not None:
            try:
                if open_one.isVisible():
                    open_one.raise_()
                    open_one.activateWindow()
                    return
            except RuntimeError:  # (closed: deleted on close, its wrapper left)
                pass
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shortcuts_dialog = dialog
        dialog.show()

    def show_about(self) -> None:
        """Help > About: the version and environment, for a bug report (modal)."""
        AboutDialog(self).exec()

    # --- quit ---------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        """Save synchronously (a stroke in progress is kept) and close; never asks."""
        remember_window(self, self.settings)
        self.close_project()
        if self.canvas.smart is not None:
            self.canvas.smart.shutdown()
        self.contrast_dialog.close()
        self.channels_dialog.close()
        event.accept()


def _toolbar_label(text: str) -> QLabel:
    """A caption for the toolbar control beside it, with room to either side."""
    label = QLabel(text)
    label.setContentsMargins(6, 0, 4, 0)
    return label


class ToolBarRows(QObject):
    """Keeps ``follower`` in ``leader``'s row of the top toolbars while that row fits the
    window's width, and alone in the row just below it where it does not.

    A toolbar too short for its items hides the rest behind its » button, where nobody
    finds them, and Qt never wraps a toolbar onto another row by itself. Runs when the
    window is shown or resized, so a layout saved on quit at another width (or by a
    version without ``follower``, which Qt appends to the last row) fits too. While
    either bar is hidden, floating or docked elsewhere, it does nothing.
    """

    #: Room (px) kept free in a shared row: the bars' size hints hold their handles and
    #: margins, so this is only a safety margin.
    slack = 8

    def __init__(self, window: QMainWindow, leader: QToolBar, follower: QToolBar) -> None:
        super().__init__(window)
        self._window, self._leader, self._follower = window, leader, follower
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        # Before the window lays itself out for the event, so its first layout at a size
        # is already the right one (nothing moves under the mouse a moment later).
        if watched is self._window and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.reflow()
        return False

    def _rows(self) -> list[list[QToolBar]]:
        """The top toolbars shown, row by row from the top, each left to right."""
        window = self._window
        top = Qt.ToolBarArea.TopToolBarArea
        rows: dict[int, list[QToolBar]] = {}
        for bar in sorted(window.findChildren(QToolBar), key=lambda b: (b.y(), b.x())):
            if window.toolBarArea(bar) == top and bar.isVisible() and not bar.isFloating():
                rows.setdefault(bar.y(), []).append(bar)
        return list(rows.values())

    def reflow(self) -> None:
        """Move ``follower`` beside ``leader`` or onto the row below, as the width asks."""
        window, leader, follower = self._window, self._leader, self._follower
        if not window.isVisible():
            return
        layout = window.layout()
        if layout is not None:
            layout.activate()  # pending changes (a restored layout) placed: rows are known
        # Rows as last laid out: a new width moves bars within their rows, not across.
        rows = self._rows()
        at = next((i for i, row in enumerate(rows) if leader in row), None)
        if at is None or not any(follower in row for row in rows):
            return
        beside = [b for b in rows[at] if b is not follower]
        width = sum(b.sizeHint().width() for b in beside) + follower.sizeHint().width()
        if width + self.slack <= window.width():
            if follower not in rows[at]:
                window.insertToolBar(leader, follower)  # into leader's row, before it,
                window.insertToolBar(follower, leader)  # then leader back in front
            return
        if rows[at + 1 : at + 2] == [[follower]]:
            return
        after = [b for row in rows[at + 1 :] for b in row if b is not follower]
        if after:  # start the next row with follower, and break the row after it
            window.insertToolBar(after[0], follower)
            window.insertToolBarBreak(after[0])
        else:  # leader's row is the last: follower starts a new one at the end
            window.addToolBar(Qt.ToolBarArea.TopToolBarArea, follower)
            window.insertToolBarBreak(follower)


class _LoopWorkspace:
    """The window as the loop controller sees it (its ``LoopWorkspace``), nothing more."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    @property
    def document(self) -> Document | None:
        return self._window.document

    @property
    def schema(self) -> LabelSchema | None:
        session = self._window.session
        return None if session is None else session.schema

    def hidden_classes(self) -> frozenset[int]:
        return self._window.class_panel_hidden()

    def current_value(self) -> int:
        return self._window.canvas.current_value

    def protected_value(self) -> int | None:
        return self._window.canvas.protected_value

    def labels_visible(self) -> bool:
        return self._window.canvas.labels_visible()

    def tool_writes_proposal(self) -> bool:
        return self._window.canvas.tool.writes_proposal

    def finish_gesture(self) -> str:
        return self._window.end_gesture()

    def save_labels(self) -> None:
        if self._window.session is not None:
            self._window.session.save(wait=True)

    def save_before(self, title: str) -> None:
        self._window.save_before(title)

    def gesture_in_progress(self) -> bool:
        return self._window.canvas.gesture_in_progress()
