"""The image list: every image of the project with its status, and a filter."""

from __future__ import annotations

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

from annotator.core.status import ImageStatus
from annotator.gui.class_panel import swatch
from annotator.storage.project import ImageRecord

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
        self.list = QListWidget()
        self.list.setObjectName("imageList")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status_filter)
        layout.addWidget(self.name_filter)
        layout.addWidget(self.list)
        self._records: list[ImageRecord] = []
        self._current: int | None = None
        self._filling = False
        self.status_filter.currentIndexChanged.connect(self._refill)
        self.name_filter.textChanged.connect(self._refill)
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
        for r in self._records:
            if not self._accepts(r):
                continue
            item = QListWidgetItem(
                swatch(STATUS_COLOUR[r.status], 10), f"{r.name}   [{STATUS_LABEL[r.status]}]"
            )
            item.setData(ID_ROLE, r.id)
            item.setToolTip(
                f"{r.width}x{r.height}, {r.bit_depth}-bit, {r.labelled_pixels} labelled pixels"
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
