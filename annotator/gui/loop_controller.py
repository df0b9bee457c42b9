"""The active-learning loop in the window: proposals on the canvas, accept, rounds, next.

:class:`LoopController` connects a :class:`~annotator.services.model_service.ModelService`
to the proposal layers, the model panel and the loop's actions. It knows nothing of the
window: it gets narrow collaborators (a :class:`LoopWorkspace` for the open document, the
dispatcher, the actions it enables) and reports through Qt signals (``message``,
``scores_changed``, ``open_requested``, ...). :class:`~annotator.gui.main_window.MainWindow`
does all the wiring, so either side can change without the other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from annotator.core.errors import AnnotatorError, ModelError, NothingLabelled
from annotator.core.proposal import Proposal
from annotator.core.records import ImageRecord, ModelRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.model_panel import (
    ModelPanel,
    classes_changed_text,
    fits_classes,
    round_text,
    switch_text,
)
from annotator.gui.progress_task import plain, run_with_progress
from annotator.gui.proposal_layers import ProposalLayers
from annotator.gui.tools import along
from annotator.services import versions
from annotator.services.jobs import Dispatcher
from annotator.services.model_service import (
    SCORED_STRATEGY,
    ModelListener,
    ModelService,
    ModelSettings,
    Ranking,
    RoundOutcome,
    Suggestion,
)

if TYPE_CHECKING:
    from annotator.ml.train import TrainProgress
    from annotator.services.document import Document
    from annotator.storage.project import Project

log = logging.getLogger(__name__)
SCORE_REFRESH_MS = 300  # scores arriving one by one repaint the image list at most this often
SHUTDOWN_TIMEOUT_S = 10.0
MESSAGE_MS = 3000
#: N while a new model version is still scoring the images waits this long at most for
#: its ranking (40 images of 512 x 512 px take 4 s on two CPU cores), then opens the
#: most uncertain image it has scored so far and says so; N again opens that at once.
NEXT_WAIT_S = 5.0
#: When N's wait ends during a gesture (a lasso dragged, polygon vertices clicked, the
#: view panned), the image opens once it ends; it is looked at this often (ms) meanwhile.
GESTURE_POLL_MS = 100
#: The actions the controller enables and disables (MainWindow connects their triggers).
MODEL_FILTER = "Annotator models (*.pt);;All files (*)"
#: How a round refused for the Channel Choice tells to choose channels (the CLI gives
#: its ``annotator channels`` command).
CHANNELS_HOW = "View > Channels…"
#: How the refusal of an ONNX file as a model to import tells to export a version as a
#: model file (the CLI gives its ``annotator models --export`` command).
EXPORT_MODEL_HOW = "Model > Export model… in its project"

LOOP_ACTIONS = (
    "accept",
    "accept_class",
    "toggle_proposal",
    "toggle_uncertainty",
    "train_now",
    "train_scratch",
    "cancel_training",
    "next_suggested",
    "import_model",
    "export_model",
)


def nothing_to_accept_text(
    doc: Document,
    proposal: Proposal,
    schema: LabelSchema,
    class_id: int | None,
    over: int | None,
) -> str:
    """Why an accept (of the whole proposal, or of ``class_id``'s pixels; ``over``: the
    label protected painting points it at) changed no pixel, in one line."""
    lm = doc.label_map
    target = lm.unlabelled if over is None else over

    def name(value: int) -> str:
        if value == lm.void:
            return "void"
        return schema.names[value] if value < len(schema) else f"#{value}"

    of = "" if class_id is None else f" for “{name(class_id)}”"
    if class_id is not None and not (proposal.mask == class_id).any():
        return f"Nothing to accept{of}: the proposal gives that class no pixel"
    if target == lm.unlabelled:
        if class_id is None:
            return "Nothing left to accept: every pixel the proposal covers is already labelled"
        return (
            f"Nothing left to accept{of}: every pixel the proposal gives that class is "
            "already labelled"
        )
    k = name(target)
    if not (lm.array == target).any():
        return f"Nothing to accept{of} over “{k}”: no pixel is labelled “{k}”"
    if class_id is None or class_id == target:
        return (
            f"Nothing to accept{of} over “{k}”: the proposal says “{k}” too wherever the "
            f"pixels are labelled “{k}”"
        )
    return (
        f"Nothing to accept{of} over “{k}”: the proposal gives that class none of the "
        f"pixels labelled “{k}”"
    )


class LoopWorkspace(Protocol):
    """What the loop needs of the open image and the canvas (MainWindow provides it)."""

    @property
    def document(self) -> Document | None:
        """The open image, or None."""
        ...

    @property
    def schema(self) -> LabelSchema | None:
        """The open project's classes, or None without a project."""
        ...

    def hidden_classes(self) -> frozenset[int]:
        """The label values the user hid."""
        ...

    def current_value(self) -> int:
        """The label value the user paints with (a class id or void)."""
        ...

    def protected_value(self) -> int | None:
        """Protected painting: the one label edits may overwrite (None: any)."""
        ...

    def labels_visible(self) -> bool:
        """Whether the label layer is shown."""
        ...

    def tool_writes_proposal(self) -> bool:
        """Whether the current tool paints the proposal (proposal brush, accept region)."""
        ...

    def finish_gesture(self) -> str:
        """Commit a gesture in progress (before an accept or a save); the line said of
        what it dropped (a polygon not closed), "" if nothing, for the next message to
        carry."""
        ...

    def save_labels(self) -> None:
        """Write the current labels to disk and wait (a round reads them from there)."""
        ...

    def save_before(self, title: str) -> None:
        """:meth:`save_labels` waited for behind a progress dialog (``title``) where it
        takes long, so that the window does not freeze (see ``MainWindow.save_before``);
        before a call that will save and wait on the GUI thread."""
        ...

    def gesture_in_progress(self) -> bool:
        """Whether the user is in the middle of a gesture on the open image: a drag with
        the button held (brush, lasso, GrabCut box...), polygon vertices clicked, a
        stroke open, a pan. Switching images now would commit it half-drawn or drop it
        (or, for a pan, move another image under the hand)."""
        ...


