"""View > Channels...: the project's channel choice (docs/adr/0030), up to three of the
open picture's channels, in order: red, green and blue, two in magenta and green, or
one shown grey. New models trained from scratch take them too, and, when three are
shown, the channels ticked under "Models also take" (a wide choice: models see them,
the display shows the first three)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.core.channels import MAX_CHOSEN, SHOWN
from annotator.gui.forms import fit_to_layout

#: The first item of the second and third boxes: no channel there.
NONE_ITEM = "(none)"


def row_names(chosen: int) -> tuple[str, ...]:
    """What the boxes are called when ``chosen`` channels are chosen: as they are shown."""
    if chosen == 1:
        return ("Grey", "", "")
    if chosen == 2:
        return ("Magenta", "Green", "")
    return ("Red", "Green", "Blue")


class ChannelsDialog(QDialog):
    """Three boxes listing Channel 1..N of the open picture (the shown channels) and a
    tick box for each other channel models may also take (:attr:`extras`, usable when
    three are shown); Apply emits :attr:`chosen` (0-based channels in order; ``()``
    from Reset: the first three)."""

    chosen = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Channels")
        self._intro = QLabel()
        self._intro.setWordWrap(True)
        grid = QGridLayout()
        self._labels = [QLabel() for _ in range(SHOWN)]
        self.boxes = [QComboBox() for _ in range(SHOWN)]
        for row, (label, box) in enumerate(zip(self._labels, self.boxes, strict=True)):
            grid.addWidget(label, row, 0)
            grid.addWidget(box, row, 1)
            box.currentIndexChanged.connect(self._name_rows)
        self._extras_label = QLabel("Models also take (not shown):")
        self._extras_row = QHBoxLayout()
        #: One tick box per channel of the picture (index: the 0-based channel).
        self.extras: list[QCheckBox] = []
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button = buttons.addButton(QDialogButtonBox.StandardButton.Apply)
        self.reset_button = QPushButton("First three")
        self.reset_button.setToolTip("No choice: the first three channels, as before")
        buttons.addButton(self.reset_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.apply_button.clicked.connect(lambda: self.chosen.emit(self.choice()))
        self.reset_button.clicked.connect(lambda: self.chosen.emit(()))
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self._intro)
        layout.addLayout(grid)
        layout.addWidget(self._extras_label)
        layout.addLayout(self._extras_row)
        layout.addWidget(buttons)

    def set_picture(self, channels: int, choice: Sequence[int]) -> None:
        """List the channels of a picture of ``channels`` channels, ``choice`` selected
        (none: the first three, or all it has). A picture of one channel has nothing to
        choose: the dialog says so, without boxes or Apply (First three stays while the
        project has a choice, for its pictures of several channels)."""
        single = channels < 2
        for widget in (*self._labels, *self.boxes):
            widget.setVisible(not single)
        self.apply_button.setVisible(not single)
        self.reset_button.setVisible(not single or bool(choice))
        if single:
            chosen = ", ".join(str(c + 1) for c in choice)
            self._intro.setText(
                "The picture has one channel, shown grey: there is nothing to choose. "
                + (
                    f"The project's choice (channels {chosen}) applies to its pictures of "
                    "several channels; First three clears it."
                    if choice
                    else "For a picture of several channels, choose here which are shown."
                )
            )
        else:
            self._intro.setText(
                f"The picture has {channels} channels. Choose up to three, in order, for "
                "the whole project: they are shown, and new models trained from scratch "
                "take them."
                + (
                    f" With three shown, models can take more (up to {MAX_CHOSEN} in all): "
                    "tick them below; the display stays the three above."
                    if channels > SHOWN
                    else ""
                )
            )
        current = list(choice) if choice and max(choice) < channels else []
        if not current:
            current = list(range(min(channels, SHOWN)))
        for i, box in enumerate(self.boxes):
            box.blockSignals(True)
            box.clear()
            if i > 0:
                box.addItem(NONE_ITEM, -1)
            for c in range(channels):
                box.addItem(f"Channel {c + 1}", c)
            wanted = current[i] if i < len(current) else -1
            box.setCurrentIndex(max(box.findData(wanted), 0))
            box.blockSignals(False)
        self._list_extras(0 if single else channels, current[SHOWN:])
        self._name_rows()
        fit_to_layout(self)  # (rows shown or hidden: the size follows)

    def choice(self) -> tuple[int, ...]:
        """The channels chosen, in order (a box of "(none)" ends the choice; a channel
        chosen twice counts once)."""
        out: list[int] = []
        for box in self.boxes:
            c = box.currentData()
            if c is None or c < 0:
                break
            if c not in out:
                out.append(int(c))
        if len(out) == SHOWN:  # (the ticked channels follow the shown ones, in order)
            ticked = [c for c, tick in enumerate(self.extras) if tick.isChecked()]
            out += [c for c in ticked if c not in out][: MAX_CHOSEN - SHOWN]
        return tuple(out)

    def _list_extras(self, channels: int, ticked: Sequence[int]) -> None:
        """A tick box for each of ``channels`` channels (none for a picture of three or
        fewer: every channel can be shown), ``ticked`` ticked."""
        for tick in self.extras:
            self._extras_row.removeWidget(tick)
            tick.deleteLater()
        wanted = channels > SHOWN
        self.extras = [QCheckBox(str(c + 1)) for c in range(channels if wanted else 0)]
        for c, tick in enumerate(self.extras):
            tick.setChecked(c in ticked)
            tick.setToolTip(f"Models trained from scratch also take channel {c + 1}")
            tick.toggled.connect(self._name_rows)
            self._extras_row.addWidget(tick)
        self._extras_label.setVisible(wanted)

    def _name_rows(self) -> None:
        shown = [c for c in self.choice()[:SHOWN]]
        names = row_names(len(shown))
        for label, name in zip(self._labels, names, strict=True):
            label.setText(name)
        for c, tick in enumerate(self.extras):  # (only with three shown; never a shown one)
            tick.setEnabled(len(shown) == SHOWN and c not in shown)
