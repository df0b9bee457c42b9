"""The status bar's "what is the app doing" field: loading, proposing, training, saving.

One label at the left of the status bar (a short message of the window shows in its
place for a few seconds) and one small progress bar, permanent, at the right. It
listens to the loop controller's signals (round started/progress/finished, proposal
shown, proposals idle) and to the window's own moments (opening an image, handing
labels to the autosaver, the save landing on disk). Several things can run at once; a
training round is the longest, so while one runs its progress wins over shorter news.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QProgressBar, QStatusBar

from annotator.core.naming import one_line
from annotator.gui.model_panel import starting_text
from annotator.gui.status_labels import ElidedLabel

if TYPE_CHECKING:
    from annotator.gui.loop_controller import LoopController
    from annotator.services.model_service import RoundOutcome

log = logging.getLogger(__name__)


class StatusActivity:
    """Owns the activity label and progress bar of a status bar."""

    def __init__(self, bar: QStatusBar) -> None:
        # Cut with "…" where the bar is short (the whole news in its tooltip).
        self.label = ElidedLabel(narrowest=160)
        self.label.setText("Ready")
        self.label.setObjectName("activityLabel")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(100)
        self.bar.setTextVisible(False)
        self.bar.hide()
        # A normal widget, not a permanent one: the status bar's own short messages
        # ("Accepted…", "No proposal yet…") take its place while they show. As a
        # stretching permanent widget it left them no room: they were never seen.
        bar.addWidget(self.label, 1)
        bar.addPermanentWidget(self.bar)
        self._round: int | None = None  # the training round running, if any
        self._name = ""  # the image open
        self._other = "Ready"  # the latest non-training news
        self._status = bar
        self._note = ""  # the short form of the long note showing, if any
        bar.messageChanged.connect(self._message_changed)

    @property
    def text(self) -> str:
        return self.label.text()

    def connect_loop(self, loop: LoopController) -> None:
        self._loop = loop
        loop.round_started.connect(self.round_started)
        loop.round_finished.connect(self.round_finished)
        loop.proposal_shown.connect(lambda _i, v: self.say(f"Proposal of model v{v} shown"))
        loop.proposal_progress.connect(self.proposal_progress)
        loop.closed.connect(self.reset)
        loop.proposals_idle.connect(self._proposals_idle)
        failed = getattr(loop, "proposal_failed", None)
        if failed is not None:
            failed.connect(self.proposal_failed)
        progress = getattr(loop, "training_progress", None)
        if progress is not None:
            progress.connect(self.training_progress)

    def reset(self) -> None:
        """The project closed: a round it ran will say nothing more."""
        self._round = None
        self.bar.hide()
        self.say("Ready")

    # --- news ------------------------------------------------------------------------------
    def note(self, short: str, detail: str, ms: int) -> None:
        """A note too long for the status bar: ``short`` shows there, the whole note
        (``detail``) in the status bar's tooltip while it shows, and in the app's log."""
        log.info("%s", detail)
        self._note = short
        self._status.showMessage(short, ms)
        self._status.setToolTip(detail if detail != short else "")

    def _message_changed(self, text: str) -> None:
        if self._note and text != self._note:  # the note went: so does its detail
            self._note = ""
            self._status.setToolTip("")

    def say(self, text: str, now: bool = False) -> None:
        """Show ``text`` unless a training round is showing its progress."""
        self._other = text
        if self._round is None:
            self.bar.hide()  # news ends a proposal's progress
            self.label.setText(text)
            if now:  # the GUI thread is about to block (loading): paint it first
                self.label.repaint()

    def loading(self, name: str) -> None:
        self.say(f"Loading {name}…", now=True)

    def image_opened(self, name: str) -> None:
        name = self._name = one_line(name)
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.proposes():  # (not a version of other classes)
            self.say(f"Proposing for {name}…")
        else:
            self.say(f"{name} open")

    def proposal_progress(self, _image_id: int, done: int, total: int) -> None:
        """A big image's proposal, tile by tile (a training round's progress wins)."""
        if self._round is not None or not self._other.startswith("Proposing"):
            return
        self.bar.setValue(int(round(done / total * 1000)))
        self.bar.show()
        self.label.setText(f"Proposing for {self._name}… {done} of {total} tiles")

    def saving(self) -> None:
        if not self._other.startswith(("Loading", "Proposing")):  # those are the news
            self.say("Saving…")

    def saved(self, _image_id: int) -> None:
        if self._other == "Saving…":
            self.say("All changes saved")

    def proposal_failed(self) -> None:
        """No proposal comes for the image open: stop saying one is on its way (or shown:
        a rename took it away). The failure itself is the window's message."""
        if self._other.startswith(("Proposing", "Proposal of")):
            self.say(f"{self._name} open" if self._name else "Ready")

    def _proposals_idle(self) -> None:
        if self._other.startswith("Proposing"):
            self.say("Ready")

    # --- training ----------------------------------------------------------------------------
    def round_started(self) -> None:
        service = getattr(getattr(self, "_loop", None), "service", None)
        self._round = len(service.project.models()) + 1 if service is not None else 1
        self.bar.setValue(0)
        self.bar.show()
        self.label.setText(f"Training round {self._round}: {starting_text()}…")

    def training_progress(self, progress: Any) -> None:
        """``progress`` is an ``ml.train.TrainProgress`` (typed loosely: no torch here)."""
        if self._round is None:
            self._round = 1
            self.bar.show()
        fraction = float(progress.fraction)
        self.bar.setValue(int(round(fraction * 1000)))
        if progress.phase != "train" and progress.detail:  # loading, scoring, writing...
            self.label.setText(f"Training round {self._round}: {progress.detail}…")
            return
        self.label.setText(
            f"Training round {self._round}: {fraction * 100:.0f} % "
            f"(step {progress.step}, loss {progress.loss:.3f})"
        )

    def round_finished(self, outcome: RoundOutcome) -> None:
        self._round = None
        self.bar.hide()
        if outcome.status == "cancelled":
            text = "Training round cancelled; the model is unchanged"
        elif outcome.status == "failed":
            text = f"Training round failed: {outcome.message}"
        else:
            text = f"Training round done: {outcome.message}"
        self.label.setText(text)
        self._other = text
