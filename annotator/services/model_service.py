"""The active-learning loop without Qt: what the GUI talks to about the model.

:class:`ModelService` ties together, for one open project,

* :class:`~annotator.services.training_rounds.TrainingRounds`: at most one training round
  at a time (marking an image done while a round runs queues exactly one follow-up),
* :class:`~annotator.services.proposals.ProposalWorker`: the proposal of the image on
  screen first, then the scores of the images still to label; a newer request (the user
  opened another image, a new version was published) cancels the running one,
* the project's :class:`~annotator.services.model_settings.ModelSettings`,
* which model version is active (published rounds and rollbacks change it),
* which images the active version has scored (the worker keeps that record, starting
  from the scores the version stored before: an earlier session's, read from its
  proposals' JSON off the owner's thread when the service starts or the version
  changes).

Scores are stored per image in the project (``images.score``) without the version that
made them. When a version becomes active the worker scores every image to label again,
which takes a while (4 s for 40 images of 512 x 512 px on two CPU cores; a request of
the shown image restarts it, keeping what was scored): meanwhile the project holds a
mix of the two versions' scores. :meth:`ModelService.suggest` says how far the active
version got (:class:`Suggestion`) and ranks the images it scored first, so the caller
(the window's N) can wait for :meth:`ModelService.ranking` to finish, or say that it
suggests by what was scored so far; it never suggests by an older version silently.

Every event reaches the owner through the injected dispatcher (the GUI passes one that
runs on its event loop; tests pass :func:`~annotator.services.jobs.call_directly`).
A proposal for an image that is no longer shown, or from a version that is no longer
active, is dropped and counted in :attr:`ModelService.dropped`.

Training never writes label masks and proposals are never ground truth: only
:meth:`Document.accept <annotator.services.document.Document.accept>`, called by the
user, copies a proposal into a label map, as one undoable step and only where nobody has
labelled yet.

torch is imported only on the worker threads, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.core.card import classes_fit, classes_refused
from annotator.core.errors import ModelError, ProjectError
from annotator.core.proposal import Proposal
from annotator.core.records import ImageRecord, ImageScore, ModelRecord
from annotator.core.schema import untrainable
from annotator.core.status import ImageStatus
from annotator.services import proposals, versions
from annotator.services.jobs import Dispatcher
from annotator.services.model_settings import ModelSettings, load_settings, save_settings
from annotator.services.proposals import ProposalEvents, ProposalRequest, ProposalWorker
from annotator.services.training_rounds import RoundEvents, RoundOutcome, TrainingRounds
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

if TYPE_CHECKING:
    from annotator.ml.train import TrainProgress

log = logging.getLogger(__name__)

__all__ = [
    "ModelListener",
    "ModelService",
    "ModelSettings",
    "Ranking",
    "RoundOutcome",
    "Suggestion",
]

#: The strategy that ranks by scores (the others ignore them, so never wait for them).
SCORED_STRATEGY = "uncertainty"


@dataclass(frozen=True)
class Ranking:
    """How far the active version has scored the images the worker was asked to rank."""

    #: The active version (None: no model, nothing to score).
    version: int | None
    #: Of the images below, those the active version has scored since it became active.
    scored: int
    #: The images to label the worker was last asked to rank (the one shown left out);
    #: 0 until the worker has listed them.
    total: int
    #: The worker is still scoring for the active version.
    busy: bool


@dataclass(frozen=True)
class Suggestion:
    """What "next suggested" opens, and what ranked it."""

    #: The image to open (None: every image is done).
    record: ImageRecord | None
    #: The active version (None: no model yet).
    version: int | None
    #: The images to label (the one shown left out) the active version has scored.
    scored: int
    #: The images to label (the one shown left out).
    total: int
    #: The strategy's order does not depend on scores the active version has not made
    #: yet: every image to label has its score, or the strategy ignores scores, or no
    #: model exists. Otherwise the images it scored come first, then the others by the
    #: scores the project holds (another version's, as far as known).
    complete: bool
    #: The version whose score ranked ``record``: the active one's when it scored it,
    #: else the one its stored proposal names (None: no score, or none known).
    ranked_by: int | None = None


@dataclass(frozen=True)
class ModelListener:
    """Where the service reports; every callback runs through the dispatcher."""

    #: ``(image_id, version, proposal)`` of the image on screen (never a stale one).
    on_proposal: Callable[[int, int, Proposal], None] | None = None
    #: New image scores (higher = label sooner), as they are computed.
    on_scores: Callable[[dict[int, float]], None] | None = None
    #: ``(image_id, tiles done, tiles in all)`` of the proposal being computed for the
    #: image on screen, when it is big enough to take several tiles.
    on_proposal_progress: Callable[[int, int, int], None] | None = None
    #: A proposal request (the shown image and the ranking) finished.
    on_proposals_idle: Callable[[], None] | None = None
    #: The active version scored more of the images to rank, finished or stopped (see
    #: :meth:`ModelService.ranking`); also when the version changes.
    on_ranking: Callable[[Ranking], None] | None = None
    #: The scores the active version stored before (an earlier session's) are read:
    #: :meth:`ModelService.suggest` may be complete although the worker still works
    #: (e.g. on the shown image's proposal). ``(version)``
    on_stored_scores: Callable[[int], None] | None = None
    on_round_started: Callable[[], None] | None = None
    on_progress: Callable[[TrainProgress], None] | None = None
    on_round_finished: Callable[[RoundOutcome], None] | None = None
    #: The active version changed (a round published, or a rollback).
    on_version_changed: Callable[[ModelRecord | None], None] | None = None
    #: ``(what failed, the exception)``; what is ``training`` or ``proposal``.
    on_error: Callable[[str, BaseException], None] | None = None
    #: Save the labels held in memory (synchronously): a round is about to read them
    #: from disk, a queued round included.
    save_labels: Callable[[], None] | None = None


#: Rounds kept going on the done images stop when the user has not changed labels for
#: this long (nobody is labelling: the machine rests); the next edit resumes them.
KEEP_TRAINING_IDLE_S = 120.0


class ModelService:
    """The model side of one open project; every public method runs on the owner's thread."""

    def __init__(
        self,
        project: Project,
        dispatcher: Dispatcher,
        listener: ModelListener | None = None,
        settings: ModelSettings | None = None,
        channels_how: str = "",
    ) -> None:
        """``channels_how``: how the front end chooses channels, for a round refused as
        every labelled picture lacks one of the Channel Choice ("": the CLI's command)."""
        self.project = project
        self.listener = listener or ModelListener()
        self.settings = settings or load_settings(project)
        self._rounds = TrainingRounds(
            project,
            dispatcher,
            lambda: self.settings,
            RoundEvents(
                on_started=lambda: self._emit(self.listener.on_round_started),
                on_progress=lambda info: self._emit(self.listener.on_progress, info),
                on_finished=self._round_finished,
                on_error=lambda exc: self._emit(self.listener.on_error, "training", exc),
                save_labels=lambda: self._emit(self.listener.save_labels),
                keep_going=self._should_keep_going,
            ),
            channels_how,
        )
        self._worker = ProposalWorker(
            project,
            dispatcher,
            ProposalEvents(
                on_proposal=self._proposal_ready,
                on_scores=self._scores_ready,
                on_idle=self._proposals_idle,
                on_error=self._proposals_failed,
                on_progress=self._proposal_progress,
                on_stored=self._stored_read,
                on_lacking=self._proposal_lacking,
            ),
            lambda: (self.settings.device, self.settings.cpu_threads()),
        )
        #: The active version's record as this service knows it: read once here, then
        #: changed only by what changes it in this process (a round's end, a rollback, a
        #: version adopted: :meth:`_hold`). The window asks for it at every event; read
        #: from the database, it waited for a round's transaction (0.8 s at 5,000 images).
        #: No other process can change it meanwhile: the window holds the project's
        #: write lock (``storage.lock``), which ``annotator models --rollback`` needs.
        self._active_record: ModelRecord | None = None
        #: Images whose labels were replaced outside the user's edits (an import) since
        #: the last round published: the versions saw other labels of them, if any.
        self._relabelled: set[int] = set()
        self._hold(project.active_model())
        self._current: int | None = None
        self._current_pixels: np.ndarray | None = None
        #: Images N left without marking them done (:meth:`pass_over_shown`), and the
        #: ranking they were left in: (active version, strategy).
        self._passed: set[int] = set()
        self._passed_in: tuple[int | None, str] | None = None
        self.current_proposal: Proposal | None = None
        self._closed = False
        #: The request submitted last, until it reports its end (idle or error).
        self._in_flight: ProposalRequest | None = None
        #: Stale proposals dropped (an image no longer shown, or an older version).
        self.dropped = 0
        #: Proposals held (:meth:`pause_proposals`): nothing is asked of the worker.
        self._paused = False
        #: When the user last changed labels (``time.monotonic``), and whether keeping on
        #: training stopped because they had not for a while (the next edit resumes it).
        self._last_edit = -math.inf
        self._kept_waiting = True
        #: A round on the done images waits for the proposals (the ranking) to end.
        self._kept_after_proposals = False
        if self._active is not None:  # what it scored in an earlier session counts
            self._worker.read_stored(self._active)

    # --- state ---------------------------------------------------------------------------------
    @property
    def active_version(self) -> int | None:
        return self._active

    @property
    def active_record(self) -> ModelRecord | None:
        """The active version's record (no database read: see ``_active_record``)."""
        return self._active_record

    def stale_active(self) -> ModelRecord | None:
        """The active version when it no longer fits the project's classes (a class was
        renamed): :func:`versions.stale_active` without reading the database."""
        return versions.stale_of(self._active_record, self.project.schema.names)

    @property
    def training(self) -> bool:
        return self._rounds.busy

    @property
    def follow_up_queued(self) -> bool:
        return self._rounds.follow_up_queued

    @property
    def keeping_on(self) -> bool:
        """The running round is one on the done images while the user labels (ADR 0033)."""
        return self._rounds.keeping_on

    def stop_keeping_on(self, why: str, timeout: float = 10.0) -> bool:
        """Stop a round kept going on the done images before what it reads changes (an
        import, a removal, a class change: they refuse a round the user asked for);
        whether no round runs then (see ``TrainingRounds.stop_keeping_on``). Keeping on
        goes on when the proposals resume after the change (:meth:`resume_proposals`),
        or at the next edit."""
        was_keeping_on = self._rounds.keeping_on
        stopped = self._rounds.stop_keeping_on(why, timeout)
        if was_keeping_on and stopped:
            self._kept_waiting = True
        return stopped

    @property
    def labels_dirty(self) -> bool:
        """Labels changed since the last round started."""
        return self._rounds.labels_dirty

    @property
    def rounds_started(self) -> int:
        return self._rounds.started

    def set_settings(self, settings: ModelSettings) -> None:
        """Use and store new settings (a running round keeps the old ones; one kept going
        on the done images stops when keeping on is turned off)."""
        if settings.keep_training and not self.settings.keep_training:
            self._kept_waiting = True  # turned on: the next edit starts it
        self.settings = settings
        save_settings(self.project, settings)
        if not settings.keep_training and self._rounds.keeping_on:
            self._rounds.end_keeping_on("keeping on was turned off")

    def update_settings(self, **changes: Any) -> ModelSettings:
        """Change some settings, e.g. ``update_settings(strategy="random")``."""
        self.set_settings(replace(self.settings, **changes))
        return self.settings

    # --- proposals ---------------------------------------------------------------------------
    def show_image(self, image_id: int | None, pixels: np.ndarray | None = None) -> None:
        """The user now looks at ``image_id``: propose for it, then score the others."""
        self._current = image_id
        self._current_pixels = pixels
        self.current_proposal = None
        self.refresh_proposals()

    def classes_renamed(self) -> None:
        """A class was renamed: the proposal shown came from a version that may no longer
        fit; forget it and ask again (the version is checked against the classes first,
        and ``on_error`` says why it cannot propose). A round kept going on the done
        images stops: it could not publish for the classes it began with (the next edit
        resumes keeping on where the version still fits)."""
        if self._rounds.keeping_on:
            self._rounds.end_keeping_on("a class was renamed")
            self._kept_waiting = True
        self.current_proposal = None
        self.refresh_proposals()

    def refresh_proposals(self) -> None:
        """Ask for the current image's proposal and the scores of the images to label
        (held while proposals are paused: :meth:`resume_proposals` asks)."""
        if self._closed or self._active is None or self._paused:
            return
        stale = self._stale(self._active)
        if stale is not None:
            # Expected until a round from scratch (a class renamed: ADR 0021), so said to
            # the listener, not asked of the worker: its failures are logged as warnings
            # (the log a bug report attaches), and loading the version would only refuse.
            self._worker.cancel()  # a request of before the rename must not run into it
            self._in_flight = None
            log.info("no proposals: %s", stale)
            self._emit(self.listener.on_error, "proposal", stale)
            self._emit(self.listener.on_ranking, self.ranking())
            return
        current, strategy = self._current, self.settings.strategy

        def to_rank() -> list[int]:
            """Images not done, the one the strategy suggests first (it is prefetched)."""
            ranked = proposals.rank_records(self.project.image_scores(), strategy)
            return [r.id for r in ranked if r.id != current]

        request = ProposalRequest(self._active, self._current, self._current_pixels, to_rank)
        self._in_flight = request
        self._worker.submit(request)

    def _stale(self, version: int) -> ModelError | None:
        """Why ``version`` cannot propose for the project's classes, read from its card
        (a class renamed since it was trained); None when it fits (or is not found:
        loading it says so)."""
        try:  # (the active version's record is held: no database read per image opened)
            held = self._active_record
            card = (held if held and held.version == version else self.project.model(version)).card
        except ProjectError:
            return None
        names = self.project.schema.names
        if classes_fit(card.class_names, names):
            return None
        return ModelError(classes_refused(card.class_names, names, f"model v{version}"))

    def wait_proposals(self, timeout: float = 30.0) -> bool:
        """Block until the proposal worker is idle (tests, benchmarks; after
        :meth:`pause_proposals`, until the request it stopped has ended)."""
        return self._worker.wait_idle(timeout)

    def pause_proposals(self) -> None:
        """Stop the running proposal request (the shown image's proposal, the ranking)
        at its next check and ask for none until :meth:`resume_proposals`: e.g. while
        images are removed, which must not wait for a ranking of every image (one model
        call each). :meth:`wait_proposals` then waits for that check only. What was
        scored stays; the ranking shows busy until it is asked again."""
        self._paused = True
        self._worker.cancel()

    def resume_proposals(self) -> None:
        """Ask again, after :meth:`pause_proposals`, for the shown image's proposal and
        the ranking of the images to label as they are now (what was scored is kept)."""
        self._paused = False
        self.refresh_proposals()
        self._resume_kept()

    def _resume_kept(self) -> None:
        """Keeping on, held back while images or labels were changed, goes on (after the
        proposals and ranking of what is there now) if the user labelled lately."""
        if not self._kept_waiting or not self.settings.keep_training or self._rounds.busy:
            return
        if time.monotonic() - self._last_edit > KEEP_TRAINING_IDLE_S:
            return  # (the next edit resumes it)
        self._kept_waiting = False
        self._rounds.keep_going_now()

    def _proposal_ready(self, request: ProposalRequest, proposal: Proposal) -> None:
        if self._closed:
            return
        if request.show != self._current or request.version != self._active:
            self.dropped += 1
            log.debug("dropped a stale proposal of image %s v%s", request.show, request.version)
            return
        self.current_proposal = proposal
        self._emit(self.listener.on_proposal, request.show, request.version, proposal)
        self._emit(self.listener.on_scores, {request.show: proposal.score})

    def _proposal_progress(self, request: ProposalRequest, done: int, total: int) -> None:
        if not self._closed and request.show == self._current and request.version == self._active:
            self._emit(self.listener.on_proposal_progress, request.show, done, total)

    def _scores_ready(self, request: ProposalRequest, scores: dict[int, float]) -> None:
        if self._closed:
            return
        self._emit(self.listener.on_scores, scores)  # the project holds them, any version
        if request.version == self._active:
            self._emit(self.listener.on_ranking, self.ranking())

    def _request_ended(self, request: ProposalRequest) -> None:
        if request is self._in_flight:
            self._in_flight = None
            self._emit(self.listener.on_ranking, self.ranking())

    def _keep_on_after_proposals(self) -> None:
        """The proposals ended: a round on the done images waiting for them starts."""
        if self._kept_after_proposals and self._in_flight is None:
            self._kept_after_proposals = False
            self._rounds.keep_going_now()

    def _proposals_idle(self, request: ProposalRequest) -> None:
        if not self._closed:
            self._request_ended(request)
            self._emit(self.listener.on_proposals_idle)
            self._keep_on_after_proposals()

    def _proposals_failed(self, request: ProposalRequest, exc: BaseException) -> None:
        if not self._closed:
            self._request_ended(request)
            self._emit(self.listener.on_error, "proposal", exc)
            self._keep_on_after_proposals()

    def _proposal_lacking(self, request: ProposalRequest, why: str) -> None:
        """The image on screen gets no proposal: its picture lacks a channel of the
        version's Channel Choice (said as a proposal's failure, the ranking going on)."""
        if not self._closed and request.show == self._current and request.version == self._active:
            self._emit(self.listener.on_error, "proposal", ModelError(why))

    def _stored_read(self, version: int) -> None:
        if not self._closed and version == self._active:
            self._emit(self.listener.on_stored_scores, version)

    def ranking(self) -> Ranking:
        """How far the active version has scored the images the worker was asked to rank
        (cheap: nothing is read). Busy until the request submitted last reports its end,
        so a caller that waits while busy always hears of the end (``on_ranking``)."""
        if self._active is None:
            return Ranking(None, 0, 0, False)
        scored, total = self._worker.progress_of(self._active)
        busy = (
            not self._closed
            and self._in_flight is not None
            and self._in_flight.version == self._active
        )
        return Ranking(self._active, scored, total, busy)

    def suggest(self) -> Suggestion:
        """The image to label next (not the one shown), and whether the active version's
        scores ranked it alone (see :class:`Suggestion`). Ranks the ids and scores of the
        images not done and reads the record of the first alone (reading every record
        took 0.2-0.4 s of the window's thread at 5,000 images)."""
        strategy = self.settings.strategy
        candidates = [c for c in self.project.image_scores() if c.id != self._current]
        pool = self._not_passed(candidates, strategy)
        if self._active is None or strategy != SCORED_STRATEGY:
            ranked = proposals.rank_records(pool, strategy)
            if strategy in ("in-order", SCORED_STRATEGY):  # (by the order added)
                ranked = self._after_current(ranked, {}, whole=strategy == "in-order")
            return Suggestion(self._first(ranked), self._active, 0, len(candidates), True)
        made = self._worker.scores_by(self._active)  # as far as the worker got, right now
        fresh = {c.id: made[c.id] for c in candidates if c.id in made}
        ranked = self._after_current(proposals.rank_records(pool, strategy, fresh), fresh)
        first = self._first(ranked)
        complete = len(fresh) == len(candidates)
        return Suggestion(
            first,
            self._active,
            len(fresh),
            len(candidates),
            complete,
            self._ranked_by(first, fresh),
        )

    def pass_over_shown(self) -> None:
        """N leaves the image shown without its being done: the orders by score (and the
        random one) do not suggest it again while their ranking stands, so that N walks
        down the ranking instead of going back and forth between its first two images
        (each is "the first but the one shown"). The ranking changes with the active
        version or the strategy; once every image not done was passed, N starts again
        from the first. The order added already walks on from the image shown."""
        strategy = self.settings.strategy
        if self._current is not None and strategy != "in-order":
            self._passed_in_ranking(strategy).add(self._current)

    def _passed_in_ranking(self, strategy: str) -> set[int]:
        """The images N passed over in the ranking of the active version and
        ``strategy`` (none once that changed)."""
        if self._passed_in != (self._active, strategy):
            self._passed.clear()
            self._passed_in = (self._active, strategy)
        return self._passed

    def _not_passed(self, candidates: list[ImageScore], strategy: str) -> list[ImageScore]:
        """``candidates`` without the images N passed over in this ranking (all of them
        when every one was)."""
        passed = self._passed_in_ranking(strategy)
        pool = [c for c in candidates if c.id not in passed]
        if pool:
            return pool
        self._passed.clear()  # every image passed over: round again
        return candidates

    def _after_current(
        self, ranked: list[ImageScore], fresh: Mapping[int, float], whole: bool = False
    ) -> list[ImageScore]:
        """``ranked`` with the images no score ranks (at its end, in the order they
        were added; ``whole``: all of it, the in-order strategy's) taken from the one
        after the image shown, round to the first: the next image not done, not always
        the first (N went back and forth between the first two)."""
        current = self._current
        cut = 0 if whole else len(ranked)
        while cut and ranked[cut - 1].id not in fresh and ranked[cut - 1].score is None:
            cut -= 1
        if current is None or cut == len(ranked):
            return ranked
        rest = ranked[cut:]  # (in id order, the order added)
        later = [c for c in rest if c.id > current]
        return ranked[:cut] + later + [c for c in rest if c.id < current]

    def _first(self, ranked: list[ImageScore]) -> ImageRecord | None:
        """The record of the first image of ``ranked`` still in the project (one read,
        unless images were removed since their scores were)."""
        for candidate in ranked:
            try:
                return self.project.image(candidate.id)
            except ProjectError:  # removed meanwhile: the next one (damaged: said)
                if any(c.id == candidate.id for c in self.project.image_scores()):
                    raise
        return None

    def _ranked_by(self, record: ImageRecord | None, fresh: dict[int, float]) -> int | None:
        """The version whose score ranked ``record``: the active one's, or the one its
        stored proposal names (its JSON alone, one small file)."""
        if record is None or record.score is None:
            return None
        if record.id in fresh:
            return self._active
        stored = proposal_store.version_and_score(self.project, record.id)
        return None if stored is None else stored[0]

    def next_suggested(self) -> ImageRecord | None:
        """The image the strategy ranks first among those not done (not the shown one):
        by the active version's scores first (see :meth:`suggest`)."""
        return self.suggest().record

    # --- training -------------------------------------------------------------------------------
    def untrained_done(self) -> list[ImageRecord]:
        """Done images the active version never saw (neither trained nor validated on):
        a round was stopped, the app closed during one, or train-on-done was off. Empty
        without a model (the first round is the user's to start)."""
        active = self._active_record
        if active is None:
            return []
        seen = _seen(active) - self._relabelled
        return [r for r in self.project.images(ImageStatus.DONE) if r.id not in seen]

    def labels_changed(self) -> None:
        """The user changed labels (idle retraining only runs after changes; keeping on
        training, stopped while they did not label, resumes)."""
        self._rounds.labels_changed()
        self._last_edit = time.monotonic()
        if self._kept_waiting and self.settings.keep_training and not self._rounds.busy:
            self._kept_waiting = False
            self._rounds.keep_going_now()

    def _should_keep_going(self) -> bool:
        """Whether a round ending with nothing queued is followed by one on the done
        images (``ModelSettings.keep_training``): the setting is on, the loop has a model
        that fits the classes, proposals are not held, and the user changed labels in
        the last :data:`KEEP_TRAINING_IDLE_S` seconds (else the next edit resumes it);
        while the proposals of the newest version (the ranking) run, it starts when
        they end."""
        if not self.settings.keep_training or self._closed:
            return False
        if self._paused:  # (images or labels being changed): the next edit resumes it
            self._kept_waiting = True
            return False
        if self._active_record is None or self.stale_active() is not None:
            return False
        if time.monotonic() - self._last_edit > KEEP_TRAINING_IDLE_S:
            self._kept_waiting = True
            return False
        if self._in_flight is not None:
            # The new version's proposals and ranking first: N ranks by it, and on a big
            # project a ranking cut short by every version would never end.
            self._kept_after_proposals = True
            return False
        return True

    def labels_replaced(self, image_ids: Iterable[int]) -> None:
        """An import replaced the labels of ``image_ids`` (no round ran meanwhile: the
        window refuses an import during one): they count as untrained, by
        :meth:`untrained_done` too, until a round that read them publishes a version;
        idle retraining runs after."""
        self._relabelled.update(image_ids)
        self._rounds.labels_changed()

    def image_done(self) -> str | None:
        """An image was marked done: train if the settings say so (see :meth:`train_now`).
        A project of more classes than the model takes is not trained (it was told at
        creation, and Train now says why)."""
        if not self.settings.train_on_done or untrainable(len(self.project.schema)):
            return None
        return self.train_now()

    def train_now(self, from_scratch: bool = False, arch: str | None = None) -> str:
        """Start a round, or queue one follow-up if a round is running.

        Returns ``"started"`` or ``"queued"``. Raises :class:`ModelError` when nothing
        is labelled yet (the message says what to do).
        """
        if self._closed:
            raise ModelError("the project is closed")
        return self._rounds.start(from_scratch, arch)

    def train_if_dirty(self) -> str | None:
        """Idle retraining: start a round only if labels changed since the last one."""
        return None if self._closed else self._rounds.start_if_dirty()

    def cancel_training(self) -> None:
        """Stop the running round (the model version stays) and forget a queued one.
        Keeping on stops until the next round the user asks for ends (ADR 0033): one
        waiting for the ranking to end, or for the next edit, no longer starts."""
        self._kept_after_proposals = False
        self._kept_waiting = False
        self._rounds.cancel()

    def wait_training(self, timeout: float | None = None) -> bool:
        """Block until no round runs (tests, benchmarks)."""
        return self._rounds.wait(timeout)

    def _round_finished(self, outcome: RoundOutcome) -> None:
        # The project says what is active: the round's version, or the one a rollback
        # made active while it ran (the round's version is then only listed). Read once
        # per round, here, where its thread is done (a follow-up starts after), and held
        # before the news, so its listeners see the version the project has.
        active = self.project.active_model()
        changed = (active.version if active else None) != self._active
        if changed:
            self._hold(active)
        published = outcome.model.version if outcome.model is not None else None
        if active is not None and active.version == published:  # it read those replaced
            self._relabelled -= _seen(active)
        self._emit(self.listener.on_round_finished, outcome)
        if changed:
            self._announce(active)

    # --- versions -------------------------------------------------------------------------------
    def rollback(self, version: int) -> ModelRecord:
        """Make ``version`` active again; proposals are refreshed from it."""
        record = versions.rollback(self.project, version)
        self._set_active(record)
        return record

    def adopt(self, record: ModelRecord) -> None:
        """A version stored outside a round (``versions.import_model``) is now active:
        proposals come from it."""
        self._set_active(record)

    def reread_active(self) -> None:
        """Read which version the project has active and adopt it if it is another: after
        an import or a class change that failed once it may have recorded a version."""
        active = self.project.active_model()
        if (active.version if active else None) != self._active:
            self._set_active(active)

    def _hold(self, record: ModelRecord | None) -> None:
        self._active_record = record

    @property
    def _active(self) -> int | None:
        """The active version's number (of the record held)."""
        return self._active_record.version if self._active_record else None

    def _set_active(self, record: ModelRecord | None) -> None:
        self._hold(record)
        self._announce(record)

    def _announce(self, record: ModelRecord | None) -> None:
        """Proposals come from the version held now: say so, and ask them again."""
        self.current_proposal = None
        self._emit(self.listener.on_version_changed, record)
        self.refresh_proposals()
        self._emit(self.listener.on_ranking, self.ranking())

    # --- lifecycle ----------------------------------------------------------------------------
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel training and proposals and join their threads (on quit).

        Returns True when both threads ended within ``timeout``; late results are
        ignored either way.
        """
        self._closed = True
        trained = self._rounds.shutdown(timeout)
        proposed = self._worker.shutdown(max(1.0, timeout / 2))
        if not trained:
            log.warning("the training round did not stop within %.0f s", timeout)
        return trained and proposed

    def _emit(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is not None:
            callback(*args)


def _seen(record: ModelRecord) -> set[int]:
    """The ids of the images a version trained or validated on."""
    card = record.card
    return {ref.id for ref in (*card.train_images, *card.validation_images)}
