"""Marking images done or not done, several at a time (``annotator mark``), by the rule
the window's Mark done (Ctrl+D) follows for the image open.

* Done needs a labelled pixel (void counts): a done image without labels is left out of
  exports and training, so marking it done would only hide it from "next suggested".
* Not done is what the labels say: ``in_progress`` with a labelled pixel, else ``new``
  (the Status of the glossary).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from annotator.core.records import ImageRecord
from annotator.core.status import ImageStatus
from annotator.storage.project import Project

#: Why an image without a labelled pixel cannot be marked done (after its name), as the
#: window says it.
NO_LABELS = "has no labelled pixel, so it cannot be done yet: paint or accept a proposal first"
NO_LABELS_SEVERAL = (
    "have no labelled pixel, so they cannot be done yet: paint or accept a proposal first"
)


def can_be_done(record: ImageRecord) -> bool:
    """Whether ``record`` may be marked done: it has a labelled pixel (void counts)."""
    return record.labelled_pixels > 0


def status_not_done(record: ImageRecord) -> ImageStatus:
    """The status an image marked not done gets: what its labels say."""
    return ImageStatus.IN_PROGRESS if record.labelled_pixels > 0 else ImageStatus.NEW


@dataclass
class MarkReport:
    """What :func:`mark_images` did: the images marked (their records as now), those
    that had that status already, and those that cannot be done."""

    done: bool
    marked: list[ImageRecord] = field(default_factory=list)
    unchanged: list[ImageRecord] = field(default_factory=list)
    #: Images that cannot be done (:func:`can_be_done`), left as they were.
    refused: list[ImageRecord] = field(default_factory=list)

    @property
    def what(self) -> str:
        return "done" if self.done else "not done"

    def summary(self) -> str:
        """One line: ``3 images marked done; 1 left: a.png has no labelled pixel...``."""
        n = len(self.marked)
        line = f"{n} image{'' if n == 1 else 's'} marked {self.what}"
        if self.unchanged:
            k = len(self.unchanged)
            line += f" ({k} {'was' if k == 1 else 'were'} {self.what} already)"
        if self.refused:
            line += f"; {len(self.refused)} left: {self.refused_text()}"
        return line

    def refused_text(self) -> str:
        """``a.png has no labelled pixel, so it cannot...``; several: ``a.png, b.png
        and 3 more have no labelled pixel, so they cannot...``."""
        names = [r.name for r in self.refused]
        if len(names) == 1:
            return f"{names[0]} {NO_LABELS}"
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"{shown} {NO_LABELS_SEVERAL}"


#: Images whose statuses one transaction sets (a transaction each took about 7 ms).
BATCH = 500


def mark_images(
    project: Project,
    records: Sequence[ImageRecord],
    done: bool,
    progress: Callable[[int, int, str], None] | None = None,
    report: MarkReport | None = None,
) -> MarkReport:
    """Mark ``records`` done (``done``) or not done; an image that cannot be done
    (:func:`can_be_done`) is left as it is and listed. The statuses are set
    (``Project.set_statuses``) :data:`BATCH` images a transaction; ``report`` receives
    each batch once it is written (what a caller that was interrupted can still say)."""
    report = MarkReport(done) if report is None else report
    pending: list[ImageRecord] = []
    for i, record in enumerate(records):
        if progress is not None:
            progress(i, len(records), record.name)
        status = _new_status(record, done)
        if status is None:  # done already, not done already, or no labels to be done
            refused = done and record.status is not ImageStatus.DONE
            (report.refused if refused else report.unchanged).append(record)
            continue
        pending.append(replace(record, status=status))
        if len(pending) >= BATCH:
            _write(project, pending, report)
    _write(project, pending, report)
    return report


def _new_status(record: ImageRecord, done: bool) -> ImageStatus | None:
    """The status marking ``record`` done (``done``) or not done gives it; None when it
    has that status already or cannot be done."""
    if done:
        ok = record.status is not ImageStatus.DONE and can_be_done(record)
        return ImageStatus.DONE if ok else None
    return status_not_done(record) if record.status is ImageStatus.DONE else None


def _write(project: Project, pending: list[ImageRecord], report: MarkReport) -> None:
    if pending:
        project.set_statuses([(r.id, r.status) for r in pending])
        report.marked.extend(pending)
        pending.clear()
