"""Accepting stored proposals into label maps, several images at a time (``annotator
accept``), through the code the window's Accept (A) runs: each image's labels are opened
as a :class:`~annotator.services.document.Document`, :meth:`Document.accept` copies the
proposal into the pixels nobody has labelled yet (one step, the label source
``proposal:v<N>+user``), and the :class:`~annotator.services.autosave.Autosaver` writes
them as the window's saves do, the Accepted Proposal kept beside them (ADR 0013).

Only proposals stored in the project are accepted (``annotator predict`` stores them);
:func:`propose_missing` first stores the active model's for the images that lack one,
as ``predict`` does (``accept --predict``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from annotator.core.card import classes_fit
from annotator.core.channels import Choice, describe, lacks
from annotator.core.errors import AnnotatorError, ModelError, ProjectError, first_line
from annotator.core.labelmap import LabelMap
from annotator.core.records import ImageRecord
from annotator.services.autosave import Autosaver, SaveRequest
from annotator.services.document import Document
from annotator.services.versions import rollback_refused
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

if TYPE_CHECKING:
    from annotator.services.proposals import PredictedImage

ProgressFn = Callable[[int, int, str], None]

#: Why an image was skipped (:attr:`Skipped.kind`).
NO_PROPOSAL = "no_proposal"  # no stored proposal of the version (or of another one)
OTHER_VERSION = "other_version"  # a stored proposal of another version only
NOTHING_TO_FILL = "nothing_to_fill"  # every pixel the proposal covers is labelled
UNREADABLE = "unreadable"  # the picture or its label map cannot be read
NOT_SAVED = "not_saved"  # accepted, but the labels could not be written
#: no stored proposal, and the picture lacks a channel of the version's Channel Choice
#: (``core.channels.lacks``): the version proposes nothing for it
LACKS_CHANNELS = "lacks_channels"


@dataclass(frozen=True)
class Accepted:
    """An image whose labels took the proposal: its record as saved, the pixels filled."""

    record: ImageRecord
    filled: int


@dataclass(frozen=True)
class Skipped:
    """An image left as it was, and why (one line after its name)."""

    record: ImageRecord
    kind: str
    reason: str


@dataclass
class AcceptReport:
    """What :func:`accept_proposals` did, image by image."""

    version: int
    accepted: list[Accepted] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: The version's Channel Choice (what the pictures skipped as lacking lack a channel of).
    choice: Choice = ()

    @property
    def pixels_filled(self) -> int:
        return sum(a.filled for a in self.accepted)

    def skipped_of(self, kind: str) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == kind]


def accepted_version(project: Project, version: int | None = None) -> int:
    """The model version whose proposals are accepted: ``version``, or the active one.
    Refused in one line (:class:`ModelError`) when the project has no model, has no
    such version, or the version was trained for other classes (its proposals' ids
    would mean other classes: the window does not show them either)."""
    if version is None:
        active = project.active_model()
        if active is None:
            raise ModelError("the project has no model yet, so no proposals to accept")
        record = active
    else:
        try:
            record = project.model(version)
        except ProjectError:
            known = ", ".join(f"v{m.version}" for m in project.models()) or "none yet"
            raise ModelError(
                f"the project has no model v{version} (its versions: {known})"
            ) from None
    if not classes_fit(record.card.class_names, project.schema.names):
        raise ModelError(rollback_refused(project, record))
    return record.version


def lacking_proposal(
    project: Project, records: Sequence[ImageRecord], version: int
) -> list[ImageRecord]:
    """Those of ``records`` with no readable stored proposal of model ``version`` (the
    JSON of another version's is read alone: no mask decoded)."""
    return [r for r in records if proposal_store.load_proposal(project, r, version) is None]


def propose_missing(
    project: Project,
    records: Sequence[ImageRecord],
    *,
    device: str = "auto",
    progress: ProgressFn | None = None,
    made: list[PredictedImage] | None = None,
) -> list[Skipped]:
    """Store the active model's proposal of each of ``records`` that lacks one, as
    ``annotator predict`` does (:func:`~annotator.services.proposals.predict_images`);
    the images whose picture cannot be read, or lacks a channel of the active version's
    Channel Choice (it gets no proposal), as skipped. ``made`` receives each image as
    soon as its proposal is stored."""
    from annotator.services.proposals import predict_images

    active = project.active_model()
    if active is None:
        raise ModelError("the project has no model yet, so no proposals to make")
    missing = lacking_proposal(project, records, active.version)
    if not missing:
        return []
    unread: list[tuple[str, str]] = []
    without: list[str] = []
    predict_images(
        project,
        missing,
        progress=progress,
        device=device,
        skipped=unread,
        made=made,
        lacking=without,
    )
    by_name = {r.name: r for r in missing}
    choice = active.card.channel_choice
    return [_lacking(by_name[name], active.version, choice) for name in without] + [
        Skipped(by_name[name], UNREADABLE, why) for name, why in unread
    ]


def _lacking(record: ImageRecord, version: int, choice: Choice) -> Skipped:
    """``record`` skipped: its picture lacks a channel of ``choice``, model ``version``'s."""
    return Skipped(
        record,
        LACKS_CHANNELS,
        f"its picture lacks channel {max(choice) + 1} of the Channel Choice "
        f"{describe(choice)} of model v{version}, which proposes nothing for it",
    )


def _version_choice(project: Project, version: int) -> Choice:
    """The Channel Choice of model ``version`` (``()``: none, or no such version)."""
    try:
        return project.model(version).card.channel_choice
    except ProjectError:
        return ()


def accept_proposals(
    project: Project,
    records: Sequence[ImageRecord],
    version: int,
    *,
    progress: ProgressFn | None = None,
    accepted: list[Accepted] | None = None,
) -> AcceptReport:
    """Accept the stored proposal of model ``version`` (see :func:`accepted_version`)
    into the labels of each of ``records``, where nothing is labelled yet; each image is
    saved as the window saves it (its status becomes in progress when new; a done image
    stays done). Images without such a proposal, or whose labels it leaves as they
    were, are skipped, each with why. ``accepted`` receives each image as soon as its
    labels are handed to the saver (what a caller that was interrupted can still say:
    those handed over are written before this returns or raises)."""
    choice = _version_choice(project, version)
    report = AcceptReport(version, accepted if accepted is not None else [], choice=choice)
    saver = Autosaver(project)
    pending: Accepted | None = None  # handed to the saver, not yet known written
    try:
        for i, record in enumerate(records):
            if progress is not None:
                progress(i, len(records), record.name)
            found = _accept_one(project, record, version, choice)
            if isinstance(found, Skipped):
                report.skipped.append(found)
                continue
            doc, filled = found
            if pending is not None:  # one write at a time: memory stays bounded
                _written(project, saver, pending, report)
            saver.submit(SaveRequest.of(doc))  # (the document is dropped: no copy needed)
            pending = Accepted(doc.record, filled)
            report.accepted.append(pending)
        if pending is not None:
            _written(project, saver, pending, report)
    finally:
        saver.close()  # (writes what was handed over, also when interrupted)
    return report


def _written(project: Project, saver: Autosaver, handed: Accepted, report: AcceptReport) -> None:
    """Wait for the save of ``handed``; then its record as saved, or, failed, it moves
    from the accepted images to the skipped ones."""
    image_id = handed.record.id
    saver.wait_written(image_id)
    at = report.accepted.index(handed)
    failure = saver.failure(image_id)
    if failure is not None:
        del report.accepted[at]
        why = f"its labels could not be saved ({first_line(failure)})"
        report.skipped.append(Skipped(handed.record, NOT_SAVED, why))
        return
    report.accepted[at] = Accepted(project.image(image_id), handed.filled)


def _accept_one(
    project: Project, record: ImageRecord, version: int, choice: Choice
) -> tuple[Document, int] | Skipped:
    """The image's labels with the proposal accepted (and the pixels it filled), or why
    it is skipped (``choice``: the version's Channel Choice)."""
    proposal = proposal_store.load_proposal(project, record, version)
    if proposal is None:
        if lacks(record.channels, choice):
            return _lacking(record, version, choice)
        stored = proposal_store.version_and_score(project, record.id)
        if stored is not None and stored[0] != version:
            return Skipped(
                record,
                OTHER_VERSION,
                f"its stored proposal is of model v{stored[0]}, not v{version}",
            )
        return Skipped(record, NO_PROPOSAL, f"no stored proposal of model v{version}")
    try:
        doc = _document(project, record)
    except AnnotatorError as exc:
        return Skipped(record, UNREADABLE, first_line(exc))
    lm = doc.label_map
    before = int(np.count_nonzero(lm.array == lm.unlabelled))
    if not doc.accept(proposal):
        return Skipped(
            record,
            NOTHING_TO_FILL,
            "nothing left to accept: every pixel the proposal covers is already labelled",
        )
    return doc, before - int(np.count_nonzero(lm.array == lm.unlabelled))


def _document(project: Project, record: ImageRecord) -> Document:
    """The image opened as the window opens it (``AnnotationSession.open_image``): its
    picture (refused when the file is gone or another picture), its label map (blank
    when it has none), the accepted proposal its label source names."""
    pixels = project.load_image(record)
    schema = project.schema
    mask = project.load_mask(record)
    if mask is None:
        label_map = LabelMap.blank(schema, record.height, record.width)
    else:
        label_map = LabelMap.for_schema(schema, mask)
    return Document(
        record,
        pixels,
        label_map,
        accepted=lambda: project.load_accepted(record),
        channel_choice=project.channel_choice(),
    )