#: A hint this long or shorter is said in the status bar as it is (it fits a window 1000
#: px wide; the one-class hint, twice as long, was cut at "(label s").
_FITS = 80


def untrained_short(hint: str) -> str:
    """The status bar's form of why Train now trained nothing: the hint's first clause
    (the model panel shows all of it)."""
    return f"{hint.split(': ', 1)[0]}: see the Model panel"


class LoopController(QObject):
    """Owns the model service of the open project and its views."""

    proposal_shown = Signal(int, int)  # image id, model version
    proposal_progress = Signal(int, int, int)  # image id, tiles done, tiles in all
    round_started = Signal()
    round_finished = Signal(object)  # RoundOutcome
    training_progress = Signal(object)  # TrainProgress (the status bar shows it)
    version_changed = Signal(int)  # the active version (0 = none)
    proposals_idle = Signal()
    error = Signal(str)
    proposal_failed = Signal()  # the image open gets no proposal (the status bar stops waiting)
    message = Signal(str, int)  # text for the status bar, milliseconds to show it
    long_note = Signal(str, str, int)  # short text, the whole note (a tooltip), milliseconds
    scores_changed = Signal(object)  # dict[int, float]: image id -> score
    #: A version's ranking ended (once per active version), after its last scores were
    #: sent (``scores_changed``): the image list sorts by them again.
    ranked = Signal()
    open_requested = Signal(int)  # image id the user asked for (next suggested)
    closed = Signal()  # the project's model side closed: its round's news is void

    def __init__(
        self,
        workspace: LoopWorkspace,
        dispatcher: Dispatcher,
        actions: Mapping[str, QAction],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._dispatch = dispatcher
        missing = [name for name in LOOP_ACTIONS if name not in actions]
        if missing:
            raise ValueError(f"LoopController needs the actions {missing}")
        self.actions = {name: actions[name] for name in LOOP_ACTIONS}
        self.service: ModelService | None = None
        #: Settings for the next project opened (tests and benchmarks pass a tiny model).
        self.settings_override: ModelSettings | None = None
        self.layers = ProposalLayers(dispatcher)
        self.panel = ModelPanel()
        self._pending_scores: dict[int, float] = {}
        self._ranked_version: int | None = None  # the last version whose ranking ended
        self._ranked_due = False  # ``ranked`` goes with the next scores sent
        self._score_timer = QTimer(self)
        self._score_timer.setSingleShot(True)
        self._score_timer.setInterval(SCORE_REFRESH_MS)
        self._score_timer.timeout.connect(self._flush_scores)
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self._idle)
        self._error_box: QMessageBox | None = None
        self._box_about = ""  # what failed, as the box says it ("training", "proposal"...)
        #: N waits for the active version's ranking (the wait ends at the timer).
        self._next_timer = QTimer(self)
        self._next_timer.setSingleShot(True)
        self._next_timer.setInterval(int(NEXT_WAIT_S * 1000))
        self._next_timer.timeout.connect(lambda: self._next_ready(timed_out=True))
        self._next_waiting = False
        #: The wait of N ended during a gesture: the image opens when the gesture ends.
        self._gesture_timer = QTimer(self)
        self._gesture_timer.setInterval(GESTURE_POLL_MS)
        self._gesture_timer.timeout.connect(self._gesture_check)
        self._boxed = ""  # the message the box showed last: the same one is not shown again
        self._names: tuple[str, ...] | None = None  # the classes the proposal is drawn for
        self._connect_panel()
        self._default_tips = {n: self.actions[n].toolTip() for n in ("accept", "accept_class")}
        self.actions["toggle_proposal"].toggled.connect(self.layers.proposal_item.setVisible)
        self.actions["toggle_uncertainty"].toggled.connect(self.layers.uncertainty_item.setVisible)
        self.actions["toggle_proposal"].setChecked(True)
        self.actions["toggle_uncertainty"].setChecked(False)
        if isinstance(parent, QWidget):  # the window: A while Accept is disabled says why
            parent.installEventFilter(self)

    def _connect_panel(self) -> None:
        p = self.panel
        # The buttons say what their twins in the toolbar and the Model menu say, keys too.
        p.train_button.setToolTip(self.actions["train_now"].toolTip())
        p.cancel_button.setToolTip(self.actions["cancel_training"].toolTip())
        p.train_requested.connect(self.train_now)
        p.cancel_requested.connect(self.cancel_training)
        p.rollback_requested.connect(self.rollback)
        p.drop_kept.connect(self._keep_drop)
        p.strategy_changed.connect(lambda s: self._update_settings(strategy=s))
        p.budget_changed.connect(lambda s: self._update_settings(seconds=float(s)))
        p.train_on_done_changed.connect(lambda on: self._update_settings(train_on_done=on))
        p.keep_training_changed.connect(lambda on: self._update_settings(keep_training=on))
        p.idle_retrain_changed.connect(self._set_idle)

    # --- project ------------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.close()
        listener = ModelListener(
            on_proposal=self._proposal,
            on_scores=self._scores,
            on_proposals_idle=self.proposals_idle.emit,
            on_ranking=self._ranking,
            on_stored_scores=self._stored_scores,
            on_proposal_progress=self.proposal_progress.emit,
            on_round_started=self._round_started,
            on_progress=self._progress,
            on_round_finished=self._round_finished,
            on_version_changed=self._version_changed,
            on_error=self._error,
            save_labels=self.workspace.save_labels,
        )
        self.service = ModelService(
            project, self._dispatch, listener, self.settings_override, CHANNELS_HOW
        )
        self._names = tuple(project.schema.names)
        s = self.service.settings
        self.panel.set_settings(
            s.strategy, s.seconds, s.train_on_done, s.idle_retrain_s, s.keep_training
        )
        self.idle_timer.setInterval(max(1, s.idle_retrain_s) * 1000)
        self.panel.keep_drops(versions.kept_lower(project))
        self._show_models()
        self.update_enabled()
        self._say_untrained()

    def _say_untrained(self) -> None:
        """Done images the active version never saw (the app was closed during a round,
        or one was cancelled): said once at opening, and left to idle retraining."""
        assert self.service is not None
        untrained = self.service.untrained_done()
        active = self.service.active_record
        if not untrained or active is None or active.card.imported_from:
            return  # (an imported version saw none of this project's images)
        if self.stale_version() is not None:
            return
        self.service.labels_changed()  # idle retraining (when on) includes them
        self.message.emit(
            f"{len(untrained)} done image(s) are not in model v{active.version} yet (first: "
            f"{untrained[0].name}): Train now (Ctrl+T) adds them",
            15000,
        )

    def close(self) -> None:
        """Cancel a round and the proposals, join them (bounded), clear the layers."""
        self.idle_timer.stop()
        self._score_timer.stop()
        self._pending_scores.clear()
        self._ranked_version, self._ranked_due = None, False
        self._stop_waiting()
        if self.service is not None:
            if not self.service.shutdown(SHUTDOWN_TIMEOUT_S):
                log.warning("background model work did not stop in time; leaving it behind")
            self.service = None
            self.panel.clear_round()
            self._boxed = ""  # the next project's errors are news
            self.closed.emit()
        self.layers.clear()
        self.update_enabled()

    # --- images -------------------------------------------------------------------------------
    def image_opened(self, document: Document) -> None:
        self._stop_waiting()  # the user went to another image: N is answered
        self.layers.clear()
        if self.service is not None:
            self.service.show_image(document.image_id, document.image)
        self.update_enabled()

    def labels_committed(self) -> None:
        """An edit was committed (once per gesture): the labels are dirty, idle restarts."""
        if self._next_waiting:  # the user went on with this image: do not take it away
            self._stop_waiting()
            self.message.emit(
                "Next suggested image: stopped waiting for the ranking, since you edited "
                "this image (N asks again)",
                MESSAGE_MS,
            )
        if self.service is not None:
            self.service.labels_changed()
            if self.service.settings.idle_retrain_s > 0:
                self.idle_timer.start()  # restarts: fires after N s without edits

    def labels_replaced(self, image_ids: set[int]) -> None:
        """An import wrote the labels of ``image_ids``: they count as not in the active
        version yet (even those a round saw with other labels), and idle retraining (when
        on) trains on them."""
        if self.service is None or not image_ids:
            return
        self.service.labels_replaced(image_ids)
        if self.service.settings.idle_retrain_s > 0:
            self.idle_timer.start()

    def image_done(self, record: ImageRecord) -> None:
        if self.service is None or record.status is not ImageStatus.DONE:
            return
        stale = self.stale_version()
        if stale is not None:  # a round would fail to continue it
            if self.service.settings.train_on_done:
                self.message.emit(classes_changed_text(stale.version), 10000)
            return
        try:
            started = self.service.image_done()
        except AnnotatorError as exc:
            self.message.emit(str(exc), 5000)
            return
        if started == "queued":
            self.message.emit("A training round is running; one more is queued", 4000)

    def open_next_suggested(self) -> None:
        """Ask (``open_requested``) for the image the strategy ranks first.

        While the active version is still scoring the images (it was just published or
        rolled back to), the project holds some of an older version's scores: N waits
        for the ranking, without blocking, saying how far it got, at most
        :data:`NEXT_WAIT_S`; N again, or the end of the wait, opens the most uncertain
        image the active version scored so far and says so. The image never opens from
        the wait during a gesture in progress: it waits for its end (an edit ends the
        wait, as any edit of the image shown does; Esc opens it).
        """
        service = self.service
        if service is None:
            return
        if self._next_waiting:  # N again: the best there is now (after a gesture)
            self._next_ready(timed_out=False)
            return
        service.pass_over_shown()
        suggestion = service.suggest()
        if suggestion.complete or suggestion.record is None:
            self._open_suggestion(suggestion)
            return
        if not service.ranking().busy:
            # e.g. images added since the worker ranked, or its last request failed
            service.refresh_proposals()
        ranking = service.ranking()
        if not ranking.busy:
            self._open_suggestion(suggestion)
            return
        self._next_waiting = True
        self._next_timer.start()
        self._say_ranking(ranking)

    def _ranking(self, ranking: Ranking) -> None:
        """The active version scored more images (or finished, or stopped)."""
        if not ranking.busy and ranking.version not in (None, self._ranked_version):
            self._ranked_version, self._ranked_due = ranking.version, True
            if not self._score_timer.isActive():
                self._score_timer.start()  # ``ranked`` after the scores still pending
        if not self._next_waiting or self._gesture_timer.isActive():
            return  # (after a gesture, whatever ranks first then opens)
        if ranking.busy:
            self._say_ranking(ranking)
        else:
            self._next_ready(timed_out=False)

    def _stored_scores(self, version: int) -> None:
        """The active version's stored scores are read: they may rank every image (one
        reading of the images' records, once per version)."""
        service = self.service
        if not self._next_waiting or self._gesture_timer.isActive() or service is None:
            return
        if service.suggest().complete:
            self._next_ready(timed_out=False)

    def _say_ranking(self, ranking: Ranking) -> None:
        counted = f" ({ranking.scored} of {ranking.total} scored)" if ranking.total else ""
        self.message.emit(
            f"Ranking the images with model v{ranking.version}…{counted}; N again opens "
            "the most uncertain so far",
            int(NEXT_WAIT_S * 1000) + MESSAGE_MS,
        )

    def _stop_waiting(self) -> None:
        self._next_waiting = False
        self._next_timer.stop()
        self._gesture_timer.stop()

    def _next_ready(self, timed_out: bool) -> None:
        """The wait of N ended: open what ranks first now, or after the gesture in
        progress (never under the user's hand: it would be committed half-drawn on the
        image left, or dropped)."""
        if not self._next_waiting:
            return
        service = self.service
        if service is None:
            self._stop_waiting()
            return
        if self.gesture_in_progress():
            self._next_timer.stop()
            self._gesture_timer.start()
            self.message.emit(
                "Next suggested image: not opened while you draw or pan. Esc drops a "
                "drawing and opens it; finishing a drawing stays on this image",
                8000,
            )
            return
        self._stop_waiting()
        suggestion = service.suggest()
        if timed_out and not suggestion.complete:
            log.info(
                "next suggested: model v%s scored %d of %d images in %.0f s",
                suggestion.version,
                suggestion.scored,
                suggestion.total,
                NEXT_WAIT_S,
            )
        self._open_suggestion(suggestion)

    def _gesture_check(self) -> None:
        """While N's image waits for a gesture's end: open it once the gesture ended
        without an edit (an edit ended the wait: :meth:`labels_committed`)."""
        if not self._next_waiting:
            self._gesture_timer.stop()
        elif not self.gesture_in_progress():
            self._next_ready(timed_out=False)

    def gesture_in_progress(self) -> bool:
        """Whether the user is in the middle of a gesture on the open image."""
        doc = self.workspace.document
        return (doc is not None and doc.in_stroke) or self.workspace.gesture_in_progress()

    def _open_suggestion(self, suggestion: Suggestion) -> None:
        """Ask for ``suggestion``'s image; say what ranked it when it was not the active
        version's scores of every image."""
        assert self.service is not None
        record = suggestion.record
        if record is None:
            self.message.emit("Every image is done", 4000)
            return
        self.open_requested.emit(record.id)
        if self.service.settings.strategy != SCORED_STRATEGY:
            return
        if not suggestion.complete and suggestion.scored:
            self.message.emit(
                f"Opened {record.name}: the most uncertain of the {suggestion.scored} of "
                f"{suggestion.total} images model v{suggestion.version} has scored so far "
                "(it has not scored the others yet)",
                8000,
            )
        elif not suggestion.complete and record.score is not None:
            by = suggestion.ranked_by
            if by is not None and by != suggestion.version:
                text = (
                    f"Model v{suggestion.version} has not scored the images yet: opened "
                    f"{record.name} by model v{by}'s scores"
                )
            else:  # (its stored scores are still being read)
                text = (
                    f"Opened {record.name} by the scores stored so far (model "
                    f"v{suggestion.version} is still ranking the images)"
                )
            self.message.emit(text, 8000)
        elif record.score is None:
            # Nothing to rank by: the strategy fell back to the order images were added.
            why = (
                "No model yet"
                if self.service.active_record is None
                else "No uncertainty scores yet"
            )
            self.message.emit(
                f"{why} to rank the images by: opened {record.name}, the next image not "
                "done in the order they were added",
                6000,
            )

    # --- accept -------------------------------------------------------------------------------
    def accept(self, current_class_only: bool) -> None:
        """Copy the shown proposal into the unlabelled pixels (one undo step)."""
        ws = self.workspace
        doc, schema, proposal = ws.document, ws.schema, self.layers.proposal
        if doc is None or schema is None or proposal is None:
            return
        if self.layers.image_id != doc.image_id:
            return
        dropped = ws.finish_gesture()

        def say(text: str) -> None:  # (after what the gesture's end dropped: not over it)
            self.message.emit(along(text, dropped), MESSAGE_MS if not dropped else 10000)

        class_id = None
        if current_class_only:
            class_id = ws.current_value()
            if class_id >= len(schema):
                say(
                    "Nothing accepted: void is not a class a model proposes; pick a class "
                    "(1-9, 0, or C for the list) to accept its proposal"
                )
                return
        # Accept fills the unlabelled pixels; protected painting "only over class k"
        # points it at the pixels labelled k instead (e.g. a first fill that was too big).
        over = ws.protected_value()
        if doc.accept(proposal, class_id, only_over=over):
            # Protection is "only unlabelled" or "only over" one of the classes.
            where = (
                "" if over in (None, doc.label_map.unlabelled) else f" over {schema.names[over]}"
            )
            say(f"Accepted the proposal of model v{proposal.model_version}{where}")
        else:  # no undo step either: the user would wonder whether A did anything
            say(nothing_to_accept_text(doc, proposal, schema, class_id, over))

    def view_changed(self) -> None:
        """Protection, the tool or the labels' visibility changed: redraw where the
        proposal shows."""
        doc = self.workspace.document
        if doc is not None:
            self.layers.set_target(self._proposal_target(doc))

    def _proposal_target(self, doc: Document) -> int | None:
        """The label the proposal is drawn over: what accept would overwrite, or with a
        tool that paints the proposal, what that tool may overwrite (any label while
        protection is off).

        Everywhere while the labels are hidden, so the user can compare the two.
        """
        ws = self.workspace
        if not ws.labels_visible():
            return None
        over = ws.protected_value()
        if ws.tool_writes_proposal():
            return over
        return doc.label_map.unlabelled if over is None else over

    # --- model files ------------------------------------------------------------------------------
    def import_model(self, path: Path | None = None) -> None:
        """Store a model file (asked for when ``path`` is None) as the next version."""
        service = self.service
        if service is None:
            return
        parent = self.panel.window()
        if path is None:
            name, _ = QFileDialog.getOpenFileName(parent, "Import a model", "", MODEL_FILTER)
            if not name or self.service is not service:  # or the project closed meanwhile
                return
            path = Path(name)
        if service.keeping_on:  # (background work nobody asked for: it stops)
            service.stop_keeping_on("a model is being imported")
        if service.training:
            self._error(
                "import", ModelError("a training round is running: wait for it or cancel it")
            )
            return
        project = service.project
        if path.is_file() and not self._import_anew(path):
            return
        outcome = run_with_progress(
            parent,
            "Import model",
            f"Importing {path.name}…",
            lambda _progress: versions.import_model(project, path, export_how=EXPORT_MODEL_HOW),
            cancellable=False,
        )
        if outcome.error is not None or outcome.result is None:
            service.reread_active()  # it may have failed once the version was recorded
            self._error("import", outcome.error or ModelError("nothing was imported"))
            return
        service.adopt(outcome.result)
        said = f"Imported {path.name} as model v{outcome.result.version}"
        self.panel.show_hint(f"{said}: its proposals are shown.")  # (not the last round's news)
        self.message.emit(said, 5000)

    def _import_anew(self, path: Path) -> bool:
        """Whether to import ``path``: yes when no version was imported from a file of
        its content; otherwise the user chooses between that version (made active, as the
        CLI's ``--rollback`` would), importing it once more, and nothing."""
        service = self.service
        if service is None:
            return False
        try:
            before = versions.imported_before(service.project, path)
        except AnnotatorError:
            return True  # the import itself says what is wrong with the file
        if before is None:
            return True
        active = service.project.active_model()
        is_active = active is not None and active.version == before.version
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Import model",
            plain(
                f"{path.name} was imported already, as model v{before.version}"
                + (" (the active version)." if is_active else ".")
            ),
            parent=self.panel.window(),
        )
        use = (
            None
            if is_active
            else box.addButton(f"Use v{before.version}", QMessageBox.ButtonRole.AcceptRole)
        )
        again = box.addButton("Import once more", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        chosen = box.clickedButton()
        if use is not None and chosen is use:
            self.rollback(before.version)
            return False
        return chosen is again

    def export_model(self, path: Path | None = None) -> None:
        """Write the active version as one file (asked for when ``path`` is None)."""
        service = self.service
        if service is None or service.active_record is None:
            return
        version = service.active_record.version  # (the one the panel shows)
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self.panel.window(), "Export the model", "model.pt", MODEL_FILTER
            )
            if not name or self.service is not service:  # or the project closed meanwhile
                return
            path = Path(name)
        try:
            # the save dialog asked before replacing a file (a path given directly is a
            # test's or a script's, which may replace too)
            record = versions.export_model(service.project, path, version, overwrite=True)
        except AnnotatorError as exc:
            self._error("export", exc)
            return
        self.message.emit(f"Wrote model v{record.version} to {path}", 5000)

    # --- training -----------------------------------------------------------------------------
    def train_now(self, from_scratch: bool = False) -> None:
        if self.service is None:
            return
        self.workspace.finish_gesture()  # the round saves the labels before reading them
        arch = None
        if from_scratch:
            from annotator.gui.model_panel import ask_architecture

            arch = ask_architecture(self.panel.window())
            if arch is None:
                return
        else:
            stale = self.stale_version()
            if stale is not None:
                self.message.emit(
                    f"The classes changed since model v{stale.version} was trained, so Train "
                    "now cannot continue it: Train from scratch (Model menu) to use them.",
                    10000,
                )
                return
        self.workspace.save_before("Train now")  # (the round's own save then waits no more)
        try:
            state = self.service.train_now(from_scratch=from_scratch, arch=arch)
        except AnnotatorError as exc:
            self._error("training", exc)
            return
        if state == "queued":
            self.message.emit("One more round is queued", MESSAGE_MS)
        self.update_enabled()

    def cancel_training(self) -> None:
        if self.service is not None:
            self.service.cancel_training()

    def rollback(self, version: int) -> None:
        if self.service is None:
            return
        project = self.service.project
        record = next((m for m in project.models() if m.version == version), None)
        if record is not None and not fits_classes(record, project.schema.names):
            # (the checkpoint's refusal names its file: said in the panel's words instead)
            why = versions.rollback_refused(project, record, "Model > Train from scratch")
            self._error("rollback", ModelError(why))
            return
        was = self.service.active_record
        newer = was is not None and version > was.version
        try:
            self.service.rollback(version)
        except AnnotatorError as exc:
            self._error("rollback", exc)
            return
        self.panel.rolled_back(version, newer)
        self.message.emit(switch_text(version, newer), 5000)

    def _keep_drop(self, version: int) -> None:
        """Keep in the project that ``version`` was kept though it scores lower."""
        if self.service is not None:
            versions.keep_lower(self.service.project, version)

    def _idle(self) -> None:
        if self.service is None:
            return
        doc = self.workspace.document
        if doc is not None and doc.in_stroke:
            # The timer restarts per commit, not per mouse move: a long stroke is still
            # the user at work, so wait for its end instead of training under it.
            self.idle_timer.start()
            return
        if self.service.training and not self.service.keeping_on:
            return  # the round's end re-arms the timer if edits are still untrained
        if self.stale_version() is not None:
            return  # the round would fail: the panel says to train from scratch
        self.service.train_if_dirty()  # a round saves the labels before reading them

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
        doc, schema = self.workspace.document, self.workspace.schema
        if doc is None or doc.image_id != image_id or schema is None:
            return  # the window moved on before the service knew
        # A big proposal's codes are made on a worker: shown (and acceptable) after.
        self.layers.show(
            doc,
            proposal,
            schema,
            self.workspace.hidden_classes(),
            self._proposal_target(doc),
            then=lambda: self._proposal_drawn(image_id, version),
            failed=lambda exc: self._error("proposal", exc),
        )

    def _proposal_drawn(self, image_id: int, version: int) -> None:
        self._boxed = ""  # proposals work again: a later failure is news
        self._close_box("proposal")
        self.update_enabled()
        self.proposal_shown.emit(image_id, version)

    def _scores(self, scores: dict[int, float]) -> None:
        self._pending_scores.update(scores)
        if not self._score_timer.isActive():
            self._score_timer.start()

    def _flush_scores(self) -> None:
        if self._pending_scores:
            scores, self._pending_scores = self._pending_scores, {}
            self.scores_changed.emit(scores)
        if self._ranked_due:
            self._ranked_due = False
            self.ranked.emit()

    def _round_started(self) -> None:
        self._close_box("training")  # an earlier round's failure is no longer the news
        self.panel.round_started(self.service is not None and self.service.keeping_on)
        self.round_started.emit()
        self.update_enabled()

    def _progress(self, p: TrainProgress) -> None:
        self.panel.show_progress(p.step, p.fraction, p.elapsed_s, p.loss, p.phase, p.detail)
        self.training_progress.emit(p)

    def _round_finished(self, outcome: RoundOutcome) -> None:
        stale = self.stale_version() if outcome.status == "failed" else None
        if stale is not None:  # e.g. a follow-up queued before the rename: no file path
            outcome = replace(outcome, message=classes_changed_text(stale.version))
        queued = self.service is not None and (
            self.service.follow_up_queued or self.service.training
        )
        self.panel.round_finished(outcome.message, queued)
        self._show_models()  # a version may be listed without becoming active
        service = self.service
        if (
            service is not None
            and not queued
            and service.labels_dirty
            and service.settings.idle_retrain_s > 0
        ):
            self.idle_timer.start()  # edits made during the round: retrain once idle
        self.message.emit(round_text(outcome.message), 5000)  # (as the panel says it)
        self.update_enabled()
        self.round_finished.emit(outcome)

    def _version_changed(self, record: ModelRecord | None) -> None:
        self._close_box("training", "proposal")  # a round published, or a rollback
        self.layers.clear()  # its proposal came from the previous version
        self._show_models()
        self.update_enabled()
        self.version_changed.emit(record.version if record else 0)

    def _error(self, what: str, exc: BaseException) -> None:
        if what == "proposal":
            self.proposal_failed.emit()
        if isinstance(exc, NothingLabelled):
            # Train now before the first strokes: expected, so a hint on the panel's round
            # line and in the status bar, not a box, red text and "Training failed".
            self.panel.show_hint(str(exc))
            if len(str(exc)) <= _FITS:
                self.message.emit(str(exc), 10000)
            else:
                self.long_note.emit(untrained_short(str(exc)), str(exc), 10000)
            return
        stale = self.stale_version() if isinstance(exc, ModelError) else None
        if stale is not None and what in ("proposal", "training"):
            # The checkpoint refused the renamed classes: expected, and the panel already
            # says what to do (set_models). No box, no checkpoint path, no CLI hint.
            self.message.emit(classes_changed_text(stale.version), 10000)
            return
        text = str(exc) if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {exc}"
        message = f"{what.capitalize()} failed: {text}"
        self.panel.show_error(message)
        self.message.emit(message, 10000)
        if message == self._boxed:  # said already (e.g. on every image opened since)
            self.error.emit(message)
            return
        self._boxed = message
        if self._error_box is None:  # one non-modal box: errors never block the loop
            self._error_box = QMessageBox(
                QMessageBox.Icon.Warning, "Model", plain(message), parent=self.panel.window()
            )
            self._error_box.setModal(False)
        self._error_box.setText(plain(message))
        self._box_about = what
        self._error_box.show()
        self.error.emit(message)

    def _close_box(self, *about: str) -> None:
        """Close the error box when it says that one of ``about`` failed: a later round
        started or published, or a proposal was shown, so it is no longer true (it stayed
        over the canvas after the next round succeeded). The same failure again is news."""
        if self._box_about not in about:
            return
        if self._error_box is not None:
            self._error_box.hide()
        self._boxed = self._box_about = ""

    # --- display ---------------------------------------------------------------------------------
    def _show_models(self) -> None:
        if self.service is None:
            return
        project = self.service.project
        self.panel.set_models(
            project.models(),
            self.service.active_record,
            project.schema,
            versions.stored(project),
            project.class_renames(),
            versions.pooled_matters(project),
            project.channel_choice(),
        )

    def channels_changed(self) -> None:
        """The project's channel choice changed: the model panel says whether the active
        version takes other channels."""
        self._show_models()

    def schema_changed(self, schema: LabelSchema) -> None:
        """The classes changed. Added or recoloured: redraw the proposal in their colours.
        Renamed: the active version no longer fits them; drop its proposal and ask again,
        which says so (ADR 0013: a version is shown only while it fits the classes)."""
        old, self._names = self._names, tuple(schema.names)
        if old is not None and self._names[: len(old)] != old:
            self.layers.clear()
            if self.service is not None:
                self.service.classes_renamed()
        else:
            self.recolour()
        self._show_models()  # the panel says whether the active version still fits
        self.update_enabled()

    def recolour(self) -> None:
        """Redraw the proposal in the current class colours and visibility."""
        schema = self.workspace.schema
        if schema is not None:
            self.layers.recolour(schema, self.workspace.hidden_classes())

    def stale_version(self) -> ModelRecord | None:
        """The active version when it no longer fits the classes (one was renamed): it
        cannot propose, and a round cannot continue it. None otherwise."""
        return None if self.service is None else self.service.stale_active()

    def proposes(self) -> bool:
        """Whether an image opened gets a proposal (a version that fits the classes)."""
        return (
            self.service is not None
            and self.service.active_record is not None
            and self.stale_version() is None
        )

    def _no_accept_why(self) -> str:
        """Why Accept cannot run on the open image ("" when it can, or nothing is open)."""
        doc = self.workspace.document
        if self.service is None or doc is None:
            return ""
        if self.layers.proposal is not None and self.layers.image_id == doc.image_id:
            return ""
        stale = self.stale_version()
        if self.service.active_record is None:
            return "No model yet: paint some pixels of each class, then Train now (Ctrl+T)."
        if stale is not None:
            return classes_changed_text(stale.version)
        return "The proposal of this image is not ready yet."

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """A or Shift+A while Accept is disabled (its key then reaches the window as a
        plain key press): say why in the status bar instead of nothing."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination())
            for name in ("accept", "accept_class"):
                action = self.actions[name]
                disabled = not action.isEnabled() and pressed in action.shortcuts()
                if disabled and (why := self._no_accept_why()):
                    self.message.emit(why, MESSAGE_MS)
                    return True
        return super().eventFilter(watched, event)

    def _accept_tips(self, has_doc: bool, has_proposal: bool) -> None:
        """While Accept is disabled, its tooltip says why (A and Shift+A say it too:
        :meth:`eventFilter`)."""
        why = self._no_accept_why() if has_doc and not has_proposal else ""
        for name, tip in self._default_tips.items():
            text = f"{tip}. {why}" if why else tip
            self.actions[name].setToolTip(text)
            self.actions[name].setStatusTip(text)

    def update_enabled(self) -> None:
        a = self.actions
        service = self.service
        doc = self.workspace.document
        has_doc = doc is not None
        has_proposal = (
            doc is not None
            and self.layers.proposal is not None
            and self.layers.image_id == doc.image_id
        )
        a["accept"].setEnabled(has_proposal)
        a["accept_class"].setEnabled(has_proposal)
        self._accept_tips(has_doc, has_proposal)
        a["train_now"].setEnabled(service is not None)
        a["train_scratch"].setEnabled(service is not None)
        a["cancel_training"].setEnabled(service is not None and service.training)
        a["import_model"].setEnabled(service is not None)
        a["export_model"].setEnabled(service is not None and service.active_record is not None)
        a["next_suggested"].setEnabled(has_doc)
        self.panel.setEnabled(service is not None)  # no project: nothing to set or roll back
        self.panel.train_button.setEnabled(service is not None)
        self.panel.cancel_button.setEnabled(
            service is not None and (service.training or service.follow_up_queued)
        )
