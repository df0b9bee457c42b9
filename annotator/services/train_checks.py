"""Checks made before a training round starts, shared by the app's rounds and
``annotator train``: a round that cannot teach the model anything is refused in words
that say what to label, instead of training a model that proposes one class everywhere.
"""

from __future__ import annotations

from annotator.core.channels import lacks
from annotator.core.errors import NothingLabelled
from annotator.storage.project import Project


def labelled_class_ids(
    project: Project, done_only: bool = False, enough: int = 2, from_scratch: bool = False
) -> set[int]:
    """The classes with labelled pixels in the images a round trains on (done and in
    progress ones; ``done_only``: the done ones), read until ``enough`` are found (one
    label map, usually: the check costs little before a round that reads them all).
    The pictures lacking a channel of the round's Channel Choice (the active model's,
    or with ``from_scratch`` or none the project's) are not read: the round leaves
    them out (``services.training``)."""
    from annotator.services.training import labelled_batches, round_choice

    n = len(project.schema)
    choice = round_choice(project, from_scratch)
    found: set[int] = set()
    for rec in labelled_batches(project, done_only):
        if lacks(rec.channels, choice):
            continue
        values = project.mask_values(rec)  # (kept by the save that wrote it)
        if values is None:
            continue
        found.update(v for v in values if v < n)
        if len(found) >= enough:
            break
    return found


def one_class_text(
    project: Project, done_only: bool = False, from_scratch: bool = False
) -> str | None:
    """What to say when the labels a round would train on hold only one class (the
    model could only ever propose that class); ``None`` when they hold two or more, or
    none (nothing labelled yet is said elsewhere)."""
    found = labelled_class_ids(project, done_only, from_scratch=from_scratch)
    if len(found) != 1:
        return None
    names = project.schema.names
    (only,) = found
    where = " in the done images" if done_only else " so far"
    others = [name for i, name in enumerate(names) if i != only]
    if not others:
        todo = "add a class for the rest, such as background, and label some of it"
    else:
        todo = f"label some {_either(others)} too"
    return (
        f"Only '{names[only]}' is labelled{where}: a model needs at least two "
        f"classes to tell apart ({todo})"
    )


def check_classes(project: Project, done_only: bool = False, from_scratch: bool = False) -> None:
    """Refuse a round whose labels hold a single class (:class:`NothingLabelled`: a
    hint to label more, not a failure)."""
    if (why := one_class_text(project, done_only, from_scratch)) is not None:
        raise NothingLabelled(why)


def _either(names: list[str]) -> str:
    """``background``, ``background or nucleus``, ``background, nucleus or ...``: the
    background first when there is one (what a one-class labeller most often forgot)."""
    ordered = sorted(names, key=lambda n: n.casefold() != "background")
    shown = [f"'{n}'" for n in ordered[:3]]
    if len(ordered) > 3:
        shown[-1] = "another class"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
