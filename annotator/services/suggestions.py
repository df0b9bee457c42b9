"""Which images to label next, headless: the ranking behind the GUI's N key.

The GUI ranks the images still to label by the scores of the active model version
(higher = the model is less sure), scoring in the background the ones it has not scored
yet. :func:`suggest_images` does the same in one call: with the ``uncertainty``
strategy, each candidate's score is the active version's, read from its stored proposal
when that version made it (a small JSON read), else computed now by proposing the image
(stored, as ``annotator predict`` does, so the GUI and a later call find it). Images the
active version has not scored (``score_missing=False``, or an unreadable picture) come
after, ranked by the older score the project holds, and say which version made it.
An image whose picture cannot be read is not listed (``skipped`` says why); one whose
picture is not on disk, but that ranks by a score stored before, is listed and marked
``missing``. With the ``uncertainty`` strategy, an image whose picture lacks a channel
of the active version's Channel Choice is not listed either (``lacking`` names it): the
version would score other channels than it learnt from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from annotator.core.channels import lacks
from annotator.core.status import ImageStatus
from annotator.services.model_service import SCORED_STRATEGY
from annotator.services.model_settings import load_settings
from annotator.services.proposals import predict_images, rank_records
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

SCORED = SCORED_STRATEGY  # the strategy that ranks by the model's scores


@dataclass(frozen=True)
class SuggestedImage:
    """One image of the ranking."""

    name: str
    status: str
    #: The model's uncertainty (higher = less sure), or ``None`` when never scored.
    score: float | None
    #: The model version whose score this is (``None``: no score, or not known).
    version: int | None
    #: The image's id in the project.
    id: int = 0
    #: Where its picture is (absolute).
    path: str = ""
    #: Its picture is not there (moved or deleted): nothing to label until it is back.
    missing: bool = False


@dataclass
class Suggestions:
    """The images to label next, best first (:func:`suggest_images`)."""

    strategy: str
    active_version: int | None
    images: list[SuggestedImage] = field(default_factory=list)
    #: How many of the candidates (all images not done) there were.
    candidates: int = 0
    #: How many scores were computed now (the others were stored, or not needed).
    scored_now: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Images left out since their pictures lack a channel of the active version's
    #: Channel Choice (``core.channels.lacks``): it cannot score them.
    lacking: list[str] = field(default_factory=list)

    @property
    def ordered_by(self) -> str:
        """What the order follows: ``uncertainty`` (the active model's scores), ``added``
        (the order the images were added: the in-order strategy, or uncertainty without
        a model yet) or ``random``."""
        if self.strategy == SCORED:
            return "uncertainty" if self.active_version is not None else "added"
        return {"in-order": "added"}.get(self.strategy, self.strategy)

    def missing(self) -> int:
        """How many listed images have no picture on disk."""
        return sum(1 for i in self.images if i.missing)

    def unscored(self) -> int:
        """How many listed images have no score at all, where the model's scores rank."""
        if self.strategy != SCORED or self.active_version is None:
            return 0
        return sum(1 for i in self.images if i.score is None)

    def stale(self) -> int:
        """How many listed images rank by a score of another version than the active one."""
        if self.strategy != SCORED or self.active_version is None:
            return 0  # no model's score orders them
        return sum(
            1 for i in self.images if i.score is not None and i.version != self.active_version
        )


def suggest_images(
    project: Project,
    count: int | None = 10,
    strategy: str | None = None,
    *,
    score_missing: bool = True,
    device: str = "auto",
    progress: Callable[[int, int, str], None] | None = None,
) -> Suggestions:
    """The ``count`` images (all with ``None``) to label next among those not done, in
    the order of ``strategy`` (default: the project's setting, as the GUI's N uses);
    see the module's docstring for the scores."""
    strategy = strategy or load_settings(project).strategy
    active = project.active_model()
    version = None if active is None else active.version
    records = [r for r in project.images() if r.status != ImageStatus.DONE]
    out = Suggestions(strategy, version, candidates=len(records))
    stored: dict[int, tuple[int, float]] = {}
    fresh: dict[int, float] | None = None
    if active is not None and strategy == SCORED:
        choice = active.card.channel_choice
        out.lacking = [r.name for r in records if lacks(r.channels, choice)]
        records = [r for r in records if not lacks(r.channels, choice)]
    if version is not None and strategy == SCORED:
        for r in records:
            found = proposal_store.version_and_score(project, r.id)
            if found is not None:
                stored[r.id] = found
        fresh = {i: s for i, (v, s) in stored.items() if v == version}
        missing = [r for r in records if r.id not in fresh]
        if missing and score_missing:
            done = predict_images(
                project, missing, progress=progress, device=device, skipped=out.skipped
            )
            for p in done:
                fresh[p.image_id] = p.score
                stored[p.image_id] = (p.model_version, p.score)
            out.scored_now = len(done)
            unreadable = {name for name, _ in out.skipped}  # no picture to label: not listed
            records = [project.image(r.id) for r in records if r.name not in unreadable]
    ranked = rank_records(records, strategy, fresh)
    for r in ranked if count is None else ranked[:count]:
        score: float | None
        if fresh is not None and r.id in fresh:
            score, made_by = fresh[r.id], version
        else:  # the project's score: the stored proposal's version, when it is its score
            score = r.score
            kept = stored.get(r.id)
            if kept is None and score is not None:  # (in-order, random: read if listed)
                kept = proposal_store.version_and_score(project, r.id)
            made_by = kept[0] if kept is not None and kept[1] == score else None
        path = project.image_path(r)
        out.images.append(
            SuggestedImage(
                r.name, r.status.value, score, made_by, r.id, str(path), not path.is_file()
            )
        )
    return out
