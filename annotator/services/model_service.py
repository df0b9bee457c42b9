"""The active-learning loop without Qt: proposals, training rounds, ranking, accept.

:class:`ModelService` is what the GUI talks to about the model. It owns

* a :class:`~annotator.services.jobs.SingleJobRunner` for training rounds (at most one;
  marking an image done while a round runs queues exactly one follow-up round),
* a cancellable :class:`~annotator.services.jobs.LatestWinsWorker` for proposals. One
  request asks for the proposal of the image on screen first, then scores the images
  still to label (the next suggested one first) so the strategy can rank them. A newer
  request (the user opened another image, a new version was published) cancels the
  running one at its next check,
* one cached :class:`~annotator.ml.predict.Predictor` per model version, used only by
  the proposal worker thread (predictors are not thread-safe).

Every event reaches the owner through the injected dispatcher (the GUI passes one that
runs on its event loop; tests pass :func:`~annotator.services.jobs.call_directly`).
A proposal for an image that is no longer shown, or from a version that is no longer
active, is dropped and counted in :attr:`ModelService.dropped`.

Training never writes label masks and proposals are never ground truth: only
:func:`accept_proposal`, called by the user, copies a proposal into a label map, as one
undoable step and only where nobody has labelled yet.

torch is imported only on the worker threads, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annotator.core.errors import AnnotatorError, ModelError
from annotator.core.proposal import Proposal
from annotator.services import engine
from annotator.services.jobs import (
    CancelToken,
    Dispatcher,
    JobCallbacks,
    LatestWinsWorker,
    SingleJobRunner,
)
from annotator.services.session import Document
from annotator.storage.project import ImageRecord, ModelRecord, Project

if TYPE_CHECKING:
    from annotator.ml.predict import Predictor
    from annotator.ml.train import TrainProgress

log = logging.getLogger(__name__)

SETTINGS_KEY = "model.settings"
#: Training progress reaches the owner at most this often (the last step always does).
PROGRESS_INTERVAL_S = 0.1


@dataclass(frozen=True)
class ModelSettings:
    """How GUI-launched rounds and proposals run; stored as the project setting ``model.settings``."""

    #: Budget of one round (either or both; the first reached ends the round).
    seconds: float | None = 30.0
    steps: int | None = None
    device: str = "auto"
    #: Architecture of a model trained from scratch (later rounds keep the parent's).
    depth: int = engine.DEFAULT_DEPTH
    width: int = engine.DEFAULT_WIDTH
    crop: int = 128
    batch_size: int = 8
    #: CPU threads for training and inference; 0 = every core but one (the GUI's).
    threads: int = 0
    #: Start a round when an image is marked done.
    train_on_done: bool = True
    #: Start a round after this many seconds without edits when labels changed; 0 = off.
    idle_retrain_s: int = 0
    strategy: str = "uncertainty"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSettings:
        """Settings from a stored dict; unknown keys (a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def cpu_threads(self) -> int:
        """Threads for torch/onnxruntime: leave one core to the GUI on small machines."""
        if self.threads > 0:
            return self.threads
        return max(1, (os.cpu_count() or 1) - 1)


def load_settings(project: Project) -> ModelSettings:
    """The project's model settings (defaults when none are stored)."""
    stored = project.get_setting(SETTINGS_KEY)
    if not isinstance(stored, dict):
        return ModelSettings()
    try:
        return ModelSettings.from_dict(stored)
    except TypeError as exc:
        log.warning("ignoring damaged model settings: %s", exc)
        return ModelSettings()


def save_settings(project: Project, settings: ModelSettings) -> None:
    """Store the model settings in the project."""
    project.set_setting(SETTINGS_KEY, settings.to_dict())


# --- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundOutcome:
    """How a training round ended, for the model panel and the status bar."""

    status: Literal["published", "not published", "cancelled", "failed"]
    model: ModelRecord | None
    message: str
    steps: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ModelListener:
    """Where the service reports; every callback runs through the dispatcher."""

    #: ``(image_id, version, proposal)`` of the image on screen (never a stale one).
    on_proposal: Callable[[int, int, Proposal], None] | None = None
    #: New image scores (higher = label sooner), as they are computed.
    on_scores: Callable[[dict[int, float]], None] | None = None
    #: A proposal request (the shown image and the ranking) finished.
    on_proposals_idle: Callable[[], None] | None = None
    on_round_started: Callable[[], None] | None = None
    on_progress: Callable[[TrainProgress], None] | None = None
    on_round_finished: Callable[[RoundOutcome], None] | None = None
    #: The active version changed (a round published, or a rollback).
    on_version_changed: Callable[[ModelRecord | None], None] | None = None
    #: ``(what failed, the exception)``; what is ``training`` or ``proposal``.
    on_error: Callable[[str, BaseException], None] | None = None


@dataclass(frozen=True, eq=False)
class ProposalRequest:
    """Immutable work for the proposal worker.

    ``show`` is the image on screen (its proposal is delivered); ``pixels`` its image
    data when the caller already has it (read only). ``rank`` are images to score only.
    """

    version: int
    show: int | None
    pixels: np.ndarray | None
    rank: tuple[int, ...]


def accept_proposal(document: Document, proposal: Proposal, class_id: int | None = None) -> bool:
    """Copy ``proposal`` into the document's labels where nothing is labelled yet.

    With ``class_id`` only the pixels the proposal gives that class. One undo step;
    the image's label source becomes ``proposal:v<N>+user``. Returns whether any pixel
    changed.
    """
    lm = document.label_map
    if proposal.shape != lm.shape:
        raise ModelError(f"the proposal is {proposal.shape}, the image {lm.shape}")
    where = lm.array == lm.unlabelled
    if class_id is not None:
        where &= proposal.mask == class_id
    patch = lm.assign(proposal.mask, where)
    if patch.empty:
        return False
    if document.in_stroke:
        document.commit_stroke()
    document.begin_stroke()
    document.record_patch(patch)
    document.commit_stroke()
    document.label_source = f"proposal:v{proposal.model_version}+user"
    return True


class ModelService:
    """The model side of one open project; every public method runs on the owner's thread."""

    def __init__(
        self,
        project: Project,
        dispatcher: Dispatcher,
        listener: ModelListener | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        self.project = project
        self._dispatch = dispatcher
        self.listener = listener or ModelListener()
        self.settings = settings or load_settings(project)
        self._runner = SingleJobRunner(dispatcher, "annotator-training")
        self._worker: LatestWinsWorker[ProposalRequest, int] = LatestWinsWorker(
            self._propose,
            self._proposals_finished,
            self._proposals_failed,
            dispatcher,
            "annotator-proposals",
            cancellable=True,
        )
        self._predictors: dict[int, Predictor] = {}  # touched by the proposal worker only
        active = project.active_model()
        self._active: int | None = active.version if active else None
        self._current: int | None = None
        self._current_pixels: np.ndarray | None = None
        self.current_proposal: Proposal | None = None
        self._follow_up = False
        self._dirty = False
        self._closed = False
        self._last_progress = 0.0
        #: Stale proposals dropped (an image no longer shown, or an older version).
        self.dropped = 0
        self.rounds_started = 0

    # --- state ---------------------------------------------------------------------------------
    @property
    def active_version(self) -> int | None:
        return self._active

    @property
    def training(self) -> bool:
        return self._runner.busy

    @property
    def follow_up_queued(self) -> bool:
        return self._follow_up

    @property
    def labels_dirty(self) -> bool:
        """Labels changed since the last round started."""
        return self._dirty

    def set_settings(self, settings: ModelSettings) -> None:
        """Use and store new settings (a running round keeps the old ones)."""
        self.settings = settings
        save_settings(self.project, settings)

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

    def refresh_proposals(self) -> None:
        """Ask for the current image's proposal and the scores of the images to label."""
        if self._closed or self._active is None:
            return
        rank = tuple(r.id for r in self._to_rank())
        self._worker.submit(
            ProposalRequest(self._active, self._current, self._current_pixels, rank)
        )

    def _to_rank(self) -> list[ImageRecord]:
        """Images not done, the one the strategy suggests first (it is prefetched)."""
        ranked = engine.rank_next(self.project, self.settings.strategy)
        return [r for r in ranked if r.id != self._current]

    def wait_proposals(self, timeout: float = 30.0) -> bool:
        """Block until the proposal worker is idle (tests, benchmarks)."""
        return self._worker.wait_idle(timeout)

    def _predictor(self, version: int) -> Predictor:
        predictor = self._predictors.get(version)
        if predictor is None:
            predictor = self._load_predictor(version)
            self._predictors = {version: predictor}  # older versions are not needed again
        return predictor

    def _load_predictor(self, version: int) -> Predictor:
        threads = self.settings.cpu_threads()
        predictor = engine.load_predictor(
            self.project, device=self.settings.device, version=version, threads=threads
        )
        if predictor.backend != "onnxruntime":
            import torch

            torch.set_num_threads(threads)
        return predictor

    def _stored(self, record: ImageRecord, version: int) -> Proposal | None:
        meta = engine.proposal_paths(self.project, record.id)[2]
        try:
            stored_version = json.loads(meta.read_text(encoding="utf-8"))["model_version"]
        except (OSError, ValueError, KeyError):
            return None
        if stored_version != version:
            return None
        return engine.load_proposal(self.project, record)

    def _proposal_for(
        self, image_id: int, version: int, pixels: np.ndarray | None, cancel: CancelToken
    ) -> tuple[Proposal, bool]:
        """(proposal, computed now?) from the stored one of this version or the model."""
        record = self.project.image(image_id)
        stored = self._stored(record, version)
        if stored is not None:
            return stored, False
        image = pixels if pixels is not None else self.project.load_image(record)
        proposal = self._predictor(version).predict(image, cancel=cancel, keep_probabilities=False)
        engine.save_proposal(self.project, image_id, proposal)
        self.project.set_scores({image_id: proposal.score})
        return proposal, True

    def _propose(self, request: ProposalRequest, cancel: CancelToken) -> int:
        """Worker thread: the shown image's proposal, then scores; returns images done."""
        done = 0
        if request.show is not None:
            proposal, _ = self._proposal_for(request.show, request.version, request.pixels, cancel)
            self._dispatch(lambda: self._proposal_ready(request, proposal))
            done += 1
        for image_id in request.rank:
            if cancel.is_set():
                break
            proposal, computed = self._proposal_for(image_id, request.version, None, cancel)
            if computed:
                score = {image_id: proposal.score}
                self._dispatch(lambda s=score: self._scores_ready(s))  # type: ignore[misc]
            done += 1
        return done

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

    def _scores_ready(self, scores: dict[int, float]) -> None:
        if not self._closed:
            self._emit(self.listener.on_scores, scores)

    def _proposals_finished(self, _request: ProposalRequest, _done: int) -> None:
        if not self._closed:
            self._emit(self.listener.on_proposals_idle)

    def _proposals_failed(self, _request: ProposalRequest, exc: BaseException) -> None:
        if not self._closed:
            self._emit(self.listener.on_error, "proposal", exc)

    # --- next image ---------------------------------------------------------------------------
    def next_suggested(self) -> ImageRecord | None:
        """The image the strategy ranks first among those not done (not the shown one)."""
        ranked = self._to_rank()
        return ranked[0] if ranked else None

    # --- training -------------------------------------------------------------------------------
    def labels_changed(self) -> None:
        """The user changed labels (idle retraining only runs after changes)."""
        self._dirty = True

    def image_done(self) -> str | None:
        """An image was marked done: train if the settings say so (see :meth:`train_now`)."""
        if not self.settings.train_on_done:
            return None
        return self.train_now()

    def train_now(self, from_scratch: bool = False, arch: str | None = None) -> str:
        """Start a round, or queue one follow-up if a round is running.

        Returns ``"started"`` or ``"queued"``. Raises :class:`ModelError` when nothing
        is labelled yet (the message says what to do).
        """
        if self._closed:
            raise ModelError("the project is closed")
        if self._runner.busy:
            self._follow_up = True
            return "queued"
        if not engine.labelled_records(self.project):
            raise ModelError("no labelled images yet: paint some pixels of each class first")
        settings = self.settings
        project = self.project

        def work(progress: Callable[[Any], None], cancel: CancelToken) -> engine.TrainOutcome:
            from annotator.ml.data import choose_in_channels
            from annotator.ml.networks import NetworkConfig
            from annotator.ml.train import TrainConfig

            _limit_torch_threads(settings.cpu_threads())
            network = NetworkConfig(
                choose_in_channels([r.channels for r in project.images()]),
                len(project.schema),
                settings.depth,
                settings.width,
                **({"arch": arch} if arch else {}),
            )
            return engine.train_project(
                project,
                steps=settings.steps,
                seconds=settings.seconds,
                device=settings.device,
                progress=progress,
                cancel=cancel,
                from_scratch=from_scratch,
                config=TrainConfig(crop=settings.crop, batch_size=settings.batch_size),
                network=network,
            )

        started = self._runner.start(
            work,
            JobCallbacks(
                on_done=self._round_done,
                on_error=self._round_failed,
                on_progress=self._round_progress,
                on_cancelled=self._round_cancelled,
            ),
        )
        if not started:  # pragma: no cover - busy was checked just above, on this thread
            self._follow_up = True
            return "queued"
        self._dirty = False
        self.rounds_started += 1
        self._emit(self.listener.on_round_started)
        return "started"

    def train_if_dirty(self) -> str | None:
        """Idle retraining: start a round only if labels changed since the last one."""
        if not self._dirty or self._runner.busy or self._closed:
            return None
        try:
            return self.train_now()
        except ModelError:
            return None

    def cancel_training(self) -> None:
        """Stop the running round (the model version stays) and forget a queued one."""
        self._follow_up = False
        self._runner.cancel()

    def wait_training(self, timeout: float | None = None) -> bool:
        """Block until no round runs (tests, benchmarks)."""
        return self._runner.join(timeout)

    def _round_progress(self, info: TrainProgress) -> None:
        now = time.monotonic()
        if info.phase == "train" and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        if not self._closed:
            self._emit(self.listener.on_progress, info)

    def _round_done(self, outcome: engine.TrainOutcome) -> None:
        if self._closed:
            return
        result = outcome.result
        if outcome.model is not None:
            status: Literal["published", "not published"] = "published"
            message = f"published model v{outcome.model.version} ({result.message})"
        else:
            status = "not published"
            message = result.message or "the round was not published"
        self._emit(
            self.listener.on_round_finished,
            RoundOutcome(status, outcome.model, message, result.steps, result.seconds),
        )
        if outcome.model is not None:
            self._set_active(outcome.model)
        self._start_follow_up()

    def _round_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._emit(self.listener.on_round_finished, RoundOutcome("failed", None, str(exc)))
        self._emit(self.listener.on_error, "training", exc)
        self._start_follow_up()

    def _round_cancelled(self) -> None:
        if self._closed:
            return
        self._emit(
            self.listener.on_round_finished,
            RoundOutcome("cancelled", None, "cancelled: the model version is unchanged"),
        )
        # A cancel that came after the round had finished may still have published.
        active = self.project.active_model()
        if active is not None and active.version != self._active:
            self._set_active(active)
        self._start_follow_up()

    def _start_follow_up(self) -> None:
        if self._follow_up and not self._closed:
            self._follow_up = False
            try:
                self.train_now()
            except AnnotatorError as exc:
                self._emit(self.listener.on_error, "training", exc)

    # --- versions -------------------------------------------------------------------------------
    def rollback(self, version: int) -> ModelRecord:
        """Make ``version`` active again; proposals are refreshed from it."""
        record = engine.rollback(self.project, version)
        self._set_active(record)
        return record

    def _set_active(self, record: ModelRecord | None) -> None:
        self._active = record.version if record else None
        self.current_proposal = None
        self._emit(self.listener.on_version_changed, record)
        self.refresh_proposals()

    # --- lifecycle ----------------------------------------------------------------------------
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel training and proposals and join their threads (on quit).

        Returns True when both threads ended within ``timeout``; late results are
        ignored either way.
        """
        self._closed = True
        self._follow_up = False
        trained = self._runner.shutdown(timeout)
        proposed = self._worker.shutdown(max(1.0, timeout / 2))
        if not trained:
            log.warning("the training round did not stop within %.0f s", timeout)
        return trained and proposed

    def _emit(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is not None:
            callback(*args)


def _limit_torch_threads(n: int) -> None:
    """torch's intra-op pool is process-wide; GUI-launched work keeps a core free."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
