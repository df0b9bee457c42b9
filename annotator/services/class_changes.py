"""Removing a class, merging it into another, or moving it in the list: the labels
(``storage.class_change``) and the active model, adapted to the new class list so the
loop goes on from what it learnt, committed together (docs/adr/0021). The class panel
and ``annotator classes --remove/--merge/--move`` call :func:`take_out_class` and
:func:`move_class`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from annotator.core.card import CardMetrics, classes_fit
from annotator.core.errors import AnnotatorError, SchemaError, first_line
from annotator.core.records import ModelRecord, now_iso
from annotator.core.schema import ClassChange, LabelClass, LabelSchema
from annotator.services.versions import prune
from annotator.storage.class_change import ClassChangeReport, StagedModel, change_classes
from annotator.storage.project import Progress, Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassChangeResult:
    """What :func:`apply_change` did to the labels, and to the model."""

    labels: ClassChangeReport
    #: The new version adapted from the active one, if one was made.
    model: ModelRecord | None
    #: What happened to the model, in one sentence ("" without a model).
    model_note: str

    def summary(self) -> str:
        said = self.labels.summary()  # (capitalize() would lower-case its paths and names)
        text = said[:1].upper() + said[1:] + "."
        return f"{text} {self.model_note}" if self.model_note else text


class ClassChangeInterrupted(KeyboardInterrupt):
    """Ctrl+C (SIGTERM, SIGHUP) reached a class change after its commit: the change is
    made. ``stopped`` says what the interrupt cut short ("" when nothing), which is
    finished later on its own; ``result`` is what the change did, when it got so far."""

    def __init__(self, result: ClassChangeResult | None, stopped: str) -> None:
        self.result = result
        self.stopped = stopped
        super().__init__(f"interrupted after the change was made{'; ' if stopped else ''}{stopped}")


#: What an interrupt cut short after the commit (see :class:`ClassChangeInterrupted`).
SWAP_CUT_SHORT = (
    "it stopped the move of the rewritten label maps into place, which the next command "
    "(or the app) to open the project finishes"
)
PRUNE_CUT_SHORT = "it stopped the removal of old model versions' files, which is finished later"


def plan(schema: LabelSchema, removed: LabelClass, into: LabelClass | None) -> ClassChange:
    """The change of taking ``removed`` out (merged into ``into``, or unlabelled)."""
    return ClassChange.removal(schema, removed.id, None if into is None else into.id)


def take_out_class(
    project: Project,
    removed: LabelClass,
    into: LabelClass | None = None,
    progress: Progress | None = None,
) -> ClassChangeResult:
    """Take ``removed`` out of the project: its pixels join ``into``, or become
    unlabelled; later classes move down one id (see :func:`apply_change`)."""
    return apply_change(project, plan(project.schema, removed, into), progress)


def move_class(
    project: Project, moved: LabelClass, to: int, progress: Progress | None = None
) -> ClassChangeResult:
    """Move ``moved`` to place ``to`` (0-based) of the class list: its id becomes ``to``
    and the classes between shift one place (see :func:`apply_change`)."""
    change = ClassChange.move(project.schema, moved.id, to)
    if change.identity:
        raise SchemaError(f"{moved.name!r} has id {to} already")
    return apply_change(project, change, progress)


def apply_change(
    project: Project, change: ClassChange, progress: Progress | None = None
) -> ClassChangeResult:
    """Make ``change`` (planned on the project's classes as they are). The active model
    is adapted first (a new version whose outputs follow the classes, so proposals go on
    and the next round continues it); the labels and that version are then committed
    together, all or nothing. A model that cannot be adapted (damaged) does not stop the
    change: the result says to train from scratch."""
    active = project.active_model()
    if progress is not None and active is not None:
        progress(0, 0, f"adapting model v{active.version}")
    try:
        staged, note = _adapted(project, change, active)
    except Exception as exc:  # a damaged checkpoint...: the labels can change anyway
        log.warning("model v%s was not adapted: %s", active and active.version, exc, exc_info=True)
        staged = None
        note = (
            f"Model v{active and active.version} could not be adapted "
            f"({first_line(exc)}); train from scratch to go on."
        )
    generation = project.class_ids_generation()
    try:
        labels = change_classes(project, change, progress, staged)
    except KeyboardInterrupt as exc:
        if project.class_ids_generation() == generation:
            raise  # not committed: the classes and the labels are as they were
        raise ClassChangeInterrupted(None, SWAP_CUT_SHORT) from exc
    model = None
    if staged is not None:
        try:
            model = project.model(staged.card.version)
            prune(project)
        except (OSError, AnnotatorError) as exc:  # space is not worth a failed change
            log.warning("could not remove old model versions' files: %s", exc)
        except KeyboardInterrupt as exc:
            made = ClassChangeResult(labels, project.model(staged.card.version), note)
            raise ClassChangeInterrupted(made, PRUNE_CUT_SHORT) from exc
    return ClassChangeResult(labels, model, note)


def _adapted(
    project: Project, change: ClassChange, active: ModelRecord | None
) -> tuple[StagedModel | None, str]:
    """The files of a version of ``active`` whose outputs are the classes left, and what
    it means, in a sentence (see the module)."""
    if active is None:
        return None, ""
    known = active.card.class_names
    if not classes_fit(known, change.old.names):
        return None, (
            f"Model v{active.version} was trained for other classes already; train from "
            "scratch to use the new ones."
        )
    # Output j of the new version: the old output of the class now at j, if it had one.
    outputs: list[int | None] = [o if o < len(known) else None for o in change.sources]
    while outputs and outputs[-1] is None:
        outputs.pop()  # classes added after it: the next round adds them, as ever
    if outputs == list(range(len(known))):
        what = (
            f"never learnt {change.removed.name!r}"
            if change.removed is not None
            else "keeps its classes' ids"
        )
        return None, f"Model v{active.version} {what}; it is unchanged."
    if all(o is None for o in outputs):
        return None, f"Model v{active.version} knew no other class; train from scratch."
    from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint, rearranged
    from annotator.services.versions import files_of, onnx_export

    loaded = load_checkpoint(files_of(project, active), known)
    network, state, weights = rearranged(loaded, outputs)
    version = project.next_model_version()
    card = replace(
        loaded.card,
        version=version,
        parent=active.version,
        created_at=now_iso(),
        classes=tuple(change.new.names[: len(outputs)]),
        architecture=network.to_dict(),
        training=replace(loaded.card.training, class_weights=weights),
        # Scores are kept by class name: a move keeps their meaning, a removal does not.
        metrics=loaded.card.metrics
        if change.removed is None
        else CardMetrics(loss=loaded.card.metrics.loss),
        onnx=None,
        imported_from=None,  # the parent says where it came from
        imported_sha1=None,
        adapted=f"v{active.version}, {change.describe()}",
    )
    card, onnx = onnx_export(card, network, state)
    if change.removed is None:
        how = "with its outputs in the classes' new order"
    else:
        verb = "merged" if change.into is not None else "removed"
        how = f"without the output of the {verb} class"
    return StagedModel(card, checkpoint_bytes(state, card), onnx), (
        f"Model v{version} is v{active.version} {how}; the next rounds continue it."
    )


def class_by_name(schema: LabelSchema, given: str) -> LabelClass:
    """A class by its name (any case) or its id (``id:N`` names an id in so many words),
    or a one-line error. Text that is one class's name and another's id is refused: the
    error says how to name each of them."""
    named = schema.by_name(given) if schema.has_name(given) else None
    numbered = _class_of_id(schema, given)
    if named is not None and numbered is not None and named.id != numbered.id:
        raise SchemaError(
            f"{given!r} is both the name of class {named.id} and the id of class "
            f"{numbered.name!r}; say {_unambiguous(schema, named)} for the class named "
            f"{named.name!r}, or {_unambiguous(schema, numbered)} for class {numbered.id}"
        )
    found = named or numbered
    if found is None:
        from annotator.core.near import did_you_mean

        raise SchemaError(
            f"no class {given!r}; the classes are {', '.join(schema.names)}"
            f"{did_you_mean(given, schema.names)}"
        )
    return found


def names_a_class(schema: LabelSchema, given: str) -> bool:
    """Whether some class answers to ``given`` (see :func:`class_by_name`)."""
    return schema.has_name(given) or _class_of_id(schema, given) is not None


def _class_of_id(schema: LabelSchema, given: str) -> LabelClass | None:
    """The class whose id ``given`` is ("3" or "id:3"), if any."""
    text = given.strip()
    if text[:3].lower() == "id:":
        text = text[3:].strip()
    if text.isdecimal() and int(text) < len(schema.classes):
        return schema.classes[int(text)]
    return None


def _unambiguous(schema: LabelSchema, cls: LabelClass) -> str:
    """What to type for ``cls`` that no other class answers to: its name, its id, or
    ``id:N``."""
    for said in (cls.name, str(cls.id)):
        named = schema.by_name(said) if schema.has_name(said) else None
        numbered = _class_of_id(schema, said)
        if {c.id for c in (named, numbered) if c is not None} == {cls.id}:
            return repr(said)
    return repr(f"id:{cls.id}")
