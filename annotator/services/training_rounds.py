"""The GUI's training rounds: at most one at a time, one queued follow-up, idle retraining,
and rounds kept going while the user labels.

States: idle -> running -> idle. Asking for a round while one runs queues exactly one
follow-up, started when the running one ends however it ends (published, not published,
cancelled, failed). Cancelling forgets the queued one. Every event reaches the owner
through the dispatcher, so this is tested with no event loop.

**Keeping on** ("Keep training while I label", ``ModelSettings.keep_training``): when a
round ends (published or not) with nothing queued and the owner says the user is still
labelling (``RoundEvents.keep_going``), another round starts on the images marked done,
continuing the newest version: the model goes on learning in the minutes a person spends
on the next image, instead of waiting idle for the next "done" (RootPainter trains the
same way). Such a round leaves the image being labelled out (its labels are partial, and
the accepted proposal in it not yet corrected), and gives way at once to a round asked
for (an image marked done, Train now): it is stopped, unpublished, and the asked-for
round starts. ``annotator bench`` counts these rounds the same way (docs/simulated-annotator.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from annotator.core.errors import AnnotatorError, ModelError, NothingLabelled
from annotator.core.records import ModelRecord
from annotator.core.schema import untrainable
from annotator.services import train_checks, training
from annotator.services.jobs import CancelToken, Dispatcher, JobCallbacks, SingleJobRunner
from annotator.services.model_settings import ModelSettings
from annotator.storage.project import Project

if TYPE_CHECKING:
    from annotator.ml.train import TrainProgress

log = logging.getLogger(__name__)

#: What a round asked for says when no image has labels yet (a hint, not a failure).
NOTHING_LABELLED_TEXT = "Nothing labelled yet: paint a few strokes of each class, then Train now."
#: Training progress reaches the owner at most this often (the last step always does).
PROGRESS_INTERVAL_S = 0.1
CANCELLED_MESSAGE = "cancelled: the model version is unchanged"


@dataclass(frozen=True)
class RoundOutcome:
    """How a training round ended, for the model panel and the status bar."""

    status: Literal["published", "not published", "cancelled", "failed"]
    model: ModelRecord | None
    message: str
    steps: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class RoundEvents:
    """Where the rounds report; every callback runs through the dispatcher."""

    on_started: Callable[[], None]
    on_progress: Callable[[TrainProgress], None]
    on_finished: Callable[[RoundOutcome], None]
    on_error: Callable[[BaseException], None]
    #: Called on the owner's thread just before a round reads the labels from disk, a
    #: queued one included: the owner saves the labels still in memory (ADR 0005).
    save_labels: Callable[[], None] | None = None
    #: Asked when a round ends with nothing queued: whether to keep training on the done
    #: images (the setting is on and the user is labelling). None: never.
    keep_going: Callable[[], bool] | None = None


@dataclass(frozen=True)
class _Queued:
    """The follow-up round asked for while one runs."""

    from_scratch: bool = False
    arch: str | None = None


class TrainingRounds:
    """Runs training rounds of one project on a background thread, one at a time."""

    def __init__(
        self,
        project: Project,
        dispatcher: Dispatcher,
        settings: Callable[[], ModelSettings],
        events: RoundEvents,
        channels_how: str = "",
    ) -> None:
        self.project = project
        #: How a round's refusal tells to choose channels (the app's menu; "": the CLI's).
        self.channels_how = channels_how
        self._settings = settings
        self._events = events
        self._runner = SingleJobRunner(dispatcher, "annotator-training")
        self._follow_up: _Queued | None = None
        self._dirty = False
        self._dropped = False  # a cancel forgot a queued round: its message says so
        #: The running round is one kept going on the done images (see the module).
        self._keeping_on = False
        #: That round is being stopped for a round asked for (queued as the follow-up).
        self._giving_way = False
        #: That round is being stopped for a change of what it reads: what it says then.
        self._stopped_for: str | None = None
        self._closed = False
        self._last_progress = 0.0
        self.started = 0
        #: A round ran whose end the owner has not been told yet (its thread ended: the
        #: runner is no longer busy); a round kept going waits for that news.
        self._end_pending = False
        #: Keeping on was asked to go on while that news was on its way.
        self._keep_after_end = False

    @property
    def busy(self) -> bool:
        return self._runner.busy

    @property
    def follow_up_queued(self) -> bool:
        return self._follow_up is not None

    @property
    def keeping_on(self) -> bool:
        """The running round is one kept going on the done images while the user labels."""
        return self._runner.busy and self._keeping_on

    @property
    def labels_dirty(self) -> bool:
        """Labels changed since the last round started."""
        return self._dirty

    def labels_changed(self) -> None:
        """The user changed labels (idle retraining only runs after changes)."""
        self._dirty = True

    def start(self, from_scratch: bool = False, arch: str | None = None) -> str:
        """Start a round, or queue one follow-up if a round is running.

        Returns ``"started"`` or ``"queued"``. Raises :class:`NothingLabelled` when
        nothing is labelled yet (the message says what to do), :class:`ModelError` when
        the project cannot train.
        """
        if self._closed:
            raise ModelError("the project is closed")
        if (why := untrainable(len(self.project.schema))) is not None:
            raise ModelError(why)
        if self._runner.busy:
            self._queue(from_scratch, arch)
            if self._keeping_on and not self._giving_way:
                # A round kept going on the done images gives way to the one asked for:
                # it stops unpublished and the asked-for round starts as its follow-up.
                self._giving_way = True
                self._runner.cancel()
                return "started"
            return "queued"
        return self._start(from_scratch, arch, keeping_on=False)

    def _start(self, from_scratch: bool, arch: str | None, keeping_on: bool) -> str:
        # A round the user asked for reads the labels as they are now: saved, and waited
        # for. One kept going while the user labels reads what the done images have on
        # disk: waiting for the open image's save (seconds for a big one, as often as
        # rounds start) froze the window, for an image such a round mostly never reads.
        if self._events.save_labels is not None and not keeping_on:
            self._events.save_labels()
        if not training.has_labelled(self.project, done_only=keeping_on):
            raise NothingLabelled(
                "no image marked done yet" if keeping_on else NOTHING_LABELLED_TEXT
            )
        train_checks.check_classes(self.project, done_only=keeping_on, from_scratch=from_scratch)
        work = _round_work(
            self.project, self._settings(), from_scratch, arch, keeping_on, self.channels_how
        )
        started = self._runner.start(
            work,
            JobCallbacks(
                on_done=self._done,
                on_error=self._failed,
                on_progress=self._progress,
                on_cancelled=self._cancelled,
            ),
        )
        if not started:  # pragma: no cover - busy was checked just above, on this thread
            self._queue(from_scratch, arch)
            return "queued"
        self._keeping_on, self._giving_way = keeping_on, False
        self._end_pending = True
        if not keeping_on:  # (a round kept going reads no image in progress: still dirty)
            self._dirty = False
        self.started += 1
        self._events.on_started()
        return "started"

    def stop_keeping_on(self, why: str, timeout: float) -> bool:
        """Stop a round kept going on the done images (unpublished), e.g. before the labels
        or images it reads change, and wait up to ``timeout`` s for it to end; whether no
        round runs then. A round the user asked for is left alone: False if it runs, or
        is queued to start as the kept one ends (an image was just marked done: it would
        start in the middle of the change)."""
        if self._follow_up is not None:  # (also once the kept round ended, before the news)
            return False
        if self._runner.busy and self._keeping_on:
            self._stopped_for = why
            self._runner.cancel()
            self._runner.join(timeout)
        return not self._runner.busy

    def end_keeping_on(self, why: str) -> None:
        """Stop a round kept going on the done images (unpublished) without waiting; a
        round asked for, queued to start as it ends, still starts (keeping on turned off
        just after an image was marked done dropped that image's round)."""
        if self._runner.busy and self._keeping_on:
            if self._follow_up is None:
                self._stopped_for = why
            self._runner.cancel()

    def keep_going_now(self) -> None:
        """Start a round on the done images now if none runs and the owner says to (the
        user resumed labelling after keeping on had stopped); just after a round was
        stopped, once its end is told (else that news would call the new round's
        start a stop)."""
        if self._end_pending:
            self._keep_after_end = True
            return
        self._keep_going()

    def _keep_going(self) -> None:
        """After a round ends with nothing queued: keep training on the done images while
        the owner says the user labels (see the module)."""
        ask = self._events.keep_going
        if self._closed or self._runner.busy or ask is None or not ask():
            return
        if untrainable(len(self.project.schema)) is not None:
            return
        try:
            self._start(False, None, keeping_on=True)
        except ModelError:
            return  # nothing done yet: the first image's rounds are the user's to ask for

    def _queue(self, from_scratch: bool, arch: str | None) -> None:
        """Queue one follow-up; a round from scratch asked for wins over a plain one."""
        if from_scratch or self._follow_up is None:
            self._follow_up = _Queued(from_scratch, arch if from_scratch else None)

    def start_if_dirty(self) -> str | None:
        """Idle retraining: start a round only if labels changed since the last one (a
        round kept going on the done images gives way to it, as to any round asked for)."""
        if not self._dirty or self._closed or (self._runner.busy and not self._keeping_on):
            return None
        try:
            return self.start()
        except ModelError:
            return None

    def cancel(self) -> None:
        """Stop the running round (the model version stays) and forget a queued one."""
        # (a second click while the round stops must not forget the first one's drop)
        self._dropped = self._dropped or (self._follow_up is not None and self._runner.busy)
        self._follow_up = None
        self._giving_way = False  # (the user's cancel, not a round asked for: said so)
        self._keep_after_end = False  # (nor does keeping on go on after it)
        self._runner.cancel()

    def _cancelled_message(self) -> str:
        dropped, self._dropped = self._dropped, False
        if dropped:  # the images marked done since the round began are in neither
            return CANCELLED_MESSAGE + "; the round queued after it was dropped too"
        return CANCELLED_MESSAGE

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no round runs (tests, benchmarks)."""
        return self._runner.join(timeout)

    def shutdown(self, timeout: float) -> bool:
        """Cancel the round and join its thread; late results are ignored."""
        self._closed = True
        self._follow_up = None
        return self._runner.shutdown(timeout)

    # --- results, on the owner's thread ---------------------------------------------------------
    def _progress(self, info: TrainProgress) -> None:
        now = time.monotonic()
        if info.phase == "train" and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        if not self._closed:
            self._events.on_progress(info)

    def _told_end(self) -> bool:
        """A round's end is being told: whether keeping on was asked to go on after it."""
        asked, self._keep_after_end = self._keep_after_end, False
        self._end_pending = False
        return asked

    def _done(self, outcome: training.TrainOutcome) -> None:
        keep = self._told_end()
        if self._closed:
            return
        result = outcome.result
        if result.status != "cancelled":
            self._dropped = False  # the cancel came too late to stop it
        status: Literal["published", "not published", "cancelled"]
        if outcome.model is not None:
            status = "published"
            message = f"published model v{outcome.model.version} ({result.message})"
            if outcome.cancelled_after_publish:
                message += "; the cancel came after it was published"
            if outcome.kept_active is not None:
                message += (
                    f"; v{outcome.kept_active} stays active: it was made active during "
                    "the round (Roll back to use the new one)"
                )
            # (notes: Model > Train from scratch; left_out: pictures the round could not use)
            for note in (*outcome.left_out, *outcome.notes, *outcome.warnings):
                message += f"; {note}"
        elif result.status == "cancelled":
            status, message = "cancelled", self._cancelled_message()
        else:
            status = "not published"
            message = result.message or "the round was not published"
        if self._keeping_on and status == "published":
            message += "; kept training on the done images while you label"
        elif status == "cancelled":
            message = self._kept_stopped() or message
        self._events.on_finished(
            RoundOutcome(status, outcome.model, message, result.steps, result.seconds)
        )
        if not self._start_follow_up() and (status != "cancelled" or keep):
            self._keep_going()

    def _failed(self, exc: BaseException) -> None:
        self._told_end()
        self._dropped = False
        if self._closed:
            return
        self._events.on_finished(RoundOutcome("failed", None, str(exc)))
        self._events.on_error(exc)
        self._start_follow_up()

    def _cancelled(self) -> None:
        keep = self._told_end()
        if self._closed:
            return
        message = self._kept_stopped() or self._cancelled_message()
        self._events.on_finished(RoundOutcome("cancelled", None, message))
        if not self._start_follow_up() and keep:
            self._keep_going()

    def _kept_stopped(self) -> str | None:
        """What a round kept going on the done images says when it was stopped for a
        round asked for or for a change of what it reads; None for another cancel."""
        if self._stopped_for is not None:
            return f"the round on the done images stopped: {self._stopped_for}"
        if self._giving_way:
            return "the round on the done images stopped for the round you asked for"
        return None

    def _start_follow_up(self) -> bool:
        """Start the queued round, if any; whether one was queued."""
        queued, self._follow_up = self._follow_up, None
        self._keeping_on = self._giving_way = False
        self._stopped_for = None
        if queued is None or self._closed:
            return False
        try:
            self.start(queued.from_scratch, queued.arch)
        except AnnotatorError as exc:
            self._events.on_error(exc)
        return True


def _round_work(
    project: Project,
    settings: ModelSettings,
    from_scratch: bool,
    arch: str | None = None,
    done_only: bool = False,
    channels_how: str = "",
) -> Callable[[Callable[[Any], None], CancelToken], training.TrainOutcome]:
    """The job a round runs on the training thread, with the settings of its start
    (``done_only``: a round kept going while the user labels trains on the done images;
    ``channels_how``: :func:`~annotator.services.training.build_request`'s)."""

    def work(progress: Callable[[Any], None], cancel: CancelToken) -> training.TrainOutcome:
        from annotator.ml.device import limit_cpu_threads
        from annotator.ml.train import TrainConfig

        limit_cpu_threads(settings.cpu_threads())
        return training.train_project(
            project,
            steps=settings.steps,
            seconds=settings.seconds,
            device=settings.device,
            progress=progress,
            cancel=cancel,
            from_scratch=from_scratch,
            config=TrainConfig(crop=settings.crop, batch_size=settings.batch_size),
            network=training.new_network(project, settings.depth, settings.width, arch),
            done_only=done_only,
            channels_how=channels_how,
        )

    return work
