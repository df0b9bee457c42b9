"""Removing images from the project, from the image list's right-click menu.

Confirmed first (it cannot be undone from the window, though the labels are kept in
``PROJECT/removed/`` to import again); refused while a training round runs (it reads the
images); the open image, if removed, is saved and closed first and the next one opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from annotator.gui.progress_task import (
    error_text,
    run_with_progress,
    sentence,
    training_refuses,
)
from annotator.services.projects import RemovalReport, remove_images

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


def remove(window: MainWindow, ids: list[int]) -> RemovalReport | None:
    """Ask, then remove the images ``ids``; ``None`` when nothing was removed."""
    session = window.session
    if session is None or not ids:
        return None
    service = window.loop.service
    if training_refuses(window, service, "Images not removed", "the images"):
        return None
    project = session.project
    records = {r.id: r for r in project.images()}
    chosen = [records[i] for i in ids if i in records]
    labelled = sum(1 for r in chosen if r.labelled_pixels or r.label_source)
    what = f"“{chosen[0].name}”" if len(chosen) == 1 else f"these {len(chosen)} images"
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Remove images",
        f"Remove {what} from the project?",
        QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
        window,
    )
    kept = (
        f" The label maps of the {labelled} with labels are kept in {project.root / 'removed'}, "
        "from where File > Import (masks) brings them back once the pictures are added again."
        if labelled
        else ""
    )
    box.setInformativeText(
        "Their statuses, labels and proposals leave the project; the picture files stay "
        f"where they are.{kept}"
    )
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    if box.exec() != QMessageBox.StandardButton.Ok:
        return None
    current = session.document.image_id if session.document else None
    gone = {r.id for r in chosen}
    if current in gone:
        window.close_image()  # saved first: its labels are kept with the others
    else:
        window.canvas.finish_gesture()
        session.save(wait=True)

    def work(_progress: object) -> RemovalReport:
        if service is not None:
            service.wait_proposals()  # a proposal for one of them may be on its way
        return remove_images(project, [r.id for r in chosen])

    outcome = run_with_progress(
        window, "Remove images", f"Removing {len(chosen)} image(s)…", work, cancellable=False
    )
    if window.canvas.smart is not None:
        for image_id in gone:
            window.canvas.smart.forget(image_id)
    left = [r.id for r in session.images()]
    if current in gone:
        after = [i for i in window.image_list.visible_ids() if i not in gone and i in left]
        current = after[0] if after else (left[0] if left else None)
    window.image_list.set_records(session.images(), current)
    if current is not None and (session.document is None or session.document.image_id != current):
        window.open_image(current)
    if service is not None:
        service.refresh_proposals()  # the ranking forgets them
    if outcome.error is not None or outcome.result is None:
        QMessageBox.warning(
            window,
            "Images not removed",
            sentence(error_text(outcome.error or RuntimeError("nothing happened"))),
        )
        return None
    window.statusBar().showMessage(outcome.result.summary().capitalize(), 15000)
    return outcome.result
