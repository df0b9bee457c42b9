"""The image list: every image of the project with its status and score, a filter, a sort.

The score is the model's image-level uncertainty (higher = label sooner); sorting by it
puts the images the model is least sure of at the top.

A model/view list: the rows are an index into the records, rebuilt in milliseconds when
the filter, the sort or a status changes, and Qt asks for the text of the visible rows
only, so a project of 20,000 images updates as fast as one of 20.

The order holds still while scores land: a score (the open image's proposal scores it)
or a status shown changes the row's text where it is, so Page Down walks the list as the
user saw it and never comes back to images already seen. The list sorts again when the
user chooses a sort or a filter (the same sort again: by the latest scores), when the
window lists the images anew, and when a model version has scored the images
(:meth:`ImageListPanel.resort`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLineEdit,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from annotator.core.naming import natural_key, one_line
from annotator.core.records import ImageRecord
from annotator.core.status import ImageStatus
from annotator.gui.class_panel import swatch

ID_ROLE = Qt.ItemDataRole.UserRole
#: A row's image name, and what follows it (status and score), for the row's delegate.
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
TAIL_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_LABEL = {
    ImageStatus.NEW: "new",
    ImageStatus.IN_PROGRESS: "in progress",
    ImageStatus.DONE: "done",
}
STATUS_COLOUR = {
    ImageStatus.NEW: QColor(150, 150, 150),
    ImageStatus.IN_PROGRESS: QColor(240, 180, 40),
    ImageStatus.DONE: QColor(60, 190, 80),
}
AnyIndex = QModelIndex | QPersistentModelIndex
ALL = "all"


def row_tail(record: ImageRecord) -> str:
    """What a row says after the image's name: its status and score, with three
    decimals as ``annotator suggest`` prints it (with two, every ISBI image read 0.99 or
    1.00: "most uncertain first" could not be read)."""
    text = f"   [{STATUS_LABEL[record.status]}]"
    if record.score is not None:
        text += f"   {record.score:.3f}"
    return text


def uncertainty_key(record: ImageRecord) -> tuple[bool, bool, float, int]:
    """Images to label, most uncertain first; never scored after them; done last."""
    return (
        record.status is ImageStatus.DONE,
        record.score is None,
        -(record.score or 0.0),
        record.id,
    )


def row_text(record: ImageRecord) -> str:
    return one_line(record.name) + row_tail(record)


_WORD_ENDS = "_-. "


def shared_ends(name: str, others: list[str]) -> tuple[int, int]:
    """How many characters ``name`` shares at its start, and at its end, with the most
    alike of ``others`` (its neighbours in the list); the two never overlap."""
    head = tail = 0
    for other in others:
        if other == name:
            continue
        head = max(head, len(os.path.commonprefix([name, other])))
        tail = max(tail, len(os.path.commonprefix([name[::-1], other[::-1]])))
    return head, min(tail, len(name) - head)


def elide_name(name: str, fm: QFontMetrics, room: int, head: int = 0, tail: int = 0) -> str:
    """``name`` in ``room`` px: whole if it fits; else, where its neighbours share its
    first ``head`` and last ``tail`` characters, the word that differs stays whole
    ("experiment…wellB12…DAPI.png"), else the middle gives way (numbered names)."""
    if fm.horizontalAdvance(name) <= room:
        return name
    if head == 0 and tail == 0:
        return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, max(room, 0))
    start = max((name.rfind(c, 0, head) + 1 for c in _WORD_ENDS), default=0)
    ends = [i for c in _WORD_ENDS if (i := name.find(c, len(name) - tail)) >= 0]
    end = min(ends, default=len(name))
    if end <= start:
        return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, max(room, 0))

    def text(a: int, b: int) -> str:
        left = name[:a] + ("…" if a < start else "")
        right = ("…" if b < len(name) - end else "") + name[len(name) - b :]
        return left + name[start:end] + right

    a = b = 0
    if fm.horizontalAdvance(text(a, b)) > room:
        return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, max(room, 0))
    grew = True
    while grew:  # a character more at each end in turn, while it fits
        grew = False
        if a < start and fm.horizontalAdvance(text(a + 1, b)) <= room:
            a, grew = a + 1, True
        if b < len(name) - end and fm.horizontalAdvance(text(a, b + 1)) <= room:
            b, grew = b + 1, True
    return text(a, b)


class RowDelegate(QStyledItemDelegate):
    """Draws a row in the width of the list: a long name is elided, never the status
    and score after it; where rows beside it share its start and end (names differing
    in the middle), the word that differs stays, else the middle gives way (where
    numbered names differ least)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: AnyIndex) -> None:  # noqa: N802 (Qt API)
        super().initStyleOption(option, index)
        name, tail = index.data(NAME_ROLE), index.data(TAIL_ROLE)
        if not isinstance(name, str) or not isinstance(tail, str):
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        box = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        fm = option.fontMetrics
        room = box.width() - 2 * margin - fm.horizontalAdvance(tail)
        if fm.horizontalAdvance(name) <= room:  # (most rows: no neighbours to read)
            option.text = name + tail
            return
        model = index.model()
        near = [model.index(index.row() + d, 0).data(NAME_ROLE) for d in (-1, 1)]
        head, end = shared_ends(name, [n for n in near if isinstance(n, str)])
        option.text = elide_name(name, fm, room, head, end) + tail


