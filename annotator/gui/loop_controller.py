"""The active-learning loop in the window: proposals on the canvas, accept, rounds, next.

:class:`LoopController` connects a :class:`~annotator.services.model_service.ModelService`
to the canvas layers, the model panel, the image list and the loop's actions. The
service's events arrive on the GUI thread through the window's dispatcher and leave as
Qt signals (tests wait on them). The controller keeps the window a wiring class.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from annotator.core.errors import AnnotatorError
from annotator.core.proposal import Proposal
from annotator.core.status import ImageStatus
from annotator.gui.canvas import Z_LAYERS
from annotator.gui.model_panel import ModelPanel
from annotator.gui.proposal_layers import ProposalLayers
from annotator.services.model_service import (
    ModelListener,
    ModelService,
    ModelSettings,
    RoundOutcome,
    accept_proposal,
)
from annotator.storage.project import ImageRecord, ModelRecord, Project

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow
    from annotator.ml.train import TrainProgress
    from annotator.services.session import Document

log = logging.getLogger(__name__)
SCORE_REFRESH_MS = 300  # scores arriving one by one repaint the image list at most this often
SHUTDOWN_TIMEOUT_S = 10.0


class LoopController(QObject):
    """Owns the model service of the open project and its views."""

    proposal_shown = Signal(int, int)  # image id, model version
    round_started = Signal()
    round_finished = Signal(object)  # RoundOutcome
    training_progress = Signal(object)  # TrainProgress (the status bar shows it)
    version_changed = Signal(int)  # the active version (0 = none)
    proposals_idle = Signal()
    error = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.service: ModelService | None = None
        #: Settings for the next project opened (tests and benchmarks pass a tiny model).
        self.settings_override: ModelSettings | None = None
        self.layers = ProposalLayers()
        window.canvas.add_layer(self.layers.uncertainty_item, Z_LAYERS)
        window.canvas.add_layer(self.layers.proposal_item, Z_LAYERS + 1)
        self.panel = ModelPanel()
        self._pending_scores: dict[int, float] = {}
        self._score_timer = QTimer(self)
        self._score_timer.setSingleShot(True)
        self._score_timer.setInterval(SCORE_REFRESH_MS)
        self._score_timer.timeout.connect(self._flush_scores)
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self._idle)
        self._error_box: QMessageBox | None = None
        self._connect_panel()

    def _connect_panel(self) -> None:
        p = self.panel
        p.train_requested.connect(self.train_now)
        p.cancel_requested.connect(self.cancel_training)
        p.rollback_requested.connect(self.rollback)
        p.strategy_changed.connect(lambda s: self._update_settings(strategy=s))
        p.budget_changed.connect(lambda s: self._update_settings(seconds=float(s)))
        p.train_on_done_changed.connect(lambda on: self._update_settings(train_on_done=on))
        p.idle_retrain_changed.connect(self._set_idle)

    def connect_actions(self) -> None:
        a, w = self.window.actions_, self.window
        a["accept"].triggered.connect(lambda: self.accept(False))
        a["accept_class"].triggered.connect(lambda: self.accept(True))
        a["toggle_proposal"].toggled.connect(self.layers.proposal_item.setVisible)
        a["toggle_uncertainty"].toggled.connect(self.layers.uncertainty_item.setVisible)
        a["train_now"].triggered.connect(self.train_now)
        a["train_scratch"].triggered.connect(lambda: self.train_now(from_scratch=True))
        a["cancel_training"].triggered.connect(self.cancel_training)
        a["next_suggested"].triggered.connect(self.open_next_suggested)
        a["toggle_proposal"].setChecked(True)
        a["toggle_uncertainty"].setChecked(False)
        w.class_panel.visibility_changed.connect(lambda _h: self._recolour())

    # --- project ------------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.close()
        listener = ModelListener(
            on_proposal=self._proposal,
            on_scores=self._scores,
            on_proposals_idle=self.proposals_idle.emit,
            on_round_started=self._round_started,
            on_progress=self._progress,
            on_round_finished=self._round_finished,
            on_version_changed=self._version_changed,
            on_error=self._error,
        )
        self.service = ModelService(
            project, self.window.dispatcher, listener, self.settings_override
        )
        s = self.service.settings
        self.panel.set_settings(s.strategy, s.seconds, s.train_on_done, s.idle_retrain_s)
        self.idle_timer.setInterval(max(1, s.idle_retrain_s) * 1000)
        self._show_models()
        self.update_enabled()

    def close(self) -> None:
        """Cancel a round and the proposals, join them (bounded), clear the layers."""
        self.idle_timer.stop()
        self._score_timer.stop()
        self._pending_scores.clear()
        if self.service is not None:
            if not self.service.shutdown(SHUTDOWN_TIMEOUT_S):
                log.warning("background model work did not stop in time; leaving it behind")
            self.service = None
        self.layers.clear()
        self.update_enabled()

    # --- images -------------------------------------------------------------------------------
    def image_opened(self, document: Document) -> None:
        self.layers.clear()
        if self.service is not None:
            self.service.show_image(document.image_id, document.image)
        self.update_enabled()

    def labels_changed(self) -> None:
        if self.service is not None:
            self.service.labels_changed()
            if self.service.settings.idle_retrain_s > 0:
                self.idle_timer.start()  # restarts: fires after N s without edits

    def image_done(self, record: ImageRecord) -> None:
        if self.service is None or record.status is not ImageStatus.DONE:
            return
        try:
            started = self.service.image_done()
        except AnnotatorError as exc:
            self.window.statusBar().showMessage(str(exc), 5000)
            return
        if started == "queued":
            self.window.statusBar().showMessage(
                "A training round is running; one more is queued", 4000
            )

    def open_next_suggested(self) -> None:
        if self.service is None or self.window.session is None:
            return
        record = self.service.next_suggested()
        if record is None:
            self.window.statusBar().showMessage("Every image is done", 4000)
            return
        self.window.open_image(record.id)

    # --- accept -------------------------------------------------------------------------------
    def accept(self, current_class_only: bool) -> None:
        """Copy the shown proposal into the unlabelled pixels (one undo step)."""
        doc = self.window.document
        proposal = self.layers.proposal
        if doc is None or proposal is None or self.layers.image_id != doc.image_id:
            return
        self.window.canvas.finish_gesture()
        class_id = None
        if current_class_only:
            class_id = self.window.canvas.current_value
            if class_id >= len(self.window.session.schema):  # type: ignore[union-attr]
                return  # void is not a class a model proposes
        if accept_proposal(doc, proposal, class_id):
            self.window.statusBar().showMessage(
                f"Accepted the proposal of model v{proposal.model_version}", 3000
            )

    # --- training -----------------------------------------------------------------------------
    def train_now(self, from_scratch: bool = False) -> None:
        if self.service is None:
            return
        if self.window.session is not None:
            self.window.canvas.finish_gesture()
            self.window.session.save(wait=True)  # the round reads the labels from disk
        try:
            state = self.service.train_now(from_scratch=from_scratch)
        except AnnotatorError as exc:
            self._error("training", exc)
            return
        if state == "queued":
            self.window.statusBar().showMessage("One more round is queued", 3000)
        self.update_enabled()

    def cancel_training(self) -> None:
        if self.service is not None:
            self.service.cancel_training()

    def rollback(self, version: int) -> None:
        if self.service is None:
            return
        try:
            self.service.rollback(version)
        except AnnotatorError as exc:
            self._error("rollback", exc)

    def _idle(self) -> None:
        if self.service is None:
            return
        if self.window.session is not None:
            self.window.session.save(wait=True)
        self.service.train_if_dirty()

    def _set_idle(self, seconds: int) -> None:
        self._update_settings(idle_retrain_s=int(seconds))
        self.idle_timer.stop()
        if seconds > 0:
            self.idle_timer.setInterval(seconds * 1000)

    def _update_settings(self, **changes: object) -> None:
        if self.service is not None:
            self.service.update_settings(**changes)

    # --- service events (on the GUI thread) -------------------------------------------------
    def _proposal(self, image_id: int, version: int, proposal: Proposal) -> None:
        doc = self.window.document
        if doc is None or doc.image_id != image_id or self.window.session is None:
            return  # the window moved on before the service knew
        self.layers.show(
            image_id, proposal, self.window.session.schema, self.window.class_panel_hidden()
        )
        self.update_enabled()
        self.proposal_shown.emit(image_id, version)

    def _scores(self, scores: dict[int, float]) -> None:
        self._pending_scores.update(scores)
        if not self._score_timer.isActive():
            self._score_timer.start()

    def _flush_scores(self) -> None:
        if self._pending_scores:
            self.window.image_list.update_scores(self._pending_scores)
            self._pending_scores = {}

    def _round_started(self) -> None:
        self.panel.round_started()
        self.round_started.emit()
        self.update_enabled()

    def _progress(self, p: TrainProgress) -> None:
        self.panel.show_progress(p.step, p.fraction, p.elapsed_s, p.loss, p.phase)
        self.training_progress.emit(p)

    def _round_finished(self, outcome: RoundOutcome) -> None:
        queued = self.service is not None and (
            self.service.follow_up_queued or self.service.training
        )
        self.panel.round_finished(outcome.message, queued)
        self.window.statusBar().showMessage(outcome.message, 5000)
        self.update_enabled()
        self.round_finished.emit(outcome)

    def _version_changed(self, record: ModelRecord | None) -> None:
        self.layers.clear()  # its proposal came from the previous version
        self._show_models()
        self.update_enabled()
        self.version_changed.emit(record.version if record else 0)

    def _error(self, what: str, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {exc}"
        message = f"{what.capitalize()} failed: {text}"
        self.panel.show_error(message)
        self.window.statusBar().showMessage(message, 10000)
        if self._error_box is None:  # one non-modal box: errors never block the loop
            self._error_box = QMessageBox(
                QMessageBox.Icon.Warning, "Model", message, parent=self.window
            )
            self._error_box.setModal(False)
        self._error_box.setText(message)
        self._error_box.show()
        self.error.emit(message)

    # --- display ---------------------------------------------------------------------------------
    def _show_models(self) -> None:
        if self.service is None:
            return
        project = self.service.project
        self.panel.set_models(project.models(), project.active_model(), project.schema)

    def _recolour(self) -> None:
        if self.window.session is not None:
            self.layers.recolour(self.window.session.schema, self.window.class_panel_hidden())

    def update_enabled(self) -> None:
        a = self.window.actions_
        service = self.service
        has_doc = self.window.document is not None
        has_proposal = (
            has_doc
            and self.layers.proposal is not None
            and self.layers.image_id == self.window.document.image_id  # type: ignore[union-attr]
        )
        a["accept"].setEnabled(has_proposal)
        a["accept_class"].setEnabled(has_proposal)
        a["train_now"].setEnabled(service is not None)
        a["train_scratch"].setEnabled(service is not None)
        a["cancel_training"].setEnabled(service is not None and service.training)
        a["next_suggested"].setEnabled(has_doc)
        self.panel.train_button.setEnabled(service is not None)
        self.panel.cancel_button.setEnabled(
            service is not None and (service.training or service.follow_up_queued)
        )
