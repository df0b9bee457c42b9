"""Removing a class, merging it into another, or moving it in the list, from the class
panel.

The labels of every image are rewritten on a worker thread with a progress dialog
(``services.class_changes``, all or nothing); the open image is saved and closed first
and opened again after, so no edit lands in a map of the old ids. A training round must
end first: it reads the labels it trains on while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from annotator.core.errors import AnnotatorError
from annotator.core.schema import ClassChange
from annotator.gui.progress_task import (
    Progress,
    box_sentence,
    error_text,
    loop_held,
    run_with_progress,
    sentence,
    training_refuses,
)
from annotator.services.class_changes import ClassChangeResult, apply_change, plan

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


def take_out(window: MainWindow, class_id: int, into: int | None) -> ClassChangeResult | None:
    """Take class ``class_id`` out of the window's project (into class ``into``, or
    unlabelled) and show the result; ``None`` when nothing changed (said in a box)."""
    session = window.session
    if session is None:
        return None
    schema = session.schema
    target = None if into is None else schema.classes[into]
    verb = "Removing" if into is None else "Merging"
    return _change(window, lambda: plan(schema, schema.classes[class_id], target), verb)


def move(window: MainWindow, class_id: int, to: int) -> ClassChangeResult | None:
    """Move class ``class_id`` to place ``to`` (0-based) of the list (see :func:`take_out`)."""
    session = window.session
    if session is None:
        return None
    schema = session.schema
    return _change(window, lambda: ClassChange.move(schema, class_id, to), "Moving")


def _change(
    window: MainWindow, planned: Callable[[], ClassChange], verb: str
) -> ClassChangeResult | None:
    session = window.session
    assert session is not None
    service = window.loop.service
    if training_refuses(window, service, "Classes not changed", "the labels"):
        return None
    try:
        change = planned()
    except AnnotatorError as exc:  # the only class, into itself...
        QMessageBox.warning(window, "Classes not changed", box_sentence(str(exc)))
        return None
    if change.identity:
        return None  # moved to where it is: nothing to rewrite
    name = change.subject.name
    current = session.document.image_id if session.document else None
    with loop_held(window):  # a proposal being stored would hold the old ids
        return _rewrite(window, change, verb, name, current)


def _rewrite(
    window: MainWindow, change: ClassChange, verb: str, name: str, current: int | None
) -> ClassChangeResult | None:
    session = window.session
    assert session is not None
    service = window.loop.service
    # Saved first: the rewrite reads every map from disk. The undo histories stay until
    # the change is made: cancelled, or refused, the classes and labels are as they were.
    if not window.close_image(keep_histories=True):
        return None  # (said why: the labels could not be saved)
    project = session.project
    # What follows a class by its value: the class painted, and the one painting may only
    # write over. Through the change's table they stay on their class (or where its
    # pixels went: the class merged into, or unlabelled).
    painting, over = window.class_panel.current_value(), window.protection.value()

    def work(progress: Progress) -> ClassChangeResult:
        if service is not None:
            service.wait_proposals()  # the stopped request's next check only
        return apply_change(project, change, progress)

    outcome = run_with_progress(window, "Change classes", f"{verb} '{name}'…", work)
    result = outcome.result
    changed = project.schema == change.new  # also when something failed after the commit
    if result is not None and result.model is not None and service is not None:
        service.adopt(result.model)  # before the classes are shown: proposals from it
    elif changed and service is not None:  # failed after the commit: it may hold a version
        service.reread_active()
    if changed:  # hidden classes keep hiding, by their new ids
        session.forget_histories()  # (their edits are of the old ids)
        gone = {change.removed.id} if change.removed is not None else set()
        hidden = window.class_panel_hidden() - gone
        window.set_hidden(frozenset(int(change.lut[v]) for v in hidden))
    window.show_schema(session.schema)
    if changed:
        if painting is not None:
            window.class_panel.select_value(int(change.lut[painting]))
        window.protection.remap(over, lambda v: int(change.lut[v]))
    window.image_list.set_records(session.images(), current)
    if current is not None:
        window.open_image(current)
    if result is None:
        if outcome.cancelled and not changed:
            window.statusBar().showMessage("Cancelled: the classes are as they were.", 10000)
        else:
            error = outcome.error or RuntimeError("cancelled after the labels were rewritten")
            QMessageBox.warning(
                window,
                "Classes changed" if changed else "Classes not changed",
                box_sentence(error_text(error)),
            )
        return None
    window.class_panel.note.setText(result.summary())
    window.class_panel.note.show()
    window.statusBar().showMessage(sentence(result.labels.summary()), 10000)
    return result
