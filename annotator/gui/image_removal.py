"""Removing images from the project, from the image list's right-click menu.

Confirmed first (it cannot be undone from the window, though the labels are kept in
``PROJECT/removed/`` to import again); refused while a training round runs (it reads the
images); the open image, if removed, is saved and closed first and the next one opened
(the same one again when the removal fails: nothing was removed). Proposals pause
meanwhile: the worker stops the request it runs (the ranking of every image may take
minutes) and ranks the images left once they are gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from annotator.gui.progress_task import (
    box_sentence,
    error_text,
    loop_held,
    plain,
    run_with_progress,
    sentence,
    training_refuses,
)
from annotator.services.projects import RemovalReport, remove_images

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


#: Where the label maps kept by a removal are imported again from (the File menu's item
#: and the Import dialog's format, as the user finds them).
IMPORT_KEPT = "File > Import labels… with the format Masks"


def removal_question(first_name: str, count: int) -> str:
    """The confirmation's question: the image by its name, or how many."""
    return (
        f"Remove “{first_name}” from the project?"
        if count == 1
        else f"Remove these {count} images from the project?"
    )


def removal_details(count: int, labelled: int, kept_in: Path) -> str:
    """What a removal of ``count`` images, ``labelled`` of them with labels, takes away
    and keeps (in ``kept_in``), in the singular for one."""
    one = count == 1
    text = (
        (
            "Its status, labels and proposals leave"
            if one
            else "Their statuses, labels and proposals leave"
        )
        + " the project; the picture "
        + ("file stays where it is." if one else "files stay where they are.")
    )
    if labelled:
        maps = (
            "Its label map is"
            if one
            else "The label map of the 1 with labels is"
            if labelled == 1
            else f"The label maps of the {labelled} with labels are"
        )
        again = "its picture is" if one or labelled == 1 else "the pictures are"
        text += (
            f" {maps} kept in {kept_in}, from where {IMPORT_KEPT} brings "
            f"{'it' if one or labelled == 1 else 'them'} back once {again} added again."
        )
    return text


def remove(window: MainWindow, ids: list[int]) -> RemovalReport | None:
    """Ask, then remove the images ``ids``; ``None`` when nothing was removed."""
    session = window.session
    if session is None or not ids:
        return None
    service = window.loop.service
    # (a round kept going runs on while the box is open: the check after it stops it)
    if training_refuses(window, service, "Images not removed", "the images", stop=False):
        return None
    project = session.project
    records = {r.id: r for r in project.images()}
    chosen = [records[i] for i in ids if i in records]
    labelled = sum(1 for r in chosen if r.labelled_pixels or r.label_source)
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Remove images",
        plain(removal_question(chosen[0].name, len(chosen))),
        QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
        window,
    )
    box.button(QMessageBox.StandardButton.Ok).setText("Remove")
    box.setInformativeText(plain(removal_details(len(chosen), labelled, project.root / "removed")))
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    if box.exec() != QMessageBox.StandardButton.Ok:
        return None
    # A round may have started while the box was open (idle retraining).
    if window.session is not session or training_refuses(
        window, service, "Images not removed", "the images"
    ):
        return None
    current = session.document.image_id if session.document else None
    gone = {r.id for r in chosen}
    # The image to open after, if the open one goes: the next one listed, else the one
    # before (the list as it is now, with the removed ones still in it).
    listed = window.image_list.visible_ids()
    following = None
    if current in gone and current in listed:
        at = listed.index(current)
        rest = [i for i in listed[at + 1 :] + listed[:at][::-1] if i not in gone]
        following = rest[0] if rest else None
    with loop_held(window):
        if session.reading in gone:
            session.cancel_read()  # a picture on its way for an image about to go
        if current in gone:
            if not window.close_image():  # saved first: its labels are kept with the others
                return None  # (said why: they could not be saved)
            if service is not None:
                service.show_image(None)  # no proposal for an image that is going
        else:
            window.canvas.finish_gesture()
            window.save_before("Remove images")
            session.save(wait=True)
            stuck = [r for r in chosen if r.id in session.unsaved_ids()]
            if stuck:  # labels left on a switch, kept: removed now, they would be lost
                QMessageBox.warning(
                    window,
                    "Images not removed",
                    plain(
                        f"The labels of {stuck[0].name} could not be saved yet, so it is not "
                        "removed (they are kept, and saved with the next save): "
                        f"{session.remedy(stuck[0].id)} and try again."
                    ),
                )
                return None

        def work(_progress: object) -> RemovalReport:
            if service is not None:
                service.wait_proposals()  # for the stopped request's next check only
            return remove_images(project, [r.id for r in chosen])

        outcome = run_with_progress(
            window, "Remove images", f"Removing {len(chosen)} image(s)…", work, cancellable=False
        )
        left = [r.id for r in session.images()]
        # Those that went (none when the removal failed: the open image comes back).
        removed = gone.difference(left)
        session.forget_histories(removed)  # (an id may come back with another image)
        if window.canvas.smart is not None:
            for image_id in removed:
                window.canvas.smart.forget(image_id)
        if current not in left:
            current = following if following in left else (left[0] if left else None)
        window.image_list.set_records(session.images(), current)
        if current is not None and (
            session.document is None or session.document.image_id != current
        ):
            window.open_image(current)
    if outcome.error is not None or outcome.result is None:
        QMessageBox.warning(
            window,
            "Images not removed",
            box_sentence(error_text(outcome.error or RuntimeError("nothing happened"))),
        )
        return None
    window.statusBar().showMessage(sentence(outcome.result.summary()), 15000)
    return outcome.result
