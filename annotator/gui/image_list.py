"""The image list: every image of the project with its status and score, a filter, a sort.

The score is the model's image-level uncertainty (higher = label sooner); sorting by it
puts the images the model is least sure of at the top.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.core.records import ImageRecord
from annotator.core.status import ImageStatus
from annotator.gui.class_panel import swatch

ID_ROLE = Qt.ItemDataRole.UserRole
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


class ImageListPanel(QWidget):
    """Images with a status filter and a name filter; emits the id the user picks."""

    image_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All images", None)
        for status in ImageStatus:
            self.status_filter.addItem(STATUS_LABEL[status].capitalize(), status.value)
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by name…")
        self.name_filter.setClearButtonEnabled(True)
        self.sort_combo = QComboBox()
        self.sort_combo.addItem("Order added", "added")
        self.sort_combo.addItem("Most uncertain first", "uncertainty")
        self.sort_combo.setToolTip("Sort by the model's uncertainty score")
        self.list = QListWidget()
        self.list.setObjectName("imageList")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status_filter)
        layout.addWidget(self.name_filter)
        layout.addWidget(self.sort_combo)
        layout.addWidget(self.list)
        self._records: list[ImageRecord] = []
        self._current: int | None = None
        self._filling = False
        self.status_filter.currentIndexChanged.connect(self._refill)
        self.name_filter.textChanged.connect(self._refill)
        self.sort_combo.currentIndexChanged.connect(self._refill)
        self.list.currentItemChanged.connect(self._picked)

    def set_records(self, records: list[ImageRecord], current: int | None = None) -> None:
        self._records = list(records)
        if current is not None:
            self._current = current
        self._refill()

    def update_record(self, record: ImageRecord) -> None:
        """Show a changed status (after autosave or "mark done")."""
        self._records = [record if r.id == record.id else r for r in self._records]
        self._refill()

    def update_scores(self, scores: dict[int, float]) -> None:
        """Show new uncertainty scores (computed by the model in the background)."""
        self._records = [
            replace(r, score=scores[r.id]) if r.id in scores else r for r in self._records
        ]
        self._refill()

    def set_sort(self, key: str) -> None:
        """``added`` or ``uncertainty``."""
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(key)))

    def set_current(self, image_id: int | None) -> None:
        self._current = image_id
        self._refill()

    def visible_ids(self) -> list[int]:
        """Ids shown by the filter, in list order (next/previous follow this)."""
        ids = [int(self.list.item(i).data(ID_ROLE)) for i in range(self.list.count())]
        return ids

    def _accepts(self, record: ImageRecord) -> bool:
        wanted = self.status_filter.currentData()
        if wanted is not None and record.status.value != wanted and record.id != self._current:
            return False
        text = self.name_filter.text().strip().lower()
        return not text or text in record.name.lower() or record.id == self._current

    def _refill(self) -> None:
        self._filling = True
        self.list.clear()
        records = self._records
        if self.sort_combo.currentData() == "uncertainty":
            # images to label, most uncertain first; never scored after them; done last
            records = sorted(
                records,
                key=lambda r: (
                    r.status is ImageStatus.DONE,
                    r.score is None,
                    -(r.score or 0.0),
                    r.id,
                ),
            )
        for r in records:
            if not self._accepts(r):
                continue
            text = f"{r.name}   [{STATUS_LABEL[r.status]}]"
            if r.score is not None:
                text += f"   {r.score:.2f}"
            item = QListWidgetItem(swatch(STATUS_COLOUR[r.status], 10), text)
            item.setData(ID_ROLE, r.id)
            score = "no score yet" if r.score is None else f"uncertainty score {r.score:.3f}"
            item.setToolTip(
                f"{r.width}x{r.height}, {r.bit_depth}-bit, {r.labelled_pixels} labelled pixels, "
                + score
            )
            self.list.addItem(item)
            if r.id == self._current:
                self.list.setCurrentItem(item)
        self._filling = False

    def _picked(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if self._filling or item is None:
            return
        image_id = int(item.data(ID_ROLE))
        if image_id != self._current:
            self.image_activated.emit(image_id)
