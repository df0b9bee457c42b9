"""The File menu's project work: new, open recent, add images, import, export, welcome.

:class:`FileMenu` keeps these out of the main window (which only wires): each action
opens its dialog, runs the service call with a progress dialog and reports the outcome
in one message (errors as one line, never a traceback). Each feature calls its service
in exactly one place: :func:`add_images_with_progress`, :func:`run_import`,
:func:`run_export`.

Dialogs are created by small factory methods, so tests can fill them programmatically
(monkeypatch ``exec``) and still drive the real actions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox

from annotator.core.errors import AnnotatorError
from annotator.core.folders import printable
from annotator.core.naming import NAME_MAX, short_stem
from annotator.core.schema import untrainable
from annotator.gui.export_dialog import ExportDialog, export_summary, run_export
from annotator.gui.first_run import FirstRunDialog, is_project
from annotator.gui.import_dialog import ImportDialog, import_summary, run_import
from annotator.gui.new_project_dialog import (
    AddOutcome,
    NewProjectDialog,
    add_images_with_progress,
)
from annotator.gui.progress_task import error_text, loop_held, plain, sentence, training_refuses
from annotator.services.exchange import ExportRequest
from annotator.services.projects import IMAGE_FILE_SUFFIXES

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow
    from annotator.services.session import AnnotationSession

#: The button of an add's summary that opens the import of the masks it left out.
IMPORT_MASKS_BUTTON = "Import these masks…"

IMAGE_FILTER = f"Images ({' '.join('*' + s for s in IMAGE_FILE_SUFFIXES)});;All files (*)"


#: Bytes the export adds to its folder's name for the folders it stages beside it
#: (``.<name>.partial-XXXXXXXX``, ``.<name>.replaced-XXXXXXXX``).
_EXPORT_STAGING_BYTES = len("..replaced-XXXXXXXX")


def default_export_folder(root: Path) -> Path:
    """``<project>-export`` beside the project, its name cut to fit (a project folder of
    a long name made one the system refuses: "File name too long")."""
    tail = "-export"
    room = NAME_MAX - _EXPORT_STAGING_BYTES - len(tail)
    return root.parent / f"{short_stem(root.name, room)}{tail}"


class FileMenu(QObject):
    """Owns the File menu's project actions and the Recent projects submenu."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.recent_menu = QMenu("Open &recent", window)
        self.recent_menu.setObjectName("recentMenu")
        #: The last summary shown (also in the status bar); tests read it.
        self.last_message = ""
        #: The project and the request of the last export asked: the form shows its
        #: choices again (after a failed export too), for this session.
        self._last_export: tuple[Path, ExportRequest] | None = None

    def install(self) -> None:
        """Connect the actions and put Open recent under Open project."""
        a = self.window.actions_
        a["new_project"].triggered.connect(self.new_project)
        a["add_images"].triggered.connect(self.add_image_files)
        a["add_folder"].triggered.connect(self.add_image_folder)
        a["add_slices"].triggered.connect(self.add_tiff_slices)
        a["import"].triggered.connect(self.import_labels)
        a["export"].triggered.connect(self.export)
        a["welcome"].triggered.connect(self.welcome)
        menu = self._file_menu()
        if menu is not None:
            actions = menu.actions()
            after = actions.index(a["open"]) + 1 if a["open"] in actions else len(actions)
            before = actions[after] if after < len(actions) else None
            if before is not None:
                menu.insertMenu(before, self.recent_menu)
            else:
                menu.addMenu(self.recent_menu)
        self.refresh_recent()
        self.update_enabled()

    def _file_menu(self) -> QMenu | None:
        for action in self.window.menuBar().actions():
            menu = cast("QMenu | None", action.menu())
            if menu is not None and self.window.actions_["open"] in menu.actions():
                return menu
        return None

    def update_enabled(self) -> None:
        has_project = self.window.session is not None
        for name in ("add_images", "add_folder", "add_slices", "import", "export"):
            self.window.actions_[name].setEnabled(has_project)

    # --- recent --------------------------------------------------------------------------------
    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.window.settings.recent_projects()
        names = [p.name for p in recent]
        for i, path in enumerate(recent):
            # Two projects of one name show their folder; "&" would be read as a mnemonic.
            shown = path.name if names.count(path.name) == 1 else f"{path.name} ({path.parent})"
            shown = printable(shown).replace("&", "&&")  # (a byte no UTF-8: \xe9)
            label = f"&{i + 1} {shown}" if i < 9 else shown
            action = self.recent_menu.addAction(label)
            action.setToolTip(printable(path))
            action.setStatusTip(printable(path))
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.window.settings.clear_recent()
        self.refresh_recent()

    def project_opened(self, path: Path) -> None:
        self.window.settings.add_recent(path)
        self.refresh_recent()
        self.update_enabled()

    def open_recent(self, path: Path) -> None:
        if not is_project(path):
            QMessageBox.warning(
                self.window, "Cannot open project", plain(f"{path}: no longer a project")
            )
            self.window.settings.remove_recent(path)
            self.refresh_recent()
            return
        self.window.open_project(path)

    # --- dialogs (factories, so tests can fill them) --------------------------------------------
    def make_new_project_dialog(self) -> NewProjectDialog:
        return NewProjectDialog(self.window)

    def make_export_dialog(self) -> ExportDialog:
        """The Export form; for the project of the last export asked, with its choices."""
        session = self.window.session
        if session is None:
            return ExportDialog(self.window)
        root = session.project.root
        dialog = ExportDialog(self.window, default_export_folder(root), list(session.schema.names))
        if self._last_export is not None and self._last_export[0] == root:
            dialog.fill(self._last_export[1])
        # (closed by any means: OK, Cancel, Esc; :meth:`export` keeps them too)
        dialog.finished.connect(lambda _code: self._keep_export_choices(session, dialog))
        return dialog

    def make_import_dialog(self) -> ImportDialog:
        session = self.window.session
        names = session.schema.names if session is not None else []
        return ImportDialog(self.window, names)

    def make_first_run_dialog(self) -> FirstRunDialog:
        return FirstRunDialog(self.window.settings, self.window)

    # --- actions ---------------------------------------------------------------------------------
    def welcome(self) -> bool:
        """Show the first-run choices; open what the user picked. True if a project opened."""
        dialog = self.make_first_run_dialog()
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return False
        if dialog.created:
            self._open_new(dialog.chosen, dialog.add_outcome)
        else:
            self.window.open_project(dialog.chosen)
        return self.window.session is not None

    def new_project(self) -> None:
        dialog = self.make_new_project_dialog()
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.created is None:
            return
        self._open_new(dialog.created, dialog.add_outcome)

    def _open_new(self, project: Path, added: AddOutcome | None) -> None:
        """Open a project just made (File > New project, or the Welcome's) and say what
        adding its images did, and whether its classes can train."""
        self.window.open_project(project)
        if added is not None:
            self._tell_added(added)
        session = self.window.session
        if session is not None and (why := untrainable(len(session.schema))) is not None:
            self._tell(sentence(why), warn=True)

    def add_image_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Add images", "", IMAGE_FILTER)
        if files:
            self.add_paths([Path(f) for f in files])

    def add_image_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Add a folder of images")
        if folder:
            self.add_paths([Path(folder)])

    def add_tiff_slices(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.window, "Add TIFF pages as slices", "", "TIFF stacks (*.tif *.tiff)"
        )
        if files:
            self.add_paths([Path(f) for f in files], unnamed_slices=True)

    def add_paths(self, paths: list[Path], unnamed_slices: bool = False) -> None:
        session = self.window.session
        if session is None:
            return
        outcome = add_images_with_progress(self.window, session.project, paths, unnamed_slices)
        self.window.image_list.set_records(
            session.images(), session.document.image_id if session.document else None
        )
        if session.document is None and session.images():
            self.window.open_image(session.images()[0].id)
        self._tell_added(outcome)

    def _tell_added(self, outcome: AddOutcome) -> None:
        """An add's summary; when it left out masks that one import reads, the box
        offers that import (the Import labels dialog, format and source filled in)."""
        folder = outcome.masks_folder
        if folder is None or self.window.session is None:
            # (every picture added, nothing to tell: the status bar and the image list
            # say it; no box to close)
            warn = outcome.worth_a_warning
            plain = outcome.added > 0 and not (outcome.skipped or outcome.relinked)
            self._tell(outcome.summary(), warn=warn, box=warn or not plain)
        elif self._tell(outcome.summary(), warn=True, action=IMPORT_MASKS_BUTTON):
            self.import_masks_from(folder)

    def import_masks_from(self, folder: Path) -> None:
        """File > Import labels with the format (masks) and the source given: the masks
        an add left out beside their pictures."""
        self.import_labels(preset=("masks", folder))

    def import_labels(self, *_checked: object, preset: tuple[str, Path] | None = None) -> None:
        """Ask for a dataset and import its labels. Refused while a training round runs
        (it reads the labels the import rewrites, and would count the images as seen);
        the loop is held from the form to the end (no idle round starts, no proposal is
        stored meanwhile), and the images whose labels it wrote count as not in the
        active model version yet: idle retraining, when on, trains on them next."""
        session = self.window.session
        if session is None:
            return
        service = self.window.loop.service
        # (a round kept going runs on while the form is open: the check after it stops it)
        if training_refuses(self.window, service, "Labels not imported", "the labels", False):
            return
        with loop_held(self.window):  # the form's own event loop would run the idle timer
            written = self._import_held(session, preset)
        if written:
            self.window.loop.labels_replaced(written)

    def _import_held(self, session: AnnotationSession, preset: tuple[str, Path] | None) -> set[int]:
        """The import, the loop held; the ids of the images whose labels it wrote."""
        dialog = self.make_import_dialog()
        if preset is not None:  # the rest of the form keeps its defaults
            dialog.set_format(preset[0])
            dialog.src_edit.setText(str(preset[1]))
        if dialog.exec() != QDialog.DialogCode.Accepted or self.window.session is not session:
            return set()  # cancelled, or the project was closed meanwhile
        if training_refuses(  # (Train now stays the user's while the form is open)
            self.window, self.window.loop.service, "Labels not imported", "the labels"
        ):
            return set()
        request = dialog.request()
        # The import may rewrite the open image's labels: save and close it first.
        current = session.document.image_id if session.document else None
        if not self.window.close_image():
            return set()  # its labels could not be saved (said why): import nothing over them
        before = {r.id: r.updated_at for r in session.images()}
        outcome = run_import(self.window, session.project, request)
        self.window.show_schema(session.schema)  # the import may have added classes
        records = session.images()
        # Written: by a finished import, and by one cancelled or failed midway alike.
        written = {
            r.id
            for r in records
            if (before[r.id] != r.updated_at if r.id in before else r.labelled_pixels > 0)
        }
        self.window.image_list.set_records(records, current)
        ids = [r.id for r in records]
        if current in ids or ids:
            self.window.open_image(current if current in ids else ids[0])
        if outcome.error is not None:
            self._tell(f"Import failed: {error_text(outcome.error)}", warn=True)
        elif outcome.cancelled:
            self._tell(import_cancelled_text(len(written)))
        elif outcome.result is not None:
            self._tell(import_summary(outcome.result), warn=bool(outcome.result.skipped))
        return written

    def export(self) -> None:
        session = self.window.session
        if session is None:
            return
        dialog = self.make_export_dialog()
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        self._keep_export_choices(session, dialog)
        if not accepted or self.window.session is not session:
            return  # cancelled, or the project was closed meanwhile
        request = dialog.request()
        self.window.canvas.finish_gesture()
        self.window.save_before("Export")  # the export reads the masks from disk
        session.save(wait=True)  # (written by now: what failed is tried again, and said)
        outcome = run_export(self.window, session.project, request)
        if outcome.error is not None:
            self._tell(f"Export failed: {error_text(outcome.error)}", warn=True)
        elif outcome.cancelled:
            self._tell("Export cancelled; nothing was written.")
        elif outcome.result is not None:
            self._tell(export_summary(outcome.result))

    def _keep_export_choices(self, session: AnnotationSession, dialog: ExportDialog) -> None:
        """Keep the form's choices for the next Export of this project (a form that
        does not make a request, no output folder given, keeps the earlier ones)."""
        try:
            request = dialog.request()
        except AnnotatorError:
            return
        self._last_export = (session.project.root, replace(request, overwrite=False))

    def _tell(
        self, message: str, warn: bool = False, action: str | None = None, box: bool = True
    ) -> bool:
        """The done message: status bar, and a box the user closes (not without ``box``).
        With ``action``, the box has a button of that text besides Close: True when the
        user pressed it."""
        self.last_message = message
        self.window.statusBar().showMessage(message.splitlines()[0], 10000)
        if not box and action is None:
            return False
        if action is None:
            show = QMessageBox.warning if warn else QMessageBox.information
            show(self.window, "Annotator", plain(message))
            return False
        icon = QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Information
        asking = QMessageBox(
            icon, "Annotator", plain(message), QMessageBox.StandardButton.NoButton, self.window
        )
        button = asking.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        asking.addButton(QMessageBox.StandardButton.Close)
        asking.setDefaultButton(button)
        asking.exec()
        return asking.clickedButton() is button


def import_cancelled_text(written: int) -> str:
    """What a cancelled import kept: the labels of the ``written`` images it saved
    before the cancel (counted in the project: a reader's progress steps are images
    read, not masks written)."""
    if written == 0:
        return "Import cancelled; no mask was imported."
    return f"Import cancelled: the masks of {written} image(s) were imported, and are kept."