class ImageListModel(QAbstractListModel):
    """The shown rows: records in filter-and-sort order; text made when Qt asks."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ImageRecord] = []
        self._row_of: dict[int, int] = {}
        self._icons = {s: QIcon(swatch(c, 10)) for s, c in STATUS_COLOUR.items()}

    def set_rows(self, rows: list[ImageRecord]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._row_of = {r.id: i for i, r in enumerate(rows)}
        self.endResetModel()

    def row_of(self, image_id: int) -> int | None:
        return self._row_of.get(image_id)

    def replace_rows(self, records: list[ImageRecord]) -> None:
        """Show changed records in place (those not shown are left out): one repaint
        of the rows between the first and last changed, not one per row."""
        rows = []
        for record in records:
            row = self._row_of.get(record.id)
            if row is not None:
                self.rows[row] = record
                rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def replace_row(self, record: ImageRecord) -> bool:
        """Show a changed record in place; False if it is not shown."""
        row = self._row_of.get(record.id)
        if row is None:
            return False
        self.rows[row] = record
        index = self.index(row)
        self.dataChanged.emit(index, index)
        return True

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        r = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row_text(r)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons[r.status]
        if role == Qt.ItemDataRole.ToolTipRole:
            score = (
                "no score yet (a model scores the images once there is one)"
                if r.score is None
                else f"uncertainty score {r.score:.3f}: the model's doubt over the pixels "
                "not labelled yet (0 to 1; the higher, the sooner to label next)"
            )
            return (  # the whole name first: the row may show it cut
                f"{one_line(r.name)}\n{r.width}x{r.height}, {r.bit_depth}-bit, {r.labelled_pixels} labelled "
                f"pixels, {score}"
            )
        if role == ID_ROLE:
            return r.id
        if role == NAME_ROLE:
            return one_line(r.name)
        if role == TAIL_ROLE:
            return row_tail(r)
        return None


class ImageListPanel(QWidget):
    """Images with a status filter and a name filter; emits the id the user picks."""

    image_activated = Signal(int)
    #: The user asked to remove these images from the project (the window confirms).
    remove_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_filter = QComboBox()
        # Item data is never None: PySide's QComboBox.currentData() returning None many
        # times decrements None's reference count until the interpreter aborts.
        self.status_filter.addItem("All images", ALL)
        for status in ImageStatus:
            self.status_filter.addItem(STATUS_LABEL[status].capitalize(), status.value)
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by name…")
        self.name_filter.setClearButtonEnabled(True)
        self.sort_combo = QComboBox()
        self.sort_combo.addItem("Order added", "added")
        self.sort_combo.addItem("Most uncertain first", "uncertainty")
        self.sort_combo.addItem("Name (2 before 10)", "name")
        self.sort_combo.setToolTip(
            "The order of the list: as added, by the model's uncertainty score, or by name "
            "with numbers in order (2 before 10). The rows hold still while scores arrive "
            "(Page Down walks the list as shown); choose the order again to sort by the "
            "latest scores"
        )
        self.model = ImageListModel()
        self.list = QListView()
        self.list.setObjectName("imageList")
        self.list.setUniformItemSizes(True)  # lets Qt lay out 20,000 rows without asking each
        self.list.setModel(self.model)
        # Rows fit the list's width (names elided, status and score whole): no scrolling
        # sideways to read a score.
        self.list.setItemDelegate(RowDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status_filter)
        layout.addWidget(self.name_filter)
        layout.addWidget(self.sort_combo)
        layout.addWidget(self.list)
        self._records: dict[int, ImageRecord] = {}
        self._current: int | None = None
        self._filling = False
        #: Each listed id's place in the order as last sorted: refills between two sorts
        #: keep it (a score or status landing moves no row).
        self._rank: dict[int, int] = {}
        #: Whether scores or statuses changed since the last sort (the order may be old).
        self._order_stale = False
        #: Refills so far, and how many sorted (tests and benchmarks count them).
        self.refills = 0
        self.sorts = 0
        self.status_filter.currentIndexChanged.connect(self.resort)
        self.name_filter.textChanged.connect(self.resort)
        self.sort_combo.currentIndexChanged.connect(self.resort)
        # the same order chosen again (no index change): sort by the latest scores
        self.sort_combo.activated.connect(self._order_chosen)
        self.list.selectionModel().currentChanged.connect(self._picked)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)

    # --- what the window tells it ------------------------------------------------------------
    def set_records(self, records: list[ImageRecord], current: int | None = None) -> None:
        self._records = {r.id: r for r in records}
        if current is not None:
            self._current = current
        self.resort()

    def resort(self) -> None:
        """Sort the rows again by the records' present scores, statuses and names (the
        user chose a sort or filter, or a model version has scored the images)."""
        self._refill(resort=True)

    def record(self, image_id: int) -> ImageRecord | None:
        """The record listed for ``image_id`` (None if not listed)."""
        return self._records.get(image_id)

    def update_record(self, record: ImageRecord) -> None:
        """Show a changed status (after autosave or "mark done")."""
        old = self._records.get(record.id)
        self._records[record.id] = record
        if old is not None and self._orders_by_state() and old.status is not record.status:
            self._order_stale = True
        if old is not None and not self._placement_changes(old, record):
            self.model.replace_row(record)
        else:
            self._refill()

    def update_scores(self, scores: dict[int, float]) -> None:
        """Show new uncertainty scores (computed by the model in the background) in
        their rows, which stay where they are (see the module's docstring): a score never
        changes what the filter shows, so no row is added, dropped or moved."""
        changed = []
        for image_id, score in scores.items():
            old = self._records.get(image_id)
            if old is not None and old.score != score:
                self._records[image_id] = new = old.with_score(score)
                changed.append(new)
        if changed and self._orders_by_state():
            self._order_stale = True
        self.model.replace_rows(changed)

    def set_sort(self, key: str) -> None:
        """``added``, ``uncertainty`` or ``name``."""
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(key)))

    def set_current(self, image_id: int | None) -> None:
        previous, self._current = self._current, image_id
        if image_id is not None and self.model.row_of(image_id) is None:
            self._refill()  # the filter hid it; the open image is always listed
        elif previous is not None and previous != image_id and self._filtered():
            self._refill()  # the image left may drop out of the filter now
        else:
            self._select_current()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        menu = self.context_menu(index.row() if index.isValid() else None)
        if not menu.isEmpty():
            menu.exec(self.list.viewport().mapToGlobal(pos))

    def context_menu(self, row: int | None) -> QMenu:
        """The right-click menu of a shown row (None: below the rows)."""
        menu = QMenu(self)
        if row is not None:
            record = self.model.rows[row]
            menu.addAction(
                f"Remove “{record.name}” from the project…",
                lambda: self.remove_requested.emit([record.id]),
            )
        # the images the filter shows: not the open one, listed whatever the filter says
        passes = self._filter()
        shown = [r.id for r in self.model.rows if r.id != self._current or passes(r)]
        if self._filtered() and shown:
            menu.addAction(
                f"Remove the {len(shown)} image(s) shown from the project…",
                lambda: self.remove_requested.emit(shown),
            )
        return menu

    # --- what the window asks -----------------------------------------------------------------
    def visible_ids(self) -> list[int]:
        """Ids shown by the filter, in list order (next/previous follow this)."""
        return [r.id for r in self.model.rows]

    def count(self) -> int:
        return len(self.model.rows)

    def text(self, row: int) -> str:
        """The text of a shown row (tests, accessibility)."""
        return row_text(self.model.rows[row])

    def current_text(self) -> str | None:
        row = None if self._current is None else self.model.row_of(self._current)
        return None if row is None else self.text(row)

    # --- internals ----------------------------------------------------------------------------
    def _filtered(self) -> bool:
        return self.status_filter.currentData() != ALL or bool(self.name_filter.text().strip())

    def _placement_changes(self, old: ImageRecord, new: ImageRecord) -> bool:
        """Whether a change moves the record in or out of the filter or in the order."""
        if old.status is new.status and old.score == new.score and old.name == new.name:
            return False
        # (by uncertainty, a new status or score keeps its place until the next sort)
        renamed = self.sort_combo.currentData() == "name" and old.name != new.name
        return self._filtered() or renamed

    def _orders_by_state(self) -> bool:
        """Whether the order depends on scores and statuses (they change while listed)."""
        return self.sort_combo.currentData() == "uncertainty"

    def _order_chosen(self, _index: int) -> None:
        if self._order_stale:  # (a new choice has sorted already: its index changed)
            self.resort()

    def _filter(self) -> Callable[[ImageRecord], bool]:
        """Whether the filter (status and name) lets a record through (read once)."""
        wanted = self.status_filter.currentData()
        text = self.name_filter.text().strip().lower()

        def passes(record: ImageRecord) -> bool:
            if wanted != ALL and record.status.value != wanted:
                return False
            return not text or text in record.name.lower()

        return passes

    def _refill(self, resort: bool = False) -> None:
        """List the records the filter lets through: sorted anew (``resort``), or, by
        uncertainty, in the order of the last sort (images it did not list after those
        it did, in their own order)."""
        passes = self._filter()

        def accepts(record: ImageRecord) -> bool:
            return record.id == self._current or passes(record)  # the open one: listed

        self.refills += 1
        if self._orders_by_state() and not resort:
            records = [r for r in self._records.values() if accepts(r)]
            last, rank = len(self._rank), self._rank
            new = [r for r in records if r.id not in rank]
            records = [r for r in records if r.id in rank]
            records.sort(key=lambda r: rank[r.id])
            records += sorted(new, key=uncertainty_key)
            if new:
                rank.update((r.id, last + i) for i, r in enumerate(new))
        else:
            self.sorts += 1
            records = list(self._records.values())
            if self._orders_by_state():
                records.sort(key=uncertainty_key)
            elif self.sort_combo.currentData() == "name":
                # as a file browser lists them: case aside, then upper case first
                records.sort(
                    key=lambda r: (natural_key(r.name.casefold()), natural_key(r.name), r.id)
                )
            # every record ranked, the filtered-out too: one the filter lets through
            # later (its status changed) takes its place in this order
            self._rank = {r.id: i for i, r in enumerate(records)}
            self._order_stale = False
            records = [r for r in records if accepts(r)]
        self._filling = True
        self.model.set_rows(records)
        self._filling = False
        self._select_current()

    def _select_current(self) -> None:
        row = None if self._current is None else self.model.row_of(self._current)
        self._filling = True
        selection = self.list.selectionModel()
        if row is None:
            selection.clearCurrentIndex()
        else:
            index = self.model.index(row)
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.list.scrollTo(index)
        self._filling = False

    def _picked(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._filling or not current.isValid():
            return
        image_id = int(self.model.rows[current.row()].id)
        if image_id != self._current:
            self.image_activated.emit(image_id)
