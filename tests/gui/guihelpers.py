"""Helpers for GUI tests: pixel positions on the canvas and mouse gestures, the
proposal worker's waits, and a workspace for the loop controller alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

if TYPE_CHECKING:
    from annotator.services.session import AnnotationSession

SIZE = 64
ZOOM = 5.0


def shown_window(qtbot, root, size=(900, 700)):
    """The main window, shown, active (window shortcuts need it) and on project ``root``."""
    from annotator.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(*size)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    w.open_project(root)
    return w


def center(canvas) -> None:
    """A fixed, known zoom with the image centred, so pixel positions are predictable."""
    canvas.set_zoom(ZOOM)
    canvas.centerOn(QPointF(SIZE / 2, SIZE / 2))


def at(canvas, x: float, y: float) -> QPoint:
    """The viewport position of the centre of image pixel (x, y)."""
    return canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def drag(canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first point, move through the others, release at the last."""
    vp = canvas.viewport()
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, at(canvas, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(vp, at(canvas, *p))
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, at(canvas, *points[-1]))


def press(canvas, x: float, y: float) -> None:
    """Press the left button on pixel (x, y) and keep it held (a gesture in progress)."""
    _left(QTest.mousePress, canvas, x, y)


def release(canvas, x: float, y: float) -> None:
    _left(QTest.mouseRelease, canvas, x, y)


def _left(event, canvas, x: float, y: float) -> None:
    event(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(canvas, x, y),
    )


def click(canvas, x, y, button=Qt.MouseButton.LeftButton) -> None:
    QTest.mouseClick(canvas.viewport(), button, Qt.KeyboardModifier.NoModifier, at(canvas, x, y))


def model_file(path, names):
    """A checkpoint of a tiny untrained network for classes ``names`` (as if exported)."""
    from annotator.core.card import ModelCard
    from annotator.ml.checkpoint import checkpoint_bytes
    from annotator.ml.networks import NetworkConfig, build_network

    config = NetworkConfig(in_channels=1, n_classes=len(names), depth=2, width=4)
    card = ModelCard(version=5, architecture=config.to_dict(), classes=tuple(names))
    path.write_bytes(checkpoint_bytes(build_network(config).state_dict(), card))
    return path


def timed_proposal_waits(monkeypatch):
    """The seconds each ``ModelService.wait_proposals`` call waited, as they come."""
    import time

    from annotator.services.model_service import ModelService

    waits = []
    real_wait = ModelService.wait_proposals

    def timed_wait(self, timeout=30.0):
        began = time.monotonic()
        idle = real_wait(self, timeout)
        waits.append(time.monotonic() - began)
        return idle

    monkeypatch.setattr(ModelService, "wait_proposals", timed_wait)
    return waits


def window_ranking(qtbot, root, scored=3):
    """A window on the project at ``root`` (proposals on the CPU, no idle rounds) once
    the proposal worker has scored ``scored`` images of its ranking."""
    from annotator.gui.main_window import MainWindow
    from annotator.services.model_service import ModelSettings

    w = MainWindow()
    qtbot.addWidget(w)
    w.loop.settings_override = ModelSettings(
        device="cpu", threads=1, train_on_done=False, keep_training=False
    )
    w.show()
    w.open_project(root)
    service = w.loop.service
    qtbot.waitUntil(lambda: service.ranking().scored >= scored, timeout=30_000)
    return w


class FakeWorkspace:
    """The LoopWorkspace protocol with a plain session behind it."""

    def __init__(self, session: AnnotationSession) -> None:
        self.session = session
        self.hidden: frozenset[int] = frozenset()
        self.value = 0
        self.protected: int | None = None
        self.shown = True
        self.proposal_tool = False
        self.finished = 0
        self.saved = 0
        self.host: object = None

    @property
    def document(self):
        return self.session.document

    @property
    def schema(self):
        return self.session.schema

    def hidden_classes(self) -> frozenset[int]:
        return self.hidden

    def current_value(self) -> int:
        return self.value

    def protected_value(self) -> int | None:
        return self.protected

    def labels_visible(self) -> bool:
        return self.shown

    def tool_writes_proposal(self) -> bool:
        return self.proposal_tool

    def finish_gesture(self) -> str:
        self.finished += 1
        doc = self.session.document
        if doc is not None:
            doc.commit_stroke()
        return ""

    def save_labels(self) -> None:
        self.saved += 1
        self.session.save(wait=True)

    def save_before(self, title: str) -> None:
        self.session.save(wait=True)

    def gesture_in_progress(self) -> bool:
        return False


def loop_on(qtbot, project):
    """The loop controller on ``project`` with a :class:`FakeWorkspace` and real actions,
    no MainWindow: ``(loop, workspace, actions)``."""
    from PySide6.QtWidgets import QWidget

    from annotator.gui.actions import make_actions
    from annotator.gui.dispatch import GuiDispatcher
    from annotator.gui.loop_controller import LoopController
    from annotator.services.session import AnnotationSession

    host = QWidget()
    qtbot.addWidget(host)
    actions = make_actions(host)
    ws = FakeWorkspace(AnnotationSession(project))
    ws.host = host  # the loop's parent widget lives as long as the workspace is held
    return LoopController(ws, GuiDispatcher(host), actions, host), ws, actions


def hold_background_jobs(window, gate=None):
    """Make the smart tools' background jobs wait for ``gate`` (a ``threading.Event``,
    made when not given), which is returned: set it to let them go on."""
    import threading

    gate = threading.Event() if gate is None else gate
    smart = window.canvas.smart
    real = smart.submit

    def held(image_id, what, run, done, **kw):
        def waiting():
            gate.wait(10)
            return run()

        return real(image_id, what, waiting, done, **kw)

    smart.submit = held
    return gate


def click_class_row(window, row: int):
    """Click row ``row`` of the class list, which keeps the keyboard focus."""
    from PySide6.QtWidgets import QApplication

    lst = window.class_panel.list
    centre = lst.visualItemRect(lst.item(row)).center()
    QTest.mouseMove(lst.viewport(), centre)
    QTest.mouseClick(
        lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre
    )
    lst.setFocus()
    assert QApplication.focusWidget() is lst
    return lst
