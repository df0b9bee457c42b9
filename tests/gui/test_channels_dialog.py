"""View > Channels... (docs/adr/0030): the project's choice of up to three channels shown
(and more for models), applied to the open picture and followed by the contrast windows."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from guihelpers import SIZE

from annotator.core.schema import LabelSchema
from annotator.gui.main_window import MainWindow
from annotator.storage.project import Project


def five_bands() -> np.ndarray:
    """16-bit, 5 channels: channel c is 1000 * (c + 1) plus noise; a square only in 5."""
    rng = np.random.default_rng(0)
    image = np.stack(
        [1000 * (c + 1) + rng.integers(0, 50, (SIZE, SIZE)) for c in range(5)], axis=-1
    ).astype(np.uint16)
    image[8:24, 8:24, 4] = 60000
    return image


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    tifffile.imwrite(folder / "five.tif", five_bands(), photometric="minisblack")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "marker"])) as p:
        p.add_images([folder])
        image_id = p.images()[0].id
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    w.open_project(tmp_path / "p")
    w.open_image(image_id)
    w.root = tmp_path / "p"
    yield w
    w.close()


def _choose(dialog, *channels: int | None) -> None:
    """Pick ``channels`` (1-based; None: "(none)") in the dialog's boxes."""
    for box, c in zip(dialog.boxes, channels, strict=False):
        box.setCurrentIndex(box.findData(-1 if c is None else c - 1))


def test_the_dialog_lists_the_channels_and_apply_redraws_with_channel_5(window):
    assert window.actions_["channels"].isEnabled()
    assert window.canvas.image_item.array.shape == (SIZE, SIZE, 3)  # the first three
    window.actions_["channels"].trigger()
    dialog = window.channels_dialog
    assert dialog.isVisible()
    assert [dialog.boxes[0].itemText(i) for i in range(dialog.boxes[0].count())] == [
        f"Channel {c}" for c in range(1, 6)
    ]
    assert dialog.choice() == (0, 1, 2)
    window.show_contrast()
    assert window.contrast_dialog.channel_count == 3
    _choose(dialog, 5, None, None)
    assert dialog._labels[0].text() == "Grey"
    dialog.apply_button.click()
    shown = window.canvas.image_item.array
    assert shown.ndim == 2  # channel 5, grey
    assert shown[8:24, 8:24].min() == 255 and shown[:8, :8].max() < 128
    with Project.open(window.root, lock=False) as p:
        assert p.channel_choice() == (4,)
    # the contrast window follows: one, of channel 5's values
    assert window.contrast_dialog.channel_count == 1
    assert 5000 <= window.contrast_dialog.low.value() < 5050
    _choose(dialog, 4, 3, 2)
    assert [label.text() for label in dialog._labels] == ["Red", "Green", "Blue"]
    dialog.apply_button.click()
    assert window.canvas.image_item.array.shape == (SIZE, SIZE, 3)
    assert window.contrast_dialog.channel_count == 3
    assert 4000 <= window.contrast_dialog.low.value() < 4050  # red is channel 4
    rows = window.contrast_dialog.rows
    assert [name.text() for name, _, _ in rows[:3]] == ["Red (4)", "Green (3)", "Blue (2)"]
    dialog.reset_button.click()
    with Project.open(window.root, lock=False) as p:
        assert p.channel_choice() == ()
    assert 1000 <= window.contrast_dialog.low.value() < 1050
    assert [name.text() for name, _, _ in rows[:3]] == ["Red", "Green", "Blue"]


def test_ticked_channels_go_to_models_and_the_display_stays_the_three_shown(window):
    window.actions_["channels"].trigger()
    window.show_contrast()
    dialog = window.channels_dialog
    _choose(dialog, 5, 1, 2)
    dialog.apply_button.click()
    three = window.canvas.image_item.array.copy()
    assert [tick.text() for tick in dialog.extras] == ["1", "2", "3", "4", "5"]
    assert [tick.isEnabled() for tick in dialog.extras] == [False, False, True, True, False]
    dialog.extras[3].setChecked(True)
    dialog.extras[2].setChecked(True)
    assert dialog.choice() == (4, 0, 1, 2, 3)
    dialog.apply_button.click()
    with Project.open(window.root, lock=False) as p:
        assert p.channel_choice() == (4, 0, 1, 2, 3)
    assert np.array_equal(window.canvas.image_item.array, three)  # shown: 5,1,2
    rows = window.contrast_dialog.rows
    assert [name.text() for name, _, _ in rows[:3]] == ["Red (5)", "Green (1)", "Blue (2)"]
    dialog.set_picture(5, (4, 0, 1, 2, 3))  # opened again: the choice is ticked
    assert [t.isChecked() for t in dialog.extras] == [False, False, True, True, False]
    _choose(dialog, 5, None, None)  # fewer than three shown: nothing more to take
    assert dialog.choice() == (4,) and not any(t.isEnabled() for t in dialog.extras)
    dialog.set_picture(3, ())  # a picture of three: every channel can be shown
    assert dialog.extras == [] and dialog._extras_label.isHidden()


def test_the_model_panel_says_when_the_active_version_takes_other_channels(qtbot):
    from annotator.core.card import ModelCard
    from annotator.core.records import ModelRecord
    from annotator.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    schema = LabelSchema.from_names(["bg", "marker"])
    card = ModelCard(version=1, architecture={"depth": 2, "width": 4}, classes=("bg", "marker"))
    old = ModelRecord(1, None, "2026-01-01T00:00:00", "models/v1/model.pt", card)
    panel.set_models([old], old, schema)
    assert panel.device_label.text().endswith("M parameters")  # as before
    panel.set_models([old], old, schema, channel_choice=(4,))
    assert panel.device_label.text().endswith(
        "; takes the first three channels, the project shows channel 5: train from scratch "
        "to use them"
    )


def test_grabcut_sees_the_channels_shown(window, qtbot):
    """The marker is only in channel 5: with it chosen, a GrabCut box finds it (on the
    first three, noise, it did not)."""
    from guihelpers import drag
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window.channels_dialog.set_picture(5, ())
    _choose(window.channels_dialog, 5, None, None)
    window.channels_dialog.apply_button.click()
    QTest.keyClick(window.canvas, Qt.Key.Key_G)
    QTest.keyClick(window.canvas, Qt.Key.Key_2)
    drag(window.canvas, [(2, 2), (16, 16), (30, 30)])
    assert window.canvas.smart.wait_idle(30)
    labels = window.document.label_map.array
    qtbot.waitUntil(lambda: (labels == 1).any(), timeout=5000)
    square = np.zeros(labels.shape, bool)
    square[8:24, 8:24] = True
    found = labels == 1
    assert (found & square).sum() / (found | square).sum() > 0.9
