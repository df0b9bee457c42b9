"""What the window says when labels cannot be saved, and closing a project then.

- :func:`save_failure_box`: the box of a failed autosave, true to what happened: labels
  not written at all ("could not be saved"), or written to their mask file with only the
  project index's record refused (a database locked by another program: on disk, counted
  when the project is next opened).
- :func:`close_session`: closing the session (quit, another project). Labels the project
  cannot take are rescued into the rescue folder; when that fails too (the same full
  disk), the user is asked before anything is lost: Retry, Choose another folder… (a
  folder picker), or Discard, in a box naming every image whose labels would be lost.
  When nobody can be asked (SIGTERM, a logout: ``asking`` False, or such an end arriving
  while the box is open) the session tries the rescue folder, the home folder and the
  temporary folder in turn, and logs where they went, or that they are lost, in one line.
- :func:`close_modal_boxes`: an end from outside closes the boxes open (their event
  loops would keep the process alive).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from annotator.core.errors import RecordRefused
from annotator.gui.progress_task import box_sentence, plain, sentence
from annotator.services.session import LabelsAtRisk, name_list

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from annotator.gui.main_window import MainWindow
    from annotator.services.session import AnnotationSession

#: The answers of the box asked when labels can be neither saved nor rescued.
RETRY, CHOOSE, DISCARD = "retry", "choose", "discard"
CHOOSE_BUTTON = "Choose another folder…"


def save_failure_box(name: str, exc: Exception, left: bool, retry_s: int) -> tuple[str, str]:
    """The title and text of the box of a failed autosave of image ``name`` (``left``:
    its labels were handed over when the user went on to another image)."""
    if isinstance(exc, RecordRefused):  # the mask file is written: only the count waits
        return (
            "Labels not counted yet",
            f"{sentence(str(exc))}\nRecording them is tried again every {retry_s} s.",
        )
    kept = (
        "\nThey are kept: saving is tried again every "
        f"{retry_s} s, or, if the app closes first, they are written to a rescue folder "
        "that it names."
        if left
        else f"\nThey are kept, and saving is tried again every {retry_s} s."
    )
    return "Autosave failed", f"The labels of {name} could not be saved:\n{exc}{kept}"


def save_failure_line(name: str, exc: Exception, retry_s: int) -> str:
    """The status bar's line of a failed autosave of image ``name`` (at each try)."""
    if isinstance(exc, RecordRefused):
        return (
            f"{name}: written to its mask file, not counted yet ({exc.why}); trying again "
            f"every {retry_s} s"
        )
    return f"Saving {name} failed: {exc}; trying again every {retry_s} s"


def close_session(window: MainWindow, session: AnnotationSession, asking: bool) -> None:
    """Close ``session`` (saving everything), asking the user what to do with labels that
    can be neither saved nor rescued (``asking``), and say what became of labels not
    saved in the project (a box when asking; the session's log line otherwise)."""
    folders: list[Path] | None = [session.rescue_dir] if asking else None
    told = asking
    while True:
        try:
            said = session.close(folders, keep_if_lost=asking)
        except LabelsAtRisk as risk:
            choice = RETRY if window.ending_from_outside else ask_rescue(window, risk)
            if window.ending_from_outside:  # (a SIGTERM while the box was open)
                asking, folders, told = False, None, False
            elif choice == DISCARD:  # said in the box: what is lost
                asking, folders, told = False, [], False
            elif choice == CHOOSE and (picked := pick_folder(window)) is not None:
                folders = [picked]
            continue
        break
    if said is not None and told:
        title = (
            "Labels not saved in the project"
            if session.rescued_to is not None or "could not be saved" in said
            else "Labels not counted yet"
        )
        QMessageBox.warning(window, title, box_sentence(said))


def ask_rescue(window: QWidget, risk: LabelsAtRisk) -> str:
    """Ask what to do with labels that can be neither saved nor rescued: :data:`RETRY`,
    :data:`CHOOSE` or :data:`DISCARD` (the box names every image whose labels it loses)."""
    advice = (  # (a name too long, a read-only folder: no space would help)
        "Free some space and press Retry"
        if risk.full
        else "Press Retry once what is said above is put right"
    )
    text = (
        f"{sentence(str(risk))}\n\n{advice}, or choose another folder to write them to "
        "(another disk, a USB stick). Discard closes without them: the labels of "
        f"{name_list(risk.names)} will be lost."
    )
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Labels not saved",
        plain(text),
        QMessageBox.StandardButton.NoButton,
        window,
    )
    retry = box.addButton("Retry", QMessageBox.ButtonRole.AcceptRole)
    choose = box.addButton(CHOOSE_BUTTON, QMessageBox.ButtonRole.ActionRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(retry)
    box.setEscapeButton(retry)  # (Esc never discards)
    box.exec()
    clicked = box.clickedButton()
    return DISCARD if clicked is discard else CHOOSE if clicked is choose else RETRY


def pick_folder(window: QWidget) -> Path | None:
    """The folder the user picks for labels the project cannot take (None: cancelled)."""
    folder = QFileDialog.getExistingDirectory(window, "Choose a folder for the labels not saved")
    return Path(folder) if folder else None


def close_modal_boxes() -> int:
    """Close every modal dialog open (rejected, as Esc would), so that their event loops
    end; returns how many. For an end from outside: nobody is there to answer them."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return 0
    open_ = [
        w for w in app.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible() and w.isModal()
    ]
    for dialog in reversed(open_):
        dialog.done(QDialog.DialogCode.Rejected)
    return len(open_)
